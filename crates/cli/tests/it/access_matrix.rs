//! Every route × every permission × every kind of organisation (and pending, suspended and
//! anonymous callers), against an explicit table of who may do what. A route in the OpenAPI
//! document without an entry here fails the test, and so does an entry for a route that is gone.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use armstrace_core::{CountryCode, FirearmInput, OrgKind, OrgState, Permission, Permissions};
use armstrace_server::auth::{hash_token, new_token};
use armstrace_store::Store;
use armstrace_store::audit::AuditWho;
use armstrace_store::hits::NewHit;
use reqwest::Method;
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::support::{HEADER, TestServer, record};

/// A caller of the matrix: its organisation's kind and state, and its one permission.
#[derive(Debug, Clone)]
struct Caller {
    kind: OrgKind,
    country: Option<&'static str>,
    permission: Option<Permission>,
    token: String,
}

impl Caller {
    fn has(&self, permission: Permission) -> bool {
        self.permission == Some(permission)
    }

    fn is(&self, kinds: &[OrgKind]) -> bool {
        kinds.contains(&self.kind)
    }

    /// Records of France (the fixtures' country) may be changed by the secretariat and by
    /// French organisations, with `record`.
    fn records_for_france(&self) -> bool {
        self.has(Permission::Record)
            && (self.kind == OrgKind::Secretariat || self.country == Some("FR"))
    }

    /// The fixtures' hit was made by the secretariat on a French record: the secretariat and
    /// the French NCB are its parties.
    fn party_to_hit_with(permission: Permission) -> fn(&Caller) -> bool {
        match permission {
            Permission::Check => {
                |c| c.has(Permission::Check) && c.is(&[OrgKind::Secretariat, OrgKind::Ncb])
            }
            _ => unreachable!("the matrix asks only for check"),
        }
    }

    /// The fixtures' trace request goes from a German agency to France: the secretariat and
    /// the French NCB see it.
    fn sees_trace(&self) -> bool {
        self.has(Permission::Trace) && self.is(&[OrgKind::Secretariat, OrgKind::Ncb])
    }

    /// The target organisation is a French police agency: the secretariat and the French NCB
    /// administer it; no other organisation does.
    fn administers_target(&self) -> bool {
        self.has(Permission::Admin) && self.is(&[OrgKind::Secretariat, OrgKind::Ncb])
    }
}

/// What the fixtures provide to requests.
struct Fixtures {
    /// A live French record.
    record: i64,
    /// French records, one per DELETE.
    deletable: Vec<i64>,
    /// Tokens of the target user, one per DELETE.
    tokens: Vec<i64>,
    /// A hit the secretariat made on a French record: its parties are the secretariat and
    /// the French NCB.
    hit: i64,
    /// A webhook of the target organisation, and more of them, one per DELETE.
    webhook: i64,
    webhooks: Vec<i64>,
    next_webhook: AtomicUsize,
    target_org: i64,
    /// A trace request sent to France by a German agency: the secretariat and the French NCB
    /// see it; the French NCB answers it.
    trace: i64,
    /// Its attachment.
    attachment: i64,
    /// A draft of the French NCB caller's own.
    draft: i64,
    pending_org: i64,
    suspend_org: i64,
    next: AtomicUsize,
    next_record: AtomicUsize,
    next_token: AtomicUsize,
}

