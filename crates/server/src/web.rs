//! The web interface for officers, NCBs and the secretariat: server-rendered pages, usable
//! before any script runs, in the user's language, on the same rules as the API (the handlers
//! call the same functions, so what a page hides the server also refuses).

mod admin;
mod i18n;
mod pages;
mod records;
mod traces;
mod work;

use std::sync::LazyLock;

use armstrace_core::{Actor, OrgState};
use axum::Router;
use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use minijinja::{Environment, Value, context};
use serde::Serialize;

pub use i18n::{Catalogue, LANGUAGES};

use crate::auth::{SESSION_COOKIE, cookie, hash_token};
use crate::{ApiError, AppState};

/// Every page of the interface.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/sign-in", get(pages::sign_in_form).post(pages::sign_in))
        .route("/sign-out", post(pages::sign_out))
        .route("/check", get(pages::check_form).post(pages::check))
        .route("/hits", get(pages::hits))
        .route("/hits/{id}", get(pages::hit))
        .route("/hits/{id}/{action}", post(pages::hit_action))
        .route("/import", get(work::import_form).post(work::import_list))
        .route("/import/rejects/{key}", get(work::rejects))
        .route("/batch", get(work::batch_form).post(work::batch))
        .route("/organisations", get(work::organisations))
        .route(
            "/organisations/{id}/{action}",
            post(work::organisation_action),
        )
        .route("/records", get(records::list))
        .route("/records/new", get(records::new_form).post(records::create))
        .route("/records/{id}", get(records::show))
        .route(
            "/records/{id}/edit",
            get(records::edit_form).post(records::update),
        )
        .route(
            "/records/{id}/delete",
            get(records::delete_form).post(records::delete),
        )
        .route("/admin/users", get(admin::users).post(admin::create_user))
        .route("/admin/users/{username}", post(admin::update_user))
        .route(
            "/admin/users/{username}/tokens",
            get(admin::tokens).post(admin::create_token),
        )
        .route("/admin/tokens/{id}/revoke", post(admin::revoke_token))
        .route(
            "/admin/webhooks",
            get(admin::webhooks).post(admin::create_webhook),
        )
        .route("/admin/webhooks/{id}", get(admin::deliveries))
        .route("/admin/webhooks/{id}/delete", post(admin::delete_webhook))
        .route("/admin/audit", get(admin::audit))
        .route("/admin/duty-email", post(admin::set_duty_email))
        .route("/traces", get(traces::list))
        .route("/traces/new", get(traces::new_form).post(traces::create))
        .route("/traces/{id}", get(traces::show))
        .route(
            "/traces/{id}/edit",
            get(traces::edit_form).post(traces::edit),
        )
        .route("/traces/{id}/act/{action}", post(traces::act))
        .route(
            "/traces/{id}/attachments",
            // The handler reads no more than the deployment's own limit.
            post(traces::attach).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/notifications", get(pages::notifications))
        .route("/notifications/read", post(pages::mark_read))
        .route("/language/{code}", get(pages::language))
        .route("/static/app.css", get(pages::stylesheet))
        .route("/static/app.js", get(pages::script))
        .layer(axum::middleware::map_response(security_headers))
        // Lists and batches stream through; no size limit on what a page may upload.
        .layer(axum::extract::DefaultBodyLimit::disable())
}

