//! The Armstrace HTTP service: the JSON API under `/api/v1`, described by the OpenAPI document it
//! serves, and the health probe. Everything here speaks HTTP; the rules live in `armstrace-core`
//! and the data in `armstrace-store`.

pub mod admin;
pub mod api;
pub mod audit_log;
pub mod auth;
pub mod checking;
mod error;
pub mod hits;
pub mod pdf;
pub mod rate_limit;
pub mod reference_table;
pub mod trace_export;
pub mod traces;
pub mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use armstrace_store::Store;
use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

pub use error::ApiError;

use crate::audit_log::AuditLog;
use crate::hits::{HitPolicy, Wake};
use crate::rate_limit::{Limits, RateLimits};
use crate::reference_table::ReferenceTable;

/// What every request handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Where records, users and tokens are kept.
    pub store: Arc<dyn Store>,
    /// The check index of every live record, kept current by every write through this service.
    pub index: Arc<armstrace_matcher::CheckIndex>,
    /// Where checks are logged, committed in groups.
    pub audit: AuditLog,
    /// Per-token and per-address limits.
    pub limits: RateLimits,
    /// The reference table in force.
    pub reference: ReferenceTable,
    /// Which matches become hits.
    pub hit_policy: HitPolicy,
    /// Rung when notifications are stored.
    pub wake: Wake,
    /// Whether webhooks may point at this machine (tests, a receiver on the same host).
    pub allow_loopback_webhooks: bool,
    /// Where deadlines read the time.
    pub clock: traces::Clock,
    /// How trace requests run here.
    pub traces: traces::TracePolicy,
}

impl AppState {
    /// The state of a service on `store`, its `index` and `reference` table, with `limits`;
    /// starts the audit writer, so call it inside the runtime.
    pub fn new(
        store: Arc<dyn Store>,
        index: Arc<armstrace_matcher::CheckIndex>,
        reference: ReferenceTable,
        limits: Limits,
    ) -> Self {
        let wake = Wake::default();
        AppState {
            audit: AuditLog::new(store.clone(), wake.clone()),
            limits: RateLimits::new(limits),
            reference,
            hit_policy: HitPolicy::default(),
            wake,
            allow_loopback_webhooks: false,
            clock: traces::Clock::system(),
            traces: traces::TracePolicy::default(),
            store,
            index,
        }
    }
}

/// The whole service as one router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .nest("/api/v1", api::router())
        .merge(web::router())
        .layer(axum::middleware::from_fn_with_state(
            state.limits.clone(),
            rate_limit::limit,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok"
}

/// Serves `state` on `listener` until `shutdown` completes, then lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