impl Fixtures {
    fn next(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    fn deletable(&self) -> i64 {
        self.deletable[self.next_record.fetch_add(1, Ordering::Relaxed)]
    }

    fn token(&self) -> i64 {
        self.tokens[self.next_token.fetch_add(1, Ordering::Relaxed)]
    }

    fn webhook_to_delete(&self) -> i64 {
        self.webhooks[self.next_webhook.fetch_add(1, Ordering::Relaxed)]
    }
}

enum Body {
    None,
    Json(Value),
    Csv(String),
}

/// One route of the API: how to call it, and who may.
struct Route {
    method: Method,
    path: &'static str,
    /// The permission whose absence the 403 names, when the route has one.
    needs: Option<Permission>,
    /// Approved callers allowed.
    allowed: fn(&Caller) -> bool,
    /// Pending organisations may use it.
    pending_ok: bool,
    /// An allowed caller is answered 401: the route checks a password the matrix's callers
    /// do not have.
    password_checked: bool,
    request: fn(&Fixtures) -> (String, Body),
}

fn routes() -> Vec<Route> {
    use Permission::*;
    let any = |_: &Caller| true;
    vec![
        Route {
            method: Method::GET,
            path: "/openapi.json",
            needs: None,
            allowed: any,
            pending_ok: false,
            password_checked: false,
            request: |_| ("/openapi.json".into(), Body::None),
        },
        Route {
            method: Method::POST,
            path: "/firearms",
            needs: Some(Record),
            allowed: Caller::records_for_france,
            pending_ok: false,
            password_checked: false,
            request: |f| {
                let id = format!("FR-NEW-{}", f.next());
                ("/firearms".into(), Body::Json(record("FR", &id, "MTX7731")))
            },
        },
        Route {
            method: Method::GET,
            path: "/firearms",
            needs: Some(Check),
            allowed: |c| c.has(Check),
            pending_ok: false,
            password_checked: false,
            request: |_| ("/firearms?limit=1".into(), Body::None),
        },
        Route {
            method: Method::POST,
            path: "/firearms/import",
            needs: Some(Record),
            allowed: |c| c.has(Record),
            pending_ok: false,
            password_checked: false,
            request: |f| {
                let row = format!(
                    "FR-IMP-{},IMP{:05},Glock,17,9x19mm,pistol,AT,FR,stolen,2023-05-17",
                    f.next(),
                    f.next()
                );
                (
                    "/firearms/import".into(),
                    Body::Csv(format!("{HEADER}\n{row}\n")),
                )
            },
        },
        Route {
            method: Method::GET,
            path: "/firearms/{id}",
            needs: Some(Check),
            allowed: |c| c.has(Check) || c.records_for_france(),
            pending_ok: false,
            password_checked: false,
            request: |f| (format!("/firearms/{}", f.record), Body::None),
        },
        Route {
            method: Method::PATCH,
            path: "/firearms/{id}",
            needs: Some(Record),
            allowed: Caller::records_for_france,
            pending_ok: false,
            password_checked: false,
            request: |f| {
                (
                    format!("/firearms/{}", f.record),
                    Body::Json(json!({ "notes": "seen by the access matrix" })),
                )
            },
        },
        Route {
            method: Method::DELETE,
            path: "/firearms/{id}",
            needs: Some(Record),
            allowed: Caller::records_for_france,
            pending_ok: false,
            password_checked: false,
            request: |f| (format!("/firearms/{}", f.deletable()), Body::None),
        },
        Route {
            method: Method::GET,
            path: "/firearms/{id}/history",
            needs: Some(Check),
            allowed: |c| c.has(Check) || c.records_for_france(),
            pending_ok: false,
            password_checked: false,
            request: |f| (format!("/firearms/{}/history", f.record), Body::None),
        },
        Route {
            method: Method::POST,
            path: "/checks",
            needs: Some(Check),
            allowed: |c| c.has(Check),
            pending_ok: false,
            password_checked: false,
            request: |_| {
                (
                    "/checks".into(),
                    Body::Json(json!({ "serial_number": "MTX7731" })),
                )
            },
        },
        Route {
            method: Method::POST,
            path: "/checks/batch",
            needs: Some(Check),
            allowed: |c| c.has(Check),
            pending_ok: false,
            password_checked: false,
            request: |_| {
                (
                    "/checks/batch".into(),
                    Body::Csv("serial_number\nMTX7731\n".into()),
                )
            },
        },
        Route {
            method: Method::GET,
            path: "/me",
            needs: None,
            allowed: any,
            pending_ok: true,
            password_checked: false,
            request: |_| ("/me".into(), Body::None),
        },
        Route {
            method: Method::DELETE,
            path: "/session",
            // With a token there is no session to end (400), but the caller is let through.
            needs: None,
            allowed: any,
            pending_ok: true,
            password_checked: false,
            request: |_| ("/session".into(), Body::None),
        },
        Route {
            method: Method::GET,
            path: "/organisations",
            needs: Some(Admin),
            allowed: |c| c.has(Admin),
            pending_ok: false,
            password_checked: false,
            request: |_| ("/organisations".into(), Body::None),
        },
        Route {
            method: Method::POST,
            path: "/organisations",
            needs: Some(Admin),
            allowed: Caller::administers_target,
            pending_ok: false,
            password_checked: false,
            request: |f| {
                let name = format!("Gendarmerie {}", f.next());
                (
                    "/organisations".into(),
                    Body::Json(json!({ "name": name, "kind": "police", "country": "FR" })),
                )
            },
        },
        Route {
            method: Method::GET,
            path: "/organisations/{id}",
            needs: Some(Admin),
            allowed: Caller::administers_target,
            pending_ok: false,
            password_checked: false,
            request: |f| (format!("/organisations/{}", f.target_org), Body::None),
        },
        Route {
            method: Method::POST,
            path: "/organisations/{id}/approve",
            needs: Some(Admin),
            allowed: Caller::administers_target,
            pending_ok: false,
            password_checked: false,
            request: |f| {
                (
                    format!("/organisations/{}/approve", f.pending_org),
                    Body::None,
                )
            },
        },
        Route {
            method: Method::POST,
            path: "/organisations/{id}/suspend",
            needs: Some(Admin),
            allowed: Caller::administers_target,
            pending_ok: false,
            password_checked: false,
            request: |f| {
                (
                    format!("/organisations/{}/suspend", f.suspend_org),
                    Body::None,
                )
            },
        },
        Route {
            method: Method::GET,
            path: "/organisations/{id}/users",
            needs: Some(Admin),
            allowed: Caller::administers_target,
            pending_ok: false,
            password_checked: false,
            request: |f| (format!("/organisations/{}/users", f.target_org), Body::None),
        },
        Route {
            method: Method::POST,
            path: "/users",
            needs: Some(Admin),
            allowed: Caller::administers_target,
            pending_ok: false,
            password_checked: false,
            request: |f| {
                let body = json!({
                    "organisation_id": f.target_org,
                    "username": format!("matrix-user-{}", f.next()),
                    "permissions": ["check"],
                });
                ("/users".into(), Body::Json(body))
            },
        },
        Route {
            method: Method::PATCH,
            path: "/users/{username}",
            needs: Some(Admin),
            allowed: Caller::administers_target,
            pending_ok: false,
            password_checked: false,
            request: |_| {
                (
                    "/users/target-user".into(),
                    Body::Json(json!({ "permissions": ["check"] })),
                )
            },
        },
        Route {
            method: Method::PUT,
            path: "/me/password",
            needs: None,
            allowed: any,
            pending_ok: false,
            password_checked: true,
            request: |_| {
                (
                    "/me/password".into(),
                    Body::Json(json!({
                        "current_password": "not the password",
                        "new_password": "a new long password"
                    })),
                )
            },
        },
        Route {
            method: Method::GET,
            path: "/users/{username}/tokens",
            needs: Some(Admin),
            allowed: Caller::administers_target,
            pending_ok: false,
            password_checked: false,
            request: |_| ("/users/target-user/tokens".into(), Body::None),
        },
        Route {
            method: Method::POST,
            path: "/tokens",
            needs: Some(Admin),
            allowed: Caller::administers_target,
            pending_ok: false,
            password_checked: false,
            request: |_| {
                (
                    "/tokens".into(),
                    Body::Json(json!({ "username": "target-user", "expires_in_days": 1 })),
                )
            },
        },
        Route {
            method: Method::DELETE,
            path: "/tokens/{id}",
            needs: Some(Admin),
            allowed: Caller::administers_target,
            pending_ok: false,
            password_checked: false,
            request: |f| (format!("/tokens/{}", f.token()), Body::None),
        },
        Route {
            method: Method::GET,
            path: "/reference/resolve",
            needs: None,
            allowed: any,
            pending_ok: false,
            password_checked: false,
            request: |_| {
                (
                    "/reference/resolve?make=Glok&calibre=9mm%20Para".into(),
                    Body::None,
                )
            },
        },
        Route {
            method: Method::GET,
            path: "/reference/makes",
            needs: None,
            allowed: any,
            pending_ok: false,
            password_checked: false,
            request: |_| ("/reference/makes?q=gl".into(), Body::None),
        },
        Route {
            method: Method::GET,
            path: "/reference/calibres",
            needs: None,
            allowed: any,
            pending_ok: false,
            password_checked: false,
            request: |_| ("/reference/calibres?q=9x".into(), Body::None),
        },
        Route {
            method: Method::GET,
            path: "/reference/models",
            needs: None,
            allowed: any,
            pending_ok: false,
            password_checked: false,
            request: |_| ("/reference/models?make=Glock&q=1".into(), Body::None),
        },
        Route {
            method: Method::GET,
            path: "/reference/trace-destinations",
            needs: None,
            allowed: any,
            pending_ok: false,
            password_checked: false,
            request: |_| {
                (
                    "/reference/trace-destinations?make=Zastava&import_marks=Century%20Arms".into(),
                    Body::None,
                )
            },
        },
        Route {
            method: Method::GET,
            path: "/hits",
            needs: Some(Check),
            allowed: |c| c.has(Check),
            pending_ok: false,
            password_checked: false,
            request: |_| ("/hits".into(), Body::None),
        },
        Route {
            method: Method::GET,
            path: "/hits/{id}",
            needs: Some(Check),
            allowed: Caller::party_to_hit_with(Check),
            pending_ok: false,
            password_checked: false,
            request: |f| (format!("/hits/{}", f.hit), Body::None),
        },
        Route {
            method: Method::POST,
            path: "/traces",
            needs: Some(Trace),
            // The secretariat coordinates; a partner is told to name its country (422).
            allowed: |c| c.has(Trace) && !c.is(&[OrgKind::Secretariat]),
            pending_ok: false,
            password_checked: false,
            request: |_| {
                (
                    "/traces".into(),
                    Body::Json(json!({ "firearm": { "serial_numbers": ["MTX7731"] } })),
                )
            },
        },
        Route {
            method: Method::GET,
            path: "/traces",
            needs: Some(Trace),
            allowed: |c| c.has(Trace),
            pending_ok: false,
            password_checked: false,
            request: |_| ("/traces".into(), Body::None),
        },
        Route {
            method: Method::GET,
            path: "/traces/export",
            needs: Some(Trace),
            allowed: |c| c.has(Trace),
            pending_ok: false,
            password_checked: false,
            request: |_| ("/traces/export?format=csv".into(), Body::None),
        },
        Route {
            method: Method::GET,
            path: "/traces/{id}",
            needs: Some(Trace),
            allowed: Caller::sees_trace,
            pending_ok: false,
            password_checked: false,
            request: |f| (format!("/traces/{}", f.trace), Body::None),
        },
        Route {
            method: Method::PATCH,
            path: "/traces/{id}",
            needs: Some(Trace),
            allowed: |c| c.has(Trace) && c.is(&[OrgKind::Ncb]),
            pending_ok: false,
            password_checked: false,
            request: |f| {
                (
                    format!("/traces/{}", f.draft),
                    Body::Json(json!({ "intended_use": "Investigation" })),
                )
            },
        },
        Route {
            method: Method::POST,
            path: "/traces/{id}/send",
            needs: Some(Trace),
            allowed: |c| c.has(Trace) && c.is(&[OrgKind::Ncb]),
            pending_ok: false,
            password_checked: false,
            request: |f| (format!("/traces/{}/send", f.draft), Body::None),
        },
        Route {
            method: Method::POST,
            path: "/traces/{id}/acknowledge",
            needs: Some(Trace),
            allowed: |c| c.has(Trace) && c.is(&[OrgKind::Ncb]),
            pending_ok: false,
            password_checked: false,
            request: |f| (format!("/traces/{}/acknowledge", f.trace), Body::None),
        },
        Route {
            method: Method::POST,
            path: "/traces/{id}/request-information",
            needs: Some(Trace),
            allowed: |c| c.has(Trace) && c.is(&[OrgKind::Ncb]),
            pending_ok: false,
            password_checked: false,
            request: |f| {
                (
                    format!("/traces/{}/request-information", f.trace),
                    Body::Json(json!({ "text": "The import marks, please" })),
                )
            },
        },
        Route {
            method: Method::POST,
            path: "/traces/{id}/answer",
            needs: Some(Trace),
            allowed: |c| c.has(Trace) && c.is(&[OrgKind::Ncb]),
            pending_ok: false,
            password_checked: false,
            request: |f| {
                (
                    format!("/traces/{}/answer", f.trace),
                    Body::Json(json!({ "result": "not_found" })),
                )
            },
        },
        Route {
            method: Method::POST,
            path: "/traces/{id}/forward",
            needs: Some(Trace),
            allowed: |c| c.has(Trace) && c.is(&[OrgKind::Ncb]),
            pending_ok: false,
            password_checked: false,
            request: |f| {
                (
                    format!("/traces/{}/forward", f.trace),
                    Body::Json(json!({ "to_country": "IT" })),
                )
            },
        },
        Route {
            method: Method::POST,
            path: "/traces/{id}/close",
            needs: Some(Trace),
            allowed: |c| c.has(Trace) && c.is(&[OrgKind::Ncb]),
            pending_ok: false,
            password_checked: false,
            request: |f| (format!("/traces/{}/close", f.draft), Body::None),
        },
        Route {
            method: Method::POST,
            path: "/traces/{id}/messages",
            needs: Some(Trace),
            allowed: |c| c.has(Trace) && c.is(&[OrgKind::Ncb]),
            pending_ok: false,
            password_checked: false,
            request: |f| {
                (
                    format!("/traces/{}/messages", f.trace),
                    Body::Json(json!({ "text": "seen by the access matrix" })),
                )
            },
        },
        Route {
            method: Method::POST,
            path: "/traces/{id}/attachments",
            needs: Some(Trace),
            // Allowed through to the content check (a CSV body is not a photograph: 415).
            allowed: |c| c.has(Trace) && c.is(&[OrgKind::Ncb]),
            pending_ok: false,
            password_checked: false,
            request: |f| {
                (
                    format!("/traces/{}/attachments?name=x.csv", f.trace),
                    Body::Csv("a,b\n".into()),
                )
            },
        },
        Route {
            method: Method::GET,
            path: "/traces/{id}/attachments/{attachment}",
            needs: Some(Trace),
            allowed: Caller::sees_trace,
            pending_ok: false,
            password_checked: false,
            request: |f| {
                (
                    format!("/traces/{}/attachments/{}", f.trace, f.attachment),
                    Body::None,
                )
            },
        },
        Route {
            method: Method::GET,
            path: "/traces/{id}/pdf",
            needs: Some(Trace),
            allowed: Caller::sees_trace,
            pending_ok: false,
            password_checked: false,
            request: |f| (format!("/traces/{}/pdf", f.trace), Body::None),
        },
        Route {
            method: Method::POST,
            path: "/hits/{id}/confirm",
            needs: Some(Record),
            allowed: |c| c.has(Record) && c.is(&[OrgKind::Ncb]),
            pending_ok: false,
            password_checked: false,
            request: |f| (format!("/hits/{}/confirm", f.hit), Body::Json(json!({}))),
        },
        Route {
            method: Method::POST,
            path: "/hits/{id}/reject",
            needs: Some(Record),
            allowed: |c| c.has(Record) && c.is(&[OrgKind::Ncb]),
            pending_ok: false,
            password_checked: false,
            request: |f| (format!("/hits/{}/reject", f.hit), Body::Json(json!({}))),
        },
        Route {
            method: Method::POST,
            path: "/hits/{id}/messages",
            needs: Some(Check),
            allowed: Caller::party_to_hit_with(Check),
            pending_ok: false,
            password_checked: false,
            request: |f| {
                (
                    format!("/hits/{}/messages", f.hit),
                    Body::Json(json!({ "text": "matrix" })),
                )
            },
        },
        Route {
            method: Method::POST,
            path: "/hits/{id}/close",
            needs: Some(Check),
            allowed: Caller::party_to_hit_with(Check),
            pending_ok: false,
            password_checked: false,
            request: |f| {
                (
                    format!("/hits/{}/close", f.hit),
                    Body::Json(json!({ "outcome": "no_action" })),
                )
            },
        },
        Route {
            method: Method::GET,
            path: "/notifications",
            needs: None,
            allowed: any,
            pending_ok: false,
            password_checked: false,
            request: |_| ("/notifications".into(), Body::None),
        },
        Route {
            method: Method::POST,
            path: "/notifications/read",
            needs: None,
            allowed: any,
            pending_ok: false,
            password_checked: false,
            request: |_| {
                (
                    "/notifications/read".into(),
                    Body::Json(json!({ "all": true })),
                )
            },
        },
        Route {
            method: Method::GET,
            path: "/notifications/stream",
            needs: None,
            allowed: any,
            pending_ok: false,
            password_checked: false,
            request: |_| ("/notifications/stream".into(), Body::None),
        },
        Route {
            method: Method::POST,
            path: "/webhooks",
            needs: Some(Admin),
            allowed: |c| c.has(Admin),
            pending_ok: false,
            password_checked: false,
            request: |_| {
                (
                    "/webhooks".into(),
                    Body::Json(json!({
                        "url": "http://127.0.0.1:9/hook",
                        "secret": "matrix-secret-0123456789",
                    })),
                )
            },
        },
        Route {
            method: Method::GET,
            path: "/webhooks",
            needs: Some(Admin),
            allowed: |c| c.has(Admin),
            pending_ok: false,
            password_checked: false,
            request: |_| ("/webhooks".into(), Body::None),
        },
        Route {
            method: Method::DELETE,
            path: "/webhooks/{id}",
            needs: Some(Admin),
            allowed: Caller::administers_target,
            pending_ok: false,
            password_checked: false,
            request: |f| (format!("/webhooks/{}", f.webhook_to_delete()), Body::None),
        },
        Route {
            method: Method::GET,
            path: "/webhooks/{id}/deliveries",
            needs: Some(Admin),
            allowed: Caller::administers_target,
            pending_ok: false,
            password_checked: false,
            request: |f| (format!("/webhooks/{}/deliveries", f.webhook), Body::None),
        },
        Route {
            method: Method::PUT,
            path: "/organisations/{id}/duty-email",
            needs: Some(Admin),
            allowed: Caller::administers_target,
            pending_ok: false,
            password_checked: false,
            request: |f| {
                (
                    format!("/organisations/{}/duty-email", f.target_org),
                    Body::Json(json!({ "address": "duty@example.org" })),
                )
            },
        },
        Route {
            method: Method::GET,
            path: "/reference/types",
            needs: None,
            allowed: any,
            pending_ok: false,
            password_checked: false,
            request: |_| ("/reference/types".into(), Body::None),
        },
        Route {
            method: Method::GET,
            path: "/reference/makes/{id}",
            needs: None,
            allowed: any,
            pending_ok: false,
            password_checked: false,
            request: |_| ("/reference/makes/glock".into(), Body::None),
        },
        Route {
            method: Method::PUT,
            path: "/reference/makes/{id}",
            needs: Some(Admin),
            allowed: |c| c.has(Admin) && c.is(&[OrgKind::Secretariat]),
            pending_ok: false,
            password_checked: false,
            request: |f| {
                let n = f.next();
                let body = json!({
                    "id": format!("matrix-make-{n}"),
                    "canonical": format!("Matrix Make {n}"),
                    "country": "FR",
                    "source": "access matrix",
                });
                (
                    format!("/reference/makes/matrix-make-{n}"),
                    Body::Json(body),
                )
            },
        },
        Route {
            method: Method::GET,
            path: "/reference/makes/{id}/history",
            needs: None,
            allowed: any,
            pending_ok: false,
            password_checked: false,
            request: |_| ("/reference/makes/glock/history".into(), Body::None),
        },
        Route {
            method: Method::GET,
            path: "/reference/calibres/{id}",
            needs: None,
            allowed: any,
            pending_ok: false,
            password_checked: false,
            request: |_| ("/reference/calibres/9x19mm".into(), Body::None),
        },
        Route {
            method: Method::PUT,
            path: "/reference/calibres/{id}",
            needs: Some(Admin),
            allowed: |c| c.has(Admin) && c.is(&[OrgKind::Secretariat]),
            pending_ok: false,
            password_checked: false,
            request: |f| {
                let n = f.next();
                let body = json!({
                    "id": format!("matrix-calibre-{n}"),
                    "canonical": format!("Matrix calibre {n}"),
                    "system": "metric",
                    "source": "access matrix",
                });
                (
                    format!("/reference/calibres/matrix-calibre-{n}"),
                    Body::Json(body),
                )
            },
        },
        Route {
            method: Method::GET,
            path: "/reference/calibres/{id}/history",
            needs: None,
            allowed: any,
            pending_ok: false,
            password_checked: false,
            request: |_| ("/reference/calibres/9x19mm/history".into(), Body::None),
        },
        Route {
            method: Method::GET,
            path: "/reference/models/{make}/{model}",
            needs: None,
            allowed: any,
            pending_ok: false,
            password_checked: false,
            request: |_| ("/reference/models/glock/17".into(), Body::None),
        },
        Route {
            method: Method::PUT,
            path: "/reference/models/{make}/{model}",
            needs: Some(Admin),
            allowed: |c| c.has(Admin) && c.is(&[OrgKind::Secretariat]),
            pending_ok: false,
            password_checked: false,
            request: |f| {
                let n = f.next();
                let body = json!({
                    "make": "glock",
                    "name": format!("Matrix {n}"),
                    "firearm_type": "pistol",
                    "calibres": ["9x19mm"],
                    "source": "access matrix",
                });
                (
                    format!("/reference/models/glock/Matrix-{n}"),
                    Body::Json(body),
                )
            },
        },
        Route {
            method: Method::GET,
            path: "/reference/models/{make}/{model}/history",
            needs: None,
            allowed: any,
            pending_ok: false,
            password_checked: false,
            request: |_| ("/reference/models/glock/17/history".into(), Body::None),
        },
        Route {
            method: Method::GET,
            path: "/audit",
            needs: Some(Admin),
            allowed: |c| c.has(Admin) && c.is(&[OrgKind::Secretariat, OrgKind::Ncb]),
            pending_ok: false,
            password_checked: false,
            request: |_| ("/audit?limit=5".into(), Body::None),
        },
    ]
}

/// Routes that need no credentials, and are left out of the matrix.
const PUBLIC: [(&str, &str); 1] = [("POST", "/session")];

#[test]
fn every_documented_route_has_an_entry_and_every_entry_a_route() {
    let documented: BTreeSet<(String, String)> = armstrace_server::api::ApiDoc::openapi()
        .paths
        .paths
        .iter()
        .flat_map(|(path, item)| {
            let methods = [
                ("GET", item.get.is_some()),
                ("POST", item.post.is_some()),
                ("PATCH", item.patch.is_some()),
                ("PUT", item.put.is_some()),
                ("DELETE", item.delete.is_some()),
            ];
            methods
                .into_iter()
                .filter(|(_, present)| *present)
                .map(|(method, _)| (method.to_string(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let tabled: BTreeSet<(String, String)> = routes()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .chain(PUBLIC.iter().map(|(m, p)| (m.to_string(), p.to_string())))
        .collect();
    let missing: Vec<_> = documented.difference(&tabled).collect();
    let stale: Vec<_> = tabled.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes without an entry in the access matrix: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "entries for routes that do not exist: {stale:?}"
    );
}

const KINDS: [(OrgKind, Option<&str>); 7] = [
    (OrgKind::Secretariat, None),
    (OrgKind::Ncb, Some("FR")),
    (OrgKind::Police, Some("FR")),
    (OrgKind::Customs, Some("FR")),
    (OrgKind::Border, Some("DE")),
    (OrgKind::Regulator, Some("FR")),
    (OrgKind::Partner, None),
];

async fn user_with_token(
    store: &dyn Store,
    org_id: i64,
    username: &str,
    permissions: Permissions,
) -> String {
    let by = AuditWho::installation();
    let user = store
        .create_user(&by, org_id, username, None, permissions)
        .await
        .unwrap();
    let token = new_token();
    store
        .create_token(&by, user.id, &hash_token(&token), permissions, None)
        .await
        .unwrap();
    token
}

async fn org(
    store: &dyn Store,
    name: &str,
    kind: OrgKind,
    country: Option<&str>,
    state: OrgState,
) -> i64 {
    let country = country.map(|c| CountryCode::parse(c).unwrap());
    store
        .create_organisation(&AuditWho::installation(), name, kind, country, state)
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn every_route_allows_exactly_whom_the_rules_allow() {
    let (installation, server) = TestServer::fresh();
    let store = armstrace_store::open(installation.db.to_str().unwrap(), false)
        .await
        .unwrap();
    let store = store.as_ref();
    let secretariat = store.organisations().await.unwrap()[0].id;

    // The callers: one per kind of organisation and single permission (or none).
    let mut callers = Vec::new();
    let permission_sets: Vec<Option<Permission>> = std::iter::once(None)
        .chain(Permission::ALL.into_iter().map(Some))
        .collect();
    for (kind, country) in KINDS {
        let org_id = if kind == OrgKind::Secretariat {
            secretariat
        } else {
            org(
                store,
                &format!("{kind} caller"),
                kind,
                country,
                OrgState::Approved,
            )
            .await
        };
        for permission in &permission_sets {
            let permissions: Permissions = permission.iter().copied().collect();
            let name = format!("{kind}-{}", permission.map_or("none", |p| p.as_str()));
            callers.push(Caller {
                kind,
                country,
                permission: *permission,
                token: user_with_token(store, org_id, &name, permissions).await,
            });
        }
    }
    let pending_caller = {
        let id = org(
            store,
            "pending caller",
            OrgKind::Police,
            Some("FR"),
            OrgState::Pending,
        )
        .await;
        user_with_token(store, id, "pending-all", Permissions::all()).await
    };
    let suspended_caller = {
        let id = org(
            store,
            "suspended caller",
            OrgKind::Customs,
            Some("FR"),
            OrgState::Suspended,
        )
        .await;
        user_with_token(store, id, "suspended-all", Permissions::all()).await
    };

    // The fixtures.
    let admin = store.actor_for_user("admin").await.unwrap().unwrap();
    let today = chrono::Utc::now().date_naive();
    let mut ids = Vec::new();
    // One to read and change, and one per DELETE (every caller, then pending, suspended and
    // anonymous ones).
    for i in 0..callers.len() + 4 {
        let input: FirearmInput =
            serde_json::from_value(record("FR", &format!("FR-FIX-{i}"), &format!("FIX{i:04}")))
                .unwrap();
        let fields = input.validate(today).unwrap();
        let firearm = store
            .create_firearm(&admin, &fields, armstrace_store::Channel::Api)
            .await
            .unwrap();
        ids.push(firearm.id);
    }
    let target_org = org(
        store,
        "target police",
        OrgKind::Police,
        Some("FR"),
        OrgState::Approved,
    )
    .await;
    user_with_token(
        store,
        target_org,
        "target-user",
        Permissions::parse("check").unwrap(),
    )
    .await;
    let target_user = store.user("target-user").await.unwrap().unwrap();
    let mut tokens = Vec::new();
    for _ in 0..callers.len() + 3 {
        let token = store
            .create_token(
                &AuditWho::installation(),
                target_user.id,
                &hash_token(&new_token()),
                target_user.permissions,
                None,
            )
            .await
            .unwrap();
        tokens.push(token.id);
    }
    let hit = {
        let made = store
            .record_check(
                Vec::new(),
                Vec::new(),
                vec![NewHit {
                    check_id: "matrix".into(),
                    firearm_id: ids[0],
                    confidence: "exact".into(),
                    score: 1.0,
                    match_kind: "exact".into(),
                    make_relation: "not_given".into(),
                    differences: json!([]),
                    serial_typed: "FIX0000".into(),
                    make_typed: None,
                    operation: None,
                    who: AuditWho::from(&admin),
                    on_behalf_of: None,
                }],
            )
            .await
            .unwrap();
        made.hits[0].2
    };
    let mut webhooks = Vec::new();
    for _ in 0..callers.len() + 4 {
        let hook = store
            .create_webhook(
                &AuditWho::installation(),
                target_org,
                "http://127.0.0.1:9/hook",
                "matrix-secret-0123456789",
            )
            .await
            .unwrap();
        webhooks.push(hook.id);
    }
    let (trace, attachment, draft) = trace_fixtures(store, &callers).await;
    let fixtures = Fixtures {
        trace,
        attachment,
        draft,
        record: ids[0],
        deletable: ids[1..].to_vec(),
        tokens,
        hit,
        webhook: webhooks[0],
        webhooks: webhooks[1..].to_vec(),
        next_webhook: AtomicUsize::new(0),
        target_org,
        pending_org: org(
            store,
            "to approve",
            OrgKind::Customs,
            Some("FR"),
            OrgState::Pending,
        )
        .await,
        suspend_org: org(
            store,
            "to suspend",
            OrgKind::Regulator,
            Some("FR"),
            OrgState::Approved,
        )
        .await,
        next: AtomicUsize::new(0),
        next_record: AtomicUsize::new(0),
        next_token: AtomicUsize::new(0),
    };

    let mut failures = Vec::new();
    for route in routes() {
        for caller in &callers {
            let (path, body) = (route.request)(&fixtures);
            let (status, problem) =
                call(&server, &route.method, &path, body, Some(&caller.token)).await;
            let allowed = (route.allowed)(caller);
            let ok = if allowed && route.password_checked {
                status == 401 && problem["code"] == "invalid_credentials"
            } else if allowed {
                status != 401 && status != 403 && status != 404
            } else {
                (status == 403 || status == 404)
                    && match route.needs {
                        // Without the route's permission the 403 names it.
                        Some(needed) if !caller.has(needed) && status == 403 => {
                            problem["missing_permission"] == needed.as_str()
                        }
                        _ => true,
                    }
            };
            if !ok {
                failures.push(format!(
                    "{} {} as {:?}/{:?}: expected {}, got {status} {problem}",
                    route.method,
                    route.path,
                    caller.kind,
                    caller.permission,
                    if allowed { "allowed" } else { "refused" }
                ));
            }
        }
        // Pending, suspended and anonymous callers.
        let (path, body) = (route.request)(&fixtures);
        let (status, problem) =
            call(&server, &route.method, &path, body, Some(&pending_caller)).await;
        if route.pending_ok {
            if status == 401 || status == 403 {
                failures.push(format!(
                    "{} {} refused a pending caller: {status}",
                    route.method, route.path
                ));
            }
        } else if status != 403 || problem["code"] != "org_pending" {
            failures.push(format!(
                "{} {} let a pending caller through: {status} {problem}",
                route.method, route.path
            ));
        }
        let (path, body) = (route.request)(&fixtures);
        let (status, problem) =
            call(&server, &route.method, &path, body, Some(&suspended_caller)).await;
        if status != 403 || problem["code"] != "org_suspended" {
            failures.push(format!(
                "{} {} let a suspended caller through: {status} {problem}",
                route.method, route.path
            ));
        }
        let (path, body) = (route.request)(&fixtures);
        let (status, _) = call(&server, &route.method, &path, body, None).await;
        if status != 401 {
            failures.push(format!(
                "{} {} without credentials: {status}",
                route.method, route.path
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A request from a German agency sent to France, with an attachment, and a draft of the
/// French NCB caller's organisation.
async fn trace_fixtures(store: &dyn Store, callers: &[Caller]) -> (i64, i64, i64) {
    use armstrace_core::trace::{DeadlinePolicy, Priority, TraceAction, TraceContent};
    use armstrace_store::traces::{NewAttachment, NewTrace, TraceChange};
    let now = chrono::Utc::now();
    let de = org(
        store,
        "German requester",
        OrgKind::Police,
        Some("DE"),
        OrgState::Approved,
    )
    .await;
    let mut content: TraceContent = serde_json::from_value(json!({
        "firearm": { "serial_numbers": ["MTX7731"], "make": "Glock" },
        "legal_basis": "Mutual assistance",
        "intended_use": "Investigation"
    }))
    .unwrap();
    content.priority = Some(Priority::Routine);
    let requester = AuditWho {
        user_id: None,
        username: "german-requester".into(),
        org_id: Some(de),
        organisation: "German requester".into(),
        country: Some(CountryCode::parse("DE").unwrap()),
    };
    let new = NewTrace {
        requester_country: CountryCode::parse("DE").unwrap(),
        to_country: Some(CountryCode::parse("FR").unwrap()),
        content: content.clone(),
    };
    let trace = store.create_trace(&requester, &new, now).await.unwrap();
    let send = TraceChange::Move {
        action: TraceAction::Send,
        text: None,
        deadlines: Some(DeadlinePolicy::default().deadlines(now, Priority::Routine)),
        answer: None,
        forward_to: None,
    };
    store
        .change_trace(&requester, trace.id, &send, now)
        .await
        .unwrap();
    let png = b"\x89PNG\r\n\x1a\nrest";
    let attachment = store
        .attach_to_trace(
            &requester,
            trace.id,
            &NewAttachment {
                name: "slide.png",
                content_type: "image/png",
                sha256: "0",
                data: png,
            },
            now,
        )
        .await
        .unwrap();
    let ncb = store
        .organisations()
        .await
        .unwrap()
        .into_iter()
        .find(|o| o.kind == OrgKind::Ncb && o.name.ends_with(" caller"))
        .unwrap();
    assert!(callers.iter().any(|c| c.kind == OrgKind::Ncb));
    let writer = AuditWho {
        user_id: None,
        username: "ncb-drafter".into(),
        org_id: Some(ncb.id),
        organisation: ncb.name.clone(),
        country: ncb.country,
    };
    let draft = NewTrace {
        requester_country: CountryCode::parse("FR").unwrap(),
        to_country: Some(CountryCode::parse("DE").unwrap()),
        content,
    };
    let draft = store.create_trace(&writer, &draft, now).await.unwrap();
    (trace.id, attachment.id, draft.id)
}

async fn call(
    server: &TestServer,
    method: &Method,
    path: &str,
    body: Body,
    token: Option<&str>,
) -> (u16, Value) {
    let mut request = server
        .client
        .request(method.clone(), server.url(&format!("/api/v1{path}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request = match body {
        Body::None => request,
        Body::Json(json) => request.json(&json),
        Body::Csv(text) => request.header("content-type", "text/csv").body(text),
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let stream = response
        .headers()
        .get("content-type")
        .is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream"));
    if stream {
        // A live stream never ends; that it opened is the answer.
        return (status, Value::Null);
    }
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}