/// Pages allow nothing from elsewhere: no script but ours, no framing.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    // `.html` templates escape every value they print.
    for (name, source) in [
        ("layout.html", include_str!("../templates/layout.html")),
        ("sign_in.html", include_str!("../templates/sign_in.html")),
        ("pending.html", include_str!("../templates/pending.html")),
        ("home.html", include_str!("../templates/home.html")),
        ("check.html", include_str!("../templates/check.html")),
        ("hits.html", include_str!("../templates/hits.html")),
        ("hit.html", include_str!("../templates/hit.html")),
        (
            "notifications.html",
            include_str!("../templates/notifications.html"),
        ),
        ("error.html", include_str!("../templates/error.html")),
        ("import.html", include_str!("../templates/import.html")),
        ("batch.html", include_str!("../templates/batch.html")),
        (
            "organisations.html",
            include_str!("../templates/organisations.html"),
        ),
        ("traces.html", include_str!("../templates/traces.html")),
        ("trace.html", include_str!("../templates/trace.html")),
        (
            "trace_form.html",
            include_str!("../templates/trace_form.html"),
        ),
        ("records.html", include_str!("../templates/records.html")),
        ("record.html", include_str!("../templates/record.html")),
        (
            "record_form.html",
            include_str!("../templates/record_form.html"),
        ),
        (
            "record_delete.html",
            include_str!("../templates/record_delete.html"),
        ),
        (
            "admin_nav.html",
            include_str!("../templates/admin_nav.html"),
        ),
        (
            "admin_users.html",
            include_str!("../templates/admin_users.html"),
        ),
        (
            "admin_tokens.html",
            include_str!("../templates/admin_tokens.html"),
        ),
        (
            "admin_webhooks.html",
            include_str!("../templates/admin_webhooks.html"),
        ),
        (
            "admin_deliveries.html",
            include_str!("../templates/admin_deliveries.html"),
        ),
        (
            "admin_audit.html",
            include_str!("../templates/admin_audit.html"),
        ),
    ] {
        env.add_template(name, source)
            .unwrap_or_else(|e| panic!("template {name}: {e}"));
    }
    env.add_function("t", |state: &minijinja::State, key: String| -> String {
        catalogue_of(state).t(&key).to_string()
    });
    env.add_function(
        "f",
        |state: &minijinja::State, key: String, args: minijinja::value::Kwargs| -> String {
            let values: Vec<(String, String)> = args
                .args()
                .map(|name| {
                    let value: Value = args.get(name).unwrap_or_default();
                    (name.to_string(), value.to_string())
                })
                .collect();
            let pairs: Vec<(&str, &str)> = values
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            catalogue_of(state).f(&key, &pairs)
        },
    );
    env
});

fn catalogue_of(state: &minijinja::State) -> &'static Catalogue {
    state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(i18n::by_code))
        .unwrap_or(&i18n::all()[0])
}

/// Who is looking at a page, in which language.
pub struct Viewer {
    /// The signed-in user.
    pub actor: Actor,
    /// The session's CSRF token, carried by every form.
    pub csrf: String,
    /// The language.
    pub catalogue: &'static Catalogue,
}

/// A page that needs no sign-in knows only its language.
pub struct Language(pub &'static Catalogue);

impl<S: Send + Sync> FromRequestParts<S> for Language {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Language(i18n::for_request(&parts.headers)))
    }
}

/// Why a page cannot be shown as asked.
pub enum WebError {
    /// Not signed in: to the sign-in page, and back afterwards.
    SignIn(String),
    /// Signed in for an organisation still waiting for approval.
    Pending(Box<Viewer>),
    /// An error shown as a page.
    Page {
        status: StatusCode,
        catalogue: &'static Catalogue,
        message: String,
    },
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::SignIn(next) => {
                let target = format!("/sign-in?next={}", encode(&next));
                Redirect::to(&target).into_response()
            }
            WebError::Pending(viewer) => {
                let approver = if viewer.actor.org_kind == armstrace_core::OrgKind::Partner {
                    "approver_secretariat"
                } else {
                    "approver_ncb"
                };
                render(
                    &viewer,
                    "pending.html",
                    context! { approver => viewer.catalogue.t(approver) },
                )
                .into_response()
            }
            WebError::Page {
                status,
                catalogue,
                message,
            } => {
                let page = TEMPLATES
                    .get_template("error.html")
                    .and_then(|t| {
                        t.render(context! {
                            lang => catalogue.code,
                            dir => if catalogue.rtl { "rtl" } else { "ltr" },
                            message => message,
                        })
                    })
                    .unwrap_or_else(|e| format!("error page: {e}"));
                (status, Html(page)).into_response()
            }
        }
    }
}

