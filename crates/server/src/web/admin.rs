//! Administration pages: the users of an organisation the viewer administers, their API tokens
//! (a new one shown once), the organisation's webhooks with their deliveries, and the audit
//! log. The rules are those of `crate::admin`, shared with the API and the command line.

use armstrace_core::{OrgKind, Permission, Permissions};
use armstrace_store::TokenRef;
use armstrace_store::audit::{AuditFilter, AuditWho};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use minijinja::{Value, context};
use serde::Deserialize;

use super::{Catalogue, CsrfOnly, Viewer, WebError, encode, render, see_other};
use crate::admin::{self, administered_org};
use crate::{ApiError, AppState};

type PageResult = Result<Response, WebError>;

#[derive(Deserialize, Default)]
pub struct OrgQuery {
    org: Option<i64>,
    done: Option<String>,
}

/// The organisations the viewer administers, for a selector, with `chosen` marked.
async fn administered(
    state: &AppState,
    viewer: &Viewer,
    chosen: i64,
) -> Result<Vec<Value>, WebError> {
    Ok(state
        .store
        .organisations()
        .await
        .map_err(|e| viewer.error(e))?
        .into_iter()
        .filter(|o| viewer.actor.may_administer(&o.as_ref()))
        .map(|o| context! { id => o.id, name => o.name, selected => o.id == chosen })
        .collect())
}

fn permission_boxes(
    catalogue: &Catalogue,
    held: Permissions,
    grantable: Permissions,
) -> Vec<Value> {
    Permission::ALL
        .into_iter()
        .filter(|p| grantable.has(*p))
        .map(|p| context! { key => p.as_str(), label => catalogue.t(&format!("perm_{}", p.as_str())), held => held.has(p) })
        .collect()
}

