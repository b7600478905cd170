//! The JSON API under `/api/v1` and its OpenAPI document, generated from the handlers.

mod admin;
mod audit;
mod body;
pub(crate) mod checks;
mod firearms;
pub(crate) mod hits;
mod import;
mod reference;
pub(crate) mod session;
pub(crate) mod traces;

use armstrace_core::history::{ChangeKind, FieldChange, HistoryEntry};
use armstrace_core::{FieldError, Firearm, FirearmInput, FirearmType, Permission, RecordStatus};
use axum::Router;
use axum::routing::{get, post};
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

use crate::AppState;
use crate::auth::Authenticated;
use crate::error::Problem;

/// The OpenAPI description of the API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Armstrace API",
        description = "Records of lost, stolen, trafficked and smuggled firearms, checked and traced across borders. Every route but POST /session needs 'Authorization: Bearer <token>' or the session cookie (with 'X-CSRF-Token' on requests that change something).",
        version = "1"
    ),
    servers((url = "/api/v1")),
    paths(
        firearms::create,
        firearms::list,
        firearms::get_one,
        firearms::patch,
        firearms::delete,
        firearms::history,
        import::import,
        checks::check,
        checks::batch,
        session::who_am_i,
        session::sign_in,
        session::sign_out,
        admin::list_orgs,
        admin::create_org,
        admin::get_org,
        admin::approve_org,
        admin::suspend_org,
        admin::list_users,
        admin::create_user,
        admin::update_user,
        session::change_password,
        admin::create_token,
        admin::list_tokens,
        admin::revoke_token,
        audit::list,
        reference::resolve,
        reference::makes,
        reference::calibres,
        reference::models,
        reference::trace_destinations,
        reference::types,
        hits::list,
        hits::get,
        hits::confirm,
        hits::reject,
        hits::message,
        hits::close,
        hits::notifications,
        hits::mark_read,
        hits::stream,
        hits::create_webhook,
        hits::list_webhooks,
        hits::delete_webhook,
        hits::deliveries,
        hits::set_duty_email,
        reference::get_make,
        reference::put_make,
        reference::make_history,
        reference::get_calibre,
        reference::put_calibre,
        reference::calibre_history,
        reference::get_model,
        reference::put_model,
        reference::model_history,
        traces::create,
        traces::list,
        traces::export,
        traces::get,
        traces::patch,
        traces::send,
        traces::acknowledge,
        traces::request_information,
        traces::answer,
        traces::forward,
        traces::close,
        traces::message,
        traces::attach,
        traces::attachment,
        traces::case_file,
        openapi_json,
    ),
    components(schemas(
        Firearm,
        FirearmInput,
        FirearmType,
        RecordStatus,
        FieldError,
        Problem,
        Permission,
        HistoryEntry,
        FieldChange,
        ChangeKind,
        firearms::FirearmPage,
        import::ImportReport,
        import::RejectedRowReport,
        checks::CheckRequest,
        checks::CheckResponse,
        crate::checking::FoundFirearm,
        armstrace_matcher::Difference,
        armstrace_matcher::DifferenceKind,
        armstrace_core::OrgKind,
        armstrace_core::OrgState,
        session::SignInRequest,
        session::Me,
        session::OrgSummary,
        session::SessionOpened,
        admin::NewOrganisation,
        admin::UserView,
        admin::NewUser,
        admin::UserUpdate,
        session::PasswordChange,
        admin::TokenView,
        admin::NewTokenRequest,
        admin::CreatedToken,
        audit::AuditPage,
        reference::Resolved,
        armstrace_reference::Resolution,
        armstrace_reference::Candidate,
        armstrace_reference::Status,
        armstrace_reference::Make,
        armstrace_reference::Calibre,
        armstrace_reference::Model,
        armstrace_reference::System,
        armstrace_reference::Destination,
        armstrace_reference::Kind,
        armstrace_reference::ResolutionCounts,
        armstrace_reference::ColumnCounts,
        armstrace_core::Canonical,
        reference::ReferenceEntry,
        reference::TypeEntry,
        hits::HitPage,
        hits::HitView,
        hits::Note,
        hits::Message,
        hits::Closing,
        hits::Inbox,
        hits::MarkRead,
        hits::Marked,
        hits::NewWebhook,
        hits::DutyEmail,

        armstrace_store::hits::Hit,
        armstrace_store::hits::HitParty,
        armstrace_store::hits::HitState,
        armstrace_store::hits::HitOutcome,
        armstrace_store::hits::HitEvent,
        armstrace_store::hits::Notification,
        armstrace_store::hits::Webhook,
        armstrace_store::hits::DeliveryLog,
        armstrace_store::reference::ReferenceChange,
        traces::TraceDraft,
        traces::TraceItem,
        traces::TracePage,
        traces::ExportFormat,
        traces::TraceNote,
        traces::InformationRequest,
        traces::Forwarding,
        traces::TraceMessage,
        crate::traces::TraceView,
        crate::traces::ChainLink,
        armstrace_store::traces::Trace,
        armstrace_store::traces::TraceEvent,
        armstrace_store::traces::Attachment,
        armstrace_store::traces::Direction,
        armstrace_core::trace::TraceStatus,
        armstrace_core::trace::Priority,
        armstrace_core::trace::TraceAction,
        armstrace_core::trace::TraceContent,
        armstrace_core::trace::TracedFirearm,
        armstrace_core::trace::Circumstances,
        armstrace_core::trace::TraceAnswer,
        armstrace_core::trace::AnswerResult,
        armstrace_core::trace::Transfer,
        armstrace_core::trace::Missing,
        armstrace_core::trace::Deadlines,
        armstrace_store::audit::AuditEntry,
    )),
    modifiers(&BearerSecurity),
    security(("bearer" = [])),
    tags(
        (name = "firearms", description = "Firearm records of each recording country"),
        (name = "checks", description = "Checking a seized or suspicious firearm against every record"),
        (name = "access", description = "Signing in, organisations, users, tokens and the audit trail"),
        (name = "reference", description = "Makes, models and calibres, and resolving what was typed"),
        (name = "hits", description = "Hits, their follow-up, notifications, webhooks and duty e-mail"),
        (name = "traces", description = "Trace requests between countries: drafts, their life, answers, messages, attachments and exports"),
        (name = "meta", description = "This document"),
    )
)]
pub struct ApiDoc;