impl WebError {
    /// The page for an error the shared rules raised, in words an officer understands.
    pub fn from_api(error: ApiError, catalogue: &'static Catalogue) -> Self {
        let (status, message) = match &error {
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, catalogue.t("error_not_found").into()),
            ApiError::Forbidden { .. } | ApiError::Refused { .. } => {
                (StatusCode::FORBIDDEN, catalogue.t("error_forbidden").into())
            }
            ApiError::Conflict { message, .. } => (
                StatusCode::CONFLICT,
                catalogue.f("error_conflict", &[("detail", message)]),
            ),
            ApiError::Unauthorized | ApiError::BadCredentials => {
                return WebError::SignIn("/".into());
            }
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "a page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    catalogue.t("error_internal").into(),
                )
            }
            other => (StatusCode::UNPROCESSABLE_ENTITY, other.to_string()),
        };
        WebError::Page {
            status,
            catalogue,
            message,
        }
    }
}

/// Percent-encodes a path for a query parameter.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let catalogue = i18n::for_request(&parts.headers);
        let here = parts
            .extensions
            .get::<OriginalUri>()
            .map(|uri| uri.0.path().to_string())
            .unwrap_or_else(|| parts.uri.path().to_string());
        let Some(session) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(WebError::SignIn(here));
        };
        let found = state
            .store
            .actor_for_session(&hash_token(&session), chrono::Utc::now())
            .await
            .map_err(|e| WebError::from_api(e.into(), catalogue))?;
        let Some((actor, csrf)) = found else {
            return Err(WebError::SignIn(here));
        };
        let viewer = Viewer {
            actor,
            csrf,
            catalogue,
        };
        match viewer.actor.org_state {
            OrgState::Approved => Ok(viewer),
            OrgState::Pending => Err(WebError::Pending(Box::new(viewer))),
            OrgState::Suspended => Err(WebError::Page {
                status: StatusCode::FORBIDDEN,
                message: catalogue.f("signin_suspended", &[("org", &viewer.actor.org_name)]),
                catalogue,
            }),
        }
    }
}

impl Viewer {
    /// Refuses a form that does not carry the session's CSRF token.
    pub fn check_form(&self, sent: &str) -> Result<(), WebError> {
        if crate::auth::constant_time_eq(sent.as_bytes(), self.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(WebError::Page {
                status: StatusCode::FORBIDDEN,
                catalogue: self.catalogue,
                message: self.catalogue.t("form_expired").into(),
            })
        }
    }

    /// The page for an error of the shared rules.
    pub fn error(&self, error: impl Into<ApiError>) -> WebError {
        WebError::from_api(error.into(), self.catalogue)
    }

    /// Refuses a viewer without `permission` (the page would not offer it either).
    pub fn require(&self, permission: armstrace_core::Permission) -> Result<(), WebError> {
        if self.actor.permissions.has(permission) {
            Ok(())
        } else {
            Err(self.error(ApiError::forbidden(permission, "")))
        }
    }
}

/// A form that carries nothing but its CSRF token.
#[derive(serde::Deserialize)]
pub struct CsrfOnly {
    /// The session's token (missing is refused like wrong).
    #[serde(default)]
    pub csrf_token: String,
}

/// What every page's layout shows of the viewer.
#[derive(Serialize)]
struct Me<'a> {
    username: &'a str,
    organisation: &'a str,
    may_check: bool,
    may_record: bool,
    may_admin: bool,
    may_trace: bool,
}

/// Renders `template` for `viewer` with `page` (its own values).
pub fn render(viewer: &Viewer, template: &str, page: Value) -> Response {
    let me = Me {
        username: &viewer.actor.username,
        organisation: &viewer.actor.org_name,
        may_check: viewer
            .actor
            .permissions
            .has(armstrace_core::Permission::Check),
        may_record: viewer
            .actor
            .permissions
            .has(armstrace_core::Permission::Record),
        may_admin: viewer
            .actor
            .permissions
            .has(armstrace_core::Permission::Admin),
        may_trace: viewer
            .actor
            .permissions
            .has(armstrace_core::Permission::Trace),
    };
    render_with(
        viewer.catalogue,
        template,
        context! { me => me, csrf => viewer.csrf, ..page },
    )
}