fn permissions_from(form: &[(String, String)]) -> Permissions {
    form.iter()
        .filter(|(name, _)| name == "permission")
        .filter_map(|(_, value)| Permission::ALL.into_iter().find(|p| p.as_str() == value))
        .collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

pub async fn users(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<OrgQuery>,
) -> PageResult {
    viewer.require(Permission::Admin)?;
    let catalogue = viewer.catalogue;
    let org_id = query.org.unwrap_or(viewer.actor.org_id);
    let org = administered_org(state.store.as_ref(), &viewer.actor, org_id)
        .await
        .map_err(|e| viewer.error(e))?;
    let grantable = org.kind.grantable();
    let users: Vec<Value> = state
        .store
        .users(org_id)
        .await
        .map_err(|e| viewer.error(e))?
        .into_iter()
        .map(|u| {
            context! {
                username => u.username,
                disabled => u.disabled,
                permissions => permission_boxes(catalogue, u.permissions, grantable),
            }
        })
        .collect();
    let notice = query
        .done
        .map(|user| catalogue.f("users_saved", &[("user", &user)]));
    Ok(render(
        &viewer,
        "admin_users.html",
        context! {
            org_id => org_id,
            org_name => org.name,
            orgs => administered(&state, &viewer, org_id).await?,
            users => users,
            new_permissions => permission_boxes(catalogue, Permissions::default(), grantable),
            notice => notice,
        },
    ))
}

pub async fn create_user(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    viewer.require(Permission::Admin)?;
    viewer.check_form(field(&form, "csrf_token"))?;
    let org_id: i64 = field(&form, "org").parse().unwrap_or(viewer.actor.org_id);
    let username = field(&form, "username").trim().to_string();
    let password = Some(field(&form, "password")).filter(|p| !p.is_empty());
    admin::create_user(
        state.store.as_ref(),
        &viewer.actor,
        org_id,
        &username,
        permissions_from(&form),
        password,
    )
    .await
    .map_err(|e| viewer.error(e))?;
    Ok(see_other(&format!(
        "/admin/users?org={org_id}&done={}",
        encode(&username)
    )))
}

pub async fn update_user(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(username): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    viewer.require(Permission::Admin)?;
    viewer.check_form(field(&form, "csrf_token"))?;
    let disabled = match field(&form, "state") {
        "disable" => Some(true),
        "enable" => Some(false),
        _ => None,
    };
    let permissions = disabled.is_none().then(|| permissions_from(&form));
    let user = admin::update_user(
        state.store.as_ref(),
        &viewer.actor,
        &username,
        permissions,
        None,
        disabled,
    )
    .await
    .map_err(|e| viewer.error(e))?;
    Ok(see_other(&format!(
        "/admin/users?org={}&done={}",
        user.org_id,
        encode(&user.username)
    )))
}

async fn tokens_page(
    state: &AppState,
    viewer: &Viewer,
    username: &str,
    secret: Option<String>,
) -> PageResult {
    let catalogue = viewer.catalogue;
    let (user, _) = admin::administered_user(state.store.as_ref(), &viewer.actor, username)
        .await
        .map_err(|e| viewer.error(e))?;
    let tokens: Vec<Value> = state
        .store
        .tokens(user.id)
        .await
        .map_err(|e| viewer.error(e))?
        .into_iter()
        .map(|t| {
            context! {
                id => t.id,
                permissions => t.permissions.to_string(),
                created_at => t.created_at.format("%Y-%m-%d").to_string(),
                expires_at => t.expires_at.map(|e| e.format("%Y-%m-%d").to_string()),
                revoked => t.revoked_at.is_some(),
            }
        })
        .collect();
    Ok(render(
        viewer,
        "admin_tokens.html",
        context! {
            username => user.username,
            org_id => user.org_id,
            tokens => tokens,
            secret => secret,
            permissions => permission_boxes(catalogue, user.permissions, user.permissions),
        },
    ))
}

pub async fn tokens(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(username): Path<String>,
) -> PageResult {
    viewer.require(Permission::Admin)?;
    tokens_page(&state, &viewer, &username, None).await
}

pub async fn create_token(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(username): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    viewer.require(Permission::Admin)?;
    viewer.check_form(field(&form, "csrf_token"))?;
    let days = admin::parse_days(field(&form, "days"))
        .map_err(|e| viewer.error(ApiError::invalid("days", "invalid_days", e)))?;
    let permissions = Some(permissions_from(&form)).filter(|p| !p.is_empty());
    let created = admin::create_token(
        state.store.as_ref(),
        &viewer.actor,
        &username,
        permissions,
        days,
    )
    .await
    .map_err(|e| viewer.error(e))?;
    // The secret is shown on this answer only; it is stored as a hash.
    tokens_page(&state, &viewer, &username, Some(created.secret)).await
}

pub async fn revoke_token(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<CsrfOnly>,
) -> PageResult {
    viewer.check_form(&form.csrf_token)?;
    let token = admin::revoke_token(state.store.as_ref(), &viewer.actor, &TokenRef::Id(id))
        .await
        .map_err(|e| viewer.error(e))?;
    Ok(see_other(&format!(
        "/admin/users/{}/tokens",
        encode(&token.username)
    )))
}

pub async fn webhooks(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<OrgQuery>,
) -> PageResult {
    viewer.require(Permission::Admin)?;
    let catalogue = viewer.catalogue;
    let org_id = query.org.unwrap_or(viewer.actor.org_id);
    let org = administered_org(state.store.as_ref(), &viewer.actor, org_id)
        .await
        .map_err(|e| viewer.error(e))?;
    let hooks = state
        .store
        .webhooks(org_id)
        .await
        .map_err(|e| viewer.error(e))?;
    let notice = match query.done.as_deref() {
        Some("registered") => Some(catalogue.t("webhooks_registered")),
        Some("removed") => Some(catalogue.t("webhooks_removed")),
        Some("duty") => Some(catalogue.t("duty_saved")),
        _ => None,
    };
    let duty_email = state
        .store
        .duty_email(org_id)
        .await
        .map_err(|e| viewer.error(e))?;
    Ok(render(
        &viewer,
        "admin_webhooks.html",
        context! {
            org_id => org_id,
            org_name => org.name,
            orgs => administered(&state, &viewer, org_id).await?,
            hooks => hooks,
            notice => notice,
            duty_email => duty_email,
        },
    ))
}

pub async fn set_duty_email(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    viewer.require(Permission::Admin)?;
    viewer.check_form(field(&form, "csrf_token"))?;
    let org_id: i64 = field(&form, "org").parse().unwrap_or(viewer.actor.org_id);
    administered_org(state.store.as_ref(), &viewer.actor, org_id)
        .await
        .map_err(|e| viewer.error(e))?;
    let address = crate::api::hits::parse_duty_email(Some(field(&form, "address")))
        .map_err(|e| viewer.error(e))?;
    state
        .store
        .set_duty_email(&AuditWho::from(&viewer.actor), org_id, address.as_deref())
        .await
        .map_err(|e| viewer.error(e))?;
    Ok(see_other(&format!(
        "/admin/webhooks?org={org_id}&done=duty"
    )))
}

pub async fn create_webhook(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    viewer.require(Permission::Admin)?;
    viewer.check_form(field(&form, "csrf_token"))?;
    let org_id: i64 = field(&form, "org").parse().unwrap_or(viewer.actor.org_id);
    administered_org(state.store.as_ref(), &viewer.actor, org_id)
        .await
        .map_err(|e| viewer.error(e))?;
    let url = field(&form, "url").trim();
    let secret = field(&form, "secret");
    crate::api::hits::check_webhook(url, secret, state.allow_loopback_webhooks)
        .map_err(|e| viewer.error(e))?;
    state
        .store
        .create_webhook(&AuditWho::from(&viewer.actor), org_id, url, secret)
        .await
        .map_err(|e| viewer.error(e))?;
    Ok(see_other(&format!(
        "/admin/webhooks?org={org_id}&done=registered"
    )))
}

pub async fn delete_webhook(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<CsrfOnly>,
) -> PageResult {
    viewer.require(Permission::Admin)?;
    viewer.check_form(&form.csrf_token)?;
    let hook = crate::api::hits::administered_webhook(&state, &viewer.actor, id)
        .await
        .map_err(|e| viewer.error(e))?;
    state
        .store
        .delete_webhook(&AuditWho::from(&viewer.actor), id)
        .await
        .map_err(|e| viewer.error(e))?;
    Ok(see_other(&format!(
        "/admin/webhooks?org={}&done=removed",
        hook.org_id
    )))
}

pub async fn deliveries(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> PageResult {
    viewer.require(Permission::Admin)?;
    let hook = crate::api::hits::administered_webhook(&state, &viewer.actor, id)
        .await
        .map_err(|e| viewer.error(e))?;
    let log = state
        .store
        .deliveries(id, 200)
        .await
        .map_err(|e| viewer.error(e))?;
    let rows: Vec<Value> = log
        .iter()
        .map(|d| {
            context! {
                notification => d.notification_id,
                state => d.state,
                attempts => d.attempts,
                last_error => d.last_error,
                created_at => d.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            }
        })
        .collect();
    Ok(render(
        &viewer,
        "admin_deliveries.html",
        context! { url => hook.url, org_id => hook.org_id, rows => rows },
    ))
}

#[derive(Deserialize, Default, serde::Serialize)]
pub struct AuditQuery {
    #[serde(default)]
    username: String,
    #[serde(default)]
    action: String,
    after: Option<i64>,
}

pub async fn audit(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<AuditQuery>,
) -> PageResult {
    viewer.require(Permission::Admin)?;
    if !viewer.actor.may_read_audit(viewer.actor.country) {
        return Err(viewer.error(ApiError::out_of_scope("")));
    }
    let country = match viewer.actor.org_kind {
        OrgKind::Secretariat => None,
        _ => viewer.actor.country,
    };
    let filter = AuditFilter {
        username: Some(query.username.trim().to_string()).filter(|u| !u.is_empty()),
        org_id: None,
        country,
        action: Some(query.action.trim().to_string()).filter(|a| !a.is_empty()),
        from: None,
        to: None,
    };
    const PAGE: u32 = 100;
    let entries = state
        .store
        .audit_entries(&filter, query.after, PAGE)
        .await
        .map_err(|e| viewer.error(e))?;
    let next = (entries.len() == PAGE as usize)
        .then(|| entries.last().map(|e| e.id))
        .flatten()
        .map(|after| {
            format!(
                "/admin/audit?username={}&action={}&after={after}",
                encode(&query.username),
                encode(&query.action)
            )
        });
    let rows: Vec<Value> = entries
        .iter()
        .map(|e| {
            context! {
                id => e.id,
                at => e.at,
                who => format!("{} ({})", e.username, e.organisation),
                action => e.action,
                target => e.target,
                detail => e.detail.chars().take(300).collect::<String>(),
            }
        })
        .collect();
    Ok(render(
        &viewer,
        "admin_audit.html",
        context! { rows => rows, query => query, next => next },
    ))
}
