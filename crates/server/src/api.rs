//! The JSON API under `/api/v1` and its OpenAPI document, generated from the handlers.

mod body;
mod checks;
mod firearms;
mod import;

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
        description = "Records of lost, stolen, trafficked and smuggled firearms, checked and traced across borders. Every route needs 'Authorization: Bearer <token>'.",
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
    )),
    modifiers(&BearerSecurity),
    security(("bearer" = [])),
    tags(
        (name = "firearms", description = "Firearm records of each recording country"),
        (name = "checks", description = "Checking a seized or suspicious firearm against every record"),
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
}

/// The OpenAPI 3 document of this API.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "OpenAPI 3 document", content_type = "application/json")))]
async fn openapi_json(_caller: Authenticated) -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}