/// Renders `template` in `catalogue`'s language, for anyone.
pub fn render_with(catalogue: &'static Catalogue, template: &str, page: Value) -> Response {
    let languages: Vec<Value> = i18n::all()
        .iter()
        .map(|c| context! { code => c.code, name => c.name })
        .collect();
    let result = TEMPLATES.get_template(template).and_then(|t| {
        t.render(context! {
            lang => catalogue.code,
            dir => if catalogue.rtl { "rtl" } else { "ltr" },
            languages => languages,
            ..page
        })
    });
    match result {
        Ok(html) => {
            let mut response = Html(html).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => {
            tracing::error!(%error, template, "rendering a page failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

/// A safe place to go back to: a path of ours, never another site.
pub fn local_path(next: Option<&str>) -> String {
    // A browser drops tabs and line breaks from a URL and reads `\` as `/`, so `/\t/evil`
    // would become `//evil`: only printable characters, and never a second `/` or `\` first.
    let ours = |path: &str| {
        path.starts_with('/')
            && !path[1..].starts_with(['/', '\\'])
            && path.chars().all(|c| c.is_ascii_graphic() && c != '\\')
    };
    match next {
        Some(path) if ours(path) => path.to_string(),
        _ => "/".to_string(),
    }
}

/// A redirect after a form (303: the browser follows with a GET).
pub fn see_other(path: &str) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::LOCATION,
        HeaderValue::from_str(path).unwrap_or(HeaderValue::from_static("/")),
    );
    (StatusCode::SEE_OTHER, headers).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_file_is_registered_and_compiles() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                TEMPLATES.get_template(&name).is_ok(),
                "templates/{name} is not registered in web.rs"
            );
            seen += 1;
        }
        assert!(seen >= 15);
    }

    #[test]
    fn markup_in_a_value_is_printed_as_text() {
        let page = TEMPLATES
            .get_template("error.html")
            .unwrap()
            .render(context! { lang => "en", dir => "ltr", message => "<script>alert(1)</script>" })
            .unwrap();
        assert!(page.contains("&lt;script&gt;"));
        assert!(!page.contains("<script>alert"));
    }

    /// The WCAG contrast ratio of two `#rrggbb` colours.
    fn contrast(a: &str, b: &str) -> f64 {
        let luminance = |hex: &str| {
            let channel = |i: usize| {
                let c = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0;
                if c <= 0.03928 {
                    c / 12.92
                } else {
                    ((c + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
        };
        let (x, y) = (luminance(a), luminance(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    #[test]
    fn text_colours_meet_wcag_aa_contrast() {
        let css = include_str!("../static/app.css");
        let var = |name: &str| -> String {
            let at = css
                .find(&format!("--{name}:"))
                .unwrap_or_else(|| panic!("--{name}"));
            css[at..].split(':').nth(1).unwrap().trim()[..7].to_string()
        };
        // Text on its background, as the stylesheet pairs them.
        let pairs = [
            (var("ink"), var("bg")),
            (var("ink"), var("panel")),
            (var("muted"), var("bg")),
            (var("muted"), var("panel")),
            (var("accent"), var("bg")),
            (var("accent-ink"), var("accent")),
            (var("exact"), var("bg")),
            (var("exact"), "#fdecec".to_string()),
            ("#ffffff".to_string(), var("exact")),
            ("#ffffff".to_string(), var("strong")),
            ("#ffffff".to_string(), var("possible")),
            (var("ok"), var("bg")),
            (var("ink"), "#ffe08a".to_string()),
            (var("ink"), "#fff6d6".to_string()),
        ];
        for (text, background) in pairs {
            let ratio = contrast(&text, &background);
            assert!(ratio >= 4.5, "{text} on {background}: {ratio:.2} < 4.5");
        }
    }

    #[test]
    fn only_our_own_paths_are_gone_back_to() {
        assert_eq!(local_path(Some("/hits/3")), "/hits/3");
        assert_eq!(local_path(Some("//evil.example/")), "/");
        assert_eq!(local_path(Some("https://evil.example/")), "/");
        assert_eq!(local_path(Some("/\t/evil.example/")), "/");
        assert_eq!(local_path(Some("/\\evil.example/")), "/");
        assert_eq!(local_path(Some("/ /evil.example/")), "/");
        assert_eq!(local_path(None), "/");
    }
}
