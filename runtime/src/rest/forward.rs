//! Request forwarding between the workers of a distributed cluster, as
//! Kafka Connect's `HerderRequestHandler.completeOrForwardRequest` does it.
//!
//! Every write request under `/connectors` (any method but GET) first asks
//! the herder where it must run ([`HerderApi::request_target`]):
//! - here: it runs;
//! - another worker (the leader, or the worker running a task to restart):
//!   the request is sent there with the same method, body, `Content-Type`
//!   and `Authorization`, and with `forward=true` when this worker is the
//!   first to handle it (no `forward` parameter) or `forward=false` on the
//!   second hop; the answer (status and body) is returned as received. A
//!   request that arrives with `forward=false` and still is not for this
//!   worker answers 409 (two hops is the limit, as in Kafka Connect);
//! - nobody (no leader known during a rebalance): 409 with Kafka Connect's
//!   message.
//!
//! Standalone workers always answer "here". Forwarding speaks http only
//! (workers with https listeners answer 409 naming the limitation).

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{query_param, ApiError, RestState};
use crate::herder::RequestTarget;

/// Kafka Connect's 409 while no leader is known.
pub const NO_LEADER: &str = "Cannot complete request momentarily due to no known leader URL, likely because a rebalance was underway.";
/// Kafka Connect's 409 after two hops.
pub const TOO_MANY_HOPS: &str =
    "Cannot complete request because of a conflicting operation (e.g. worker rebalance)";

/// The largest request body forwarded.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// The middleware (see the module docs).
pub async fn forward(State(s): State<RestState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    if req.method() == Method::GET || !(path == "/connectors" || path.starts_with("/connectors/")) {
        return next.run(req).await;
    }
    let url = match s.herder.request_target(&path).await {
        RequestTarget::Here => return next.run(req).await,
        RequestTarget::NoLeader => return ApiError(409, NO_LEADER.into()).into_response(),
        RequestTarget::Forward(url) => url,
    };
    let hop = query_param(req.uri(), "forward").map(|v| v.eq_ignore_ascii_case("true"));
    if hop == Some(false) {
        tracing::error!(method = %req.method(), %path, "Request failed because it couldn't find the target Connect worker within two hops (between workers).");
        return ApiError(409, TOO_MANY_HOPS.into()).into_response();
    }
    if url.starts_with("https://") {
        return ApiError(
            409,
            format!("Cannot forward the request to {url}: forwarding between workers speaks http only in this version; send it to that worker"),
        )
        .into_response();
    }
    // the other query parameters, then forward=<recursive>
    let mut query: Vec<(String, String)> = req
        .uri()
        .query()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k != "forward")
        .collect();
    query.push(("forward".into(), (hop.is_none()).to_string()));
    let target = format!(
        "{}{}?{}",
        url.trim_end_matches('/'),
        path,
        serde_urlencoded::to_string(&query).unwrap_or_default()
    );
    let method = req.method().clone();
    let headers = req.headers().clone();
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return ApiError(400, format!("Cannot read the request body: {e}")).into_response()
        }
    };
    tracing::info!(%target, %method, "forwarding the request to {url}");
    let client = reqwest::Client::new();
    let Ok(m) = reqwest::Method::from_bytes(method.as_str().as_bytes()) else {
        return ApiError(405, "HTTP 405 Method Not Allowed".into()).into_response();
    };
    let mut rb = client.request(m, &target).body(body.to_vec());
    for h in [
        header::CONTENT_TYPE.as_str(),
        header::AUTHORIZATION.as_str(),
        header::ACCEPT.as_str(),
        crate::distributed::session::SIGNATURE_HEADER,
        crate::distributed::session::SIGNATURE_ALGORITHM_HEADER,
    ] {
        if let Some(v) = headers.get(h).and_then(|v| v.to_str().ok()) {
            rb = rb.header(h, v);
        }
    }
    match rb.send().await {
        Ok(resp) => {
            let status = StatusCode::from_u16(resp.status().as_u16())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let ct = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let bytes = resp.bytes().await.unwrap_or_default();
            let mut out = (status, bytes).into_response();
            if let Some(ct) = ct.and_then(|c| c.parse().ok()) {
                out.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            out
        }
        Err(e) => {
            ApiError(500, format!("IO Error trying to forward REST request: {e}")).into_response()
        }
    }
}
