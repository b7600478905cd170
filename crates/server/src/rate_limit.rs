//! Per-token and per-address rate limits: a caller over its limit gets `429` with
//! `Retry-After`, before any work is done for it.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::ApiError;
use crate::auth::SESSION_COOKIE;

/// Requests per second allowed; a burst of twice as many is absorbed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Per API token or session; `None` for no limit.
    pub per_credential: Option<NonZeroU32>,
    /// Per client address; `None` for no limit.
    pub per_address: Option<NonZeroU32>,
}

impl Default for Limits {
    /// 200 requests a second per token or session, 1000 per address.
    fn default() -> Self {
        Limits {
            per_credential: NonZeroU32::new(200),
            per_address: NonZeroU32::new(1000),
        }
    }
}

impl Limits {
    /// No limits at all (for benchmarks).
    pub fn none() -> Self {
        Limits {
            per_credential: None,
            per_address: None,
        }
    }
}

/// The limiters of a running service.
#[derive(Clone)]
pub struct RateLimits {
    credential: Option<Arc<DefaultKeyedRateLimiter<[u8; 32]>>>,
    address: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
}

fn quota(per_second: NonZeroU32) -> Quota {
    let burst = per_second.saturating_mul(NonZeroU32::new(2).expect("2 is not 0"));
    Quota::per_second(per_second).allow_burst(burst)
}

impl RateLimits {
    /// Limiters for `limits`; a task forgets idle callers every minute.
    pub fn new(limits: Limits) -> Self {
        let this = RateLimits {
            credential: limits
                .per_credential
                .map(|n| Arc::new(RateLimiter::keyed(quota(n)))),
            address: limits
                .per_address
                .map(|n| Arc::new(RateLimiter::keyed(quota(n)))),
        };
        if this.credential.is_some() || this.address.is_some() {
            let (credential, address) = (this.credential.clone(), this.address.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    if let Some(l) = &credential {
                        l.retain_recent();
                    }
                    if let Some(l) = &address {
                        l.retain_recent();
                    }
                }
            });
        }
        this
    }
}

/// The credential a request carries (bearer token or session cookie), hashed: the limiter
/// never holds a secret.
fn credential_key(request: &Request) -> Option<[u8; 32]> {
    use sha2::{Digest, Sha256};
    let headers = request.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let cookie = crate::auth::cookie(headers, SESSION_COOKIE);
    let secret = bearer.or(cookie)?;
    Some(Sha256::digest(secret.as_bytes()).into())
}

fn retry_after(not_until: governor::NotUntil<governor::clock::QuantaInstant>) -> u64 {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// The middleware: refuses a caller over either limit.
pub async fn limit(State(limits): State<RateLimits>, request: Request, next: Next) -> Response {
    if let Some(limiter) = &limits.address {
        let address = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(a)| a.ip());
        if let Some(address) = address
            && let Err(not_until) = limiter.check_key(&address)
        {
            return ApiError::TooManyRequests {
                code: "rate_limited",
                retry_after: retry_after(not_until),
                detail: format!("too many requests from {address}; slow down and retry"),
            }
            .into_response();
        }
    }
    if let Some(limiter) = &limits.credential
        && let Some(key) = credential_key(&request)
        && let Err(not_until) = limiter.check_key(&key)
    {
        return ApiError::TooManyRequests {
            code: "rate_limited",
            retry_after: retry_after(not_until),
            detail: "too many requests with this token or session; slow down and retry".into(),
        }
        .into_response();
    }
    next.run(request).await
}