struct BearerSecurity;

impl utoipa::Modify for BearerSecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The `/api/v1` routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/firearms", post(firearms::create).get(firearms::list))
        .route("/firearms/import", post(import::import))
        .route(
            "/firearms/{id}",
            get(firearms::get_one)
                .patch(firearms::patch)
                .delete(firearms::delete),
        )
        .route("/firearms/{id}/history", get(firearms::history))
        .route("/checks", post(checks::check))
        .route("/checks/batch", post(checks::batch))
        .route("/me", get(session::who_am_i))
        .route("/me/password", axum::routing::put(session::change_password))
        .route("/session", post(session::sign_in).delete(session::sign_out))
        .route(
            "/organisations",
            get(admin::list_orgs).post(admin::create_org),
        )
        .route("/organisations/{id}", get(admin::get_org))
        .route("/organisations/{id}/approve", post(admin::approve_org))
        .route("/organisations/{id}/suspend", post(admin::suspend_org))
        .route("/organisations/{id}/users", get(admin::list_users))
        .route("/users", post(admin::create_user))
        .route(
            "/users/{username}",
            axum::routing::patch(admin::update_user),
        )
        .route("/users/{username}/tokens", get(admin::list_tokens))
        .route("/tokens", post(admin::create_token))
        .route("/tokens/{id}", axum::routing::delete(admin::revoke_token))
        .route("/audit", get(audit::list))
        .route("/reference/resolve", get(reference::resolve))
        .route("/reference/makes", get(reference::makes))
        .route("/reference/calibres", get(reference::calibres))
        .route("/reference/models", get(reference::models))
        .route("/reference/types", get(reference::types))
        .route(
            "/reference/trace-destinations",
            get(reference::trace_destinations),
        )
        .route("/traces", post(traces::create).get(traces::list))
        .route("/traces/export", get(traces::export))
        .route("/traces/{id}", get(traces::get).patch(traces::patch))
        .route("/traces/{id}/send", post(traces::send))
        .route("/traces/{id}/acknowledge", post(traces::acknowledge))
        .route(
            "/traces/{id}/request-information",
            post(traces::request_information),
        )
        .route("/traces/{id}/answer", post(traces::answer))
        .route("/traces/{id}/forward", post(traces::forward))
        .route("/traces/{id}/close", post(traces::close))
        .route("/traces/{id}/messages", post(traces::message))
        .route(
            "/traces/{id}/attachments",
            // The handler reads no more than the deployment's own limit.
            post(traces::attach).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/traces/{id}/attachments/{attachment}",
            get(traces::attachment),
        )
        .route("/traces/{id}/pdf", get(traces::case_file))
        .route("/hits", get(hits::list))
        .route("/hits/{id}", get(hits::get))
        .route("/hits/{id}/confirm", post(hits::confirm))
        .route("/hits/{id}/reject", post(hits::reject))
        .route("/hits/{id}/messages", post(hits::message))
        .route("/hits/{id}/close", post(hits::close))
        .route("/notifications", get(hits::notifications))
        .route("/notifications/read", post(hits::mark_read))
        .route("/notifications/stream", get(hits::stream))
        .route(
            "/webhooks",
            get(hits::list_webhooks).post(hits::create_webhook),
        )
        .route(
            "/webhooks/{id}",
            axum::routing::delete(hits::delete_webhook),
        )
        .route("/webhooks/{id}/deliveries", get(hits::deliveries))
        .route(
            "/organisations/{id}/duty-email",
            axum::routing::put(hits::set_duty_email),
        )
        .route(
            "/reference/makes/{id}",
            get(reference::get_make).put(reference::put_make),
        )
        .route(
            "/reference/makes/{id}/history",
            get(reference::make_history),
        )
        .route(
            "/reference/calibres/{id}",
            get(reference::get_calibre).put(reference::put_calibre),
        )
        .route(
            "/reference/calibres/{id}/history",
            get(reference::calibre_history),
        )
        .route(
            "/reference/models/{make}/{model}",
            get(reference::get_model).put(reference::put_model),
        )
        .route(
            "/reference/models/{make}/{model}/history",
            get(reference::model_history),
        )
}

/// The OpenAPI 3 document of this API.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "OpenAPI 3 document", content_type = "application/json")))]
async fn openapi_json(_caller: Authenticated) -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}
