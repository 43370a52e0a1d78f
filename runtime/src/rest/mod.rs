//! The Kafka Connect compatible REST API.
//!
//! Paths, status codes and bodies follow Kafka Connect 3.9: errors are
//! `{"error_code":N,"message":"…"}` with N equal to the HTTP status;
//! malformed JSON bodies answer 500 as Kafka Connect's Jackson-based server
//! does; unknown paths 404 and wrong methods 405 with Jersey's messages.
//! Secret-looking config values are never returned (`[hidden]`).

pub mod access;
pub mod forward;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value as JsonValue};
use velocity_api::RawConfig;

use crate::error::RuntimeError;
use crate::herder::{definition_json, HerderApi};
use crate::logging::LogControl;
use crate::security::rest::{require_basic_auth, BasicAuth};
use crate::status::TargetState;

/// The Kafka version Velocity reports to clients that check it.
pub const KAFKA_COMPAT_VERSION: &str = "3.9.0";

/// Shared state of the REST handlers.
#[derive(Clone)]
pub struct RestState {
    /// The connector manager.
    pub herder: Arc<dyn HerderApi>,
    /// Log-level control.
    pub logs: LogControl,
    /// The Kafka cluster id, when known.
    pub cluster_id: Option<String>,
    /// Readiness and broker reachability for `/health`.
    pub health: Arc<crate::health::Health>,
}

/// A REST error answered as Kafka Connect's `ErrorMessage`.
pub struct ApiError(pub u16, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            Json(json!({"error_code": self.0, "message": self.1})),
        )
            .into_response()
    }
}

impl From<RuntimeError> for ApiError {
    fn from(e: RuntimeError) -> ApiError {
        ApiError(e.status(), e.to_string())
    }
}

type ApiResult<T> = Result<T, ApiError>;

fn parse_json(body: &Bytes) -> ApiResult<JsonValue> {
    if body.is_empty() {
        return Err(ApiError(
            400,
            "Request body must not be empty: send a JSON object".into(),
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError(
            500,
            format!("Cannot deserialize the request body as JSON: {e}"),
        )
    })
}

/// Converts a JSON object of config values to strings as Jackson does for
/// `Map<String,String>` (numbers and booleans become their text; null drops).
fn config_from_json(v: &JsonValue, what: &str) -> ApiResult<RawConfig> {
    let obj = v.as_object().ok_or_else(|| {
        ApiError(
            400,
            format!("{what} must be a JSON object of string values"),
        )
    })?;
    let mut out = RawConfig::new();
    for (k, v) in obj {
        match v {
            JsonValue::Null => {}
            JsonValue::String(s) => {
                out.insert(k.clone(), s.clone());
            }
            JsonValue::Number(_) | JsonValue::Bool(_) => {
                out.insert(k.clone(), v.to_string());
            }
            _ => {
                return Err(ApiError(
                    500,
                    format!("Cannot deserialize value of configuration {k}: expected a string"),
                ))
            }
        }
    }
    Ok(out)
}

/// Builds the router with every Kafka Connect endpoint (the `/admin` ones
/// included).
pub fn router(state: RestState) -> Router {
    api_router(state, true)
}

/// The Kafka Connect endpoints; `/admin/*` only with `with_admin`
/// (`admin.listeners` unset).
pub fn api_router(state: RestState, with_admin: bool) -> Router {
    let r = Router::new()
        .route("/", get(root))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/connectors", get(list_connectors).post(create_connector))
        .route(
            "/connectors/{name}",
            get(get_connector).delete(delete_connector),
        )
        .route(
            "/connectors/{name}/config",
            get(get_config).put(put_config).patch(patch_config),
        )
        .route("/connectors/{name}/status", get(connector_status))
        .route(
            "/connectors/{name}/tasks",
            get(task_list).post(put_task_configs),
        )
        .route("/connectors/{name}/tasks/{id}/status", get(task_status))
        .route("/connectors/{name}/tasks/{id}/restart", post(restart_task))
        .route("/connectors/{name}/restart", post(restart_connector))
        .route("/connectors/{name}/pause", put(pause))
        .route("/connectors/{name}/resume", put(resume))
        .route("/connectors/{name}/stop", put(stop))
        .route("/connectors/{name}/topics", get(topics))
        .route("/connectors/{name}/topics/reset", put(reset_topics))
        .route(
            "/connectors/{name}/offsets",
            get(get_offsets).patch(alter_offsets).delete(reset_offsets),
        )
        .route("/connector-plugins", get(plugins))
        .route("/connector-plugins/{plugin}/config", get(plugin_config))
        .route("/connector-plugins/{plugin}/config/validate", put(validate));
    let r = if with_admin { admin_routes(r) } else { r };
    let r = r.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        forward::forward,
    ));
    finish(r, state)
}

/// Only the `/admin` endpoints, for a separate `admin.listeners` listener.
pub fn admin_router(state: RestState) -> Router {
    finish(admin_routes(Router::new()), state)
}

fn admin_routes(r: Router<RestState>) -> Router<RestState> {
    r.route("/admin/loggers", get(loggers))
        .route("/admin/loggers/{logger}", get(logger).put(set_logger))
}

fn finish(r: Router<RestState>, state: RestState) -> Router {
    r.fallback(|| async { ApiError(404, "HTTP 404 Not Found".into()) })
        .method_not_allowed_fallback(|| async {
            ApiError(405, "HTTP 405 Method Not Allowed".into())
        })
        .layer(axum::middleware::from_fn(access::log))
        .with_state(state)
}

/// Wraps a router as the listener serves it: trailing slashes are ignored
/// (`/connectors/` is `/connectors`, as in Jersey), and with `basic_auth`
/// every request needs valid HTTP Basic credentials (401 otherwise).
pub fn secure(app: Router, basic_auth: Option<BasicAuth>) -> Router {
    let r = Router::new()
        .fallback_service(app)
        .layer(axum::middleware::map_request(trim_trailing_slash));
    match basic_auth {
        Some(a) => r.layer(axum::middleware::from_fn_with_state(a, require_basic_auth)),
        None => r,
    }
}

async fn trim_trailing_slash(mut req: axum::extract::Request) -> axum::extract::Request {
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let pq = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_owned(),
        };
        let mut parts = req.uri().clone().into_parts();
        if let Ok(p) = pq.parse() {
            parts.path_and_query = Some(p);
            if let Ok(u) = axum::http::Uri::from_parts(parts) {
                *req.uri_mut() = u;
            }
        }
    }
    req
}

/// `Boolean.parseBoolean`: true for `true` in any case, false otherwise
/// (`False`, `0`, `yes` are all false), as Jersey parses query booleans.
fn java_bool(v: Option<&str>, default: bool) -> bool {
    v.map_or(default, |v| v.eq_ignore_ascii_case("true"))
}

/// The value of query parameter `name` (first occurrence), percent-decoded.
fn query_param(uri: &axum::http::Uri, name: &str) -> Option<String> {
    let q = uri.query()?;
    serde_urlencoded::from_str::<Vec<(String, String)>>(q)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

async fn root(State(s): State<RestState>) -> Json<JsonValue> {
    Json(json!({
        "version": KAFKA_COMPAT_VERSION,
        "commit": concat!("velocity-", env!("CARGO_PKG_VERSION")),
        "kafka_cluster_id": s.cluster_id,
        "velocity_version": env!("CARGO_PKG_VERSION"),
        "kafka_connect_api_version": KAFKA_COMPAT_VERSION,
    }))
}

async fn health(State(s): State<RestState>) -> Response {
    let (code, body) = s.health.check().await;
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(body)).into_response()
}

/// Prometheus text format 0.0.4 of every metric (see [`crate::metrics`]).
async fn metrics(State(s): State<RestState>) -> Response {
    let mut view = crate::metrics::WorkerView::default();
    for name in s.herder.names().await {
        let (Ok(status), Ok(info)) = (s.herder.status(&name).await, s.herder.info(&name).await)
        else {
            continue;
        };
        let class = info
            .config
            .get("connector.class")
            .cloned()
            .unwrap_or_default();
        let version = s
            .herder
            .registry()
            .find(&class)
            .map(|p| p.version.to_owned())
            .unwrap_or_default();
        let text = |v: &JsonValue| v.as_str().unwrap_or_default().to_owned();
        view.connectors.push(crate::metrics::ConnectorView {
            name: name.clone(),
            class,
            kind: info.type_.to_owned(),
            version,
            state: text(&status["connector"]["state"]),
            tasks: status["tasks"]
                .as_array()
                .map(|ts| {
                    ts.iter()
                        .map(|t| (t["id"].as_u64().unwrap_or_default(), text(&t["state"])))
                        .collect()
                })
                .unwrap_or_default(),
        });
    }
    let body = crate::metrics::global().render(&view);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn list_connectors(
    State(s): State<RestState>,
    uri: axum::http::Uri,
) -> ApiResult<Json<JsonValue>> {
    // `expand` may repeat (?expand=status&expand=info), which serde_urlencoded
    // cannot collect into a Vec, so it is parsed by hand.
    let expand: Vec<String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.strip_prefix("expand="))
        .map(str::to_owned)
        .collect();
    let names = s.herder.names().await;
    if expand.is_empty() {
        return Ok(Json(json!(names)));
    }
    let mut out = serde_json::Map::new();
    for n in names {
        let mut entry = serde_json::Map::new();
        if expand.iter().any(|e| e == "status") {
            entry.insert("status".into(), s.herder.status(&n).await?);
        }
        if expand.iter().any(|e| e == "info") {
            entry.insert("info".into(), s.herder.info(&n).await?.to_json());
        }
        out.insert(n, JsonValue::Object(entry));
    }
    Ok(Json(JsonValue::Object(out)))
}

fn initial_state(v: Option<&JsonValue>) -> ApiResult<Option<TargetState>> {
    // Jackson's enum parsing in Kafka Connect's CreateConnectorRequest is
    // case-insensitive (`running` works)
    match v
        .and_then(JsonValue::as_str)
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None => Ok(None),
        Some("RUNNING") => Ok(Some(TargetState::Started)),
        Some("PAUSED") => Ok(Some(TargetState::Paused)),
        Some("STOPPED") => Ok(Some(TargetState::Stopped)),
        Some(_) => Err(ApiError(
            400,
            format!(
                "Invalid initial_state {}: use RUNNING, PAUSED or STOPPED",
                v.and_then(JsonValue::as_str).unwrap_or_default()
            ),
        )),
    }
}

async fn create_connector(State(s): State<RestState>, body: Bytes) -> ApiResult<Response> {
    let v = parse_json(&body)?;
    let name = v
        .get("name")
        .and_then(JsonValue::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError(
                400,
                "Connector name must be specified: send {\"name\": \"...\", \"config\": {...}}"
                    .into(),
            )
        })?
        .to_owned();
    let config = config_from_json(v.get("config").unwrap_or(&JsonValue::Null), "config")
        .map_err(|e| if v.get("config").is_none() { ApiError(400, "Connector config must be specified: send {\"name\": \"...\", \"config\": {...}}".into()) } else { e })?;
    let initial = initial_state(v.get("initial_state"))?;
    let info = s.herder.create(&name, config, initial).await?;
    Ok((
        StatusCode::CREATED,
        [("location", format!("/connectors/{name}"))],
        Json(info.to_json()),
    )
        .into_response())
}

async fn get_connector(
    State(s): State<RestState>,
    Path(name): Path<String>,
) -> ApiResult<Json<JsonValue>> {
    Ok(Json(s.herder.info(&name).await?.to_json()))
}

async fn delete_connector(
    State(s): State<RestState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.herder.delete(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn get_config(
    State(s): State<RestState>,
    Path(name): Path<String>,
) -> ApiResult<Json<RawConfig>> {
    Ok(Json(s.herder.info(&name).await?.config))
}

async fn put_config(
    State(s): State<RestState>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let config = config_from_json(&parse_json(&body)?, "The connector configuration")?;
    let (created, info) = s.herder.put_config(&name, config).await?;
    if created {
        return Ok((
            StatusCode::CREATED,
            [("location", format!("/connectors/{name}"))],
            Json(info.to_json()),
        )
            .into_response());
    }
    Ok((StatusCode::OK, Json(info.to_json())).into_response())
}

async fn patch_config(
    State(s): State<RestState>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Json<JsonValue>> {
    let v = parse_json(&body)?;
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError(400, "The configuration patch must be a JSON object".into()))?;
    let mut patch = BTreeMap::new();
    for (k, v) in obj {
        let v = match v {
            JsonValue::Null => None,
            JsonValue::String(s) => Some(s.clone()),
            JsonValue::Number(_) | JsonValue::Bool(_) => Some(v.to_string()),
            _ => {
                return Err(ApiError(
                    500,
                    format!("Cannot deserialize value of configuration {k}: expected a string"),
                ))
            }
        };
        patch.insert(k.clone(), v);
    }
    Ok(Json(s.herder.patch_config(&name, patch).await?.to_json()))
}

async fn connector_status(
    State(s): State<RestState>,
    Path(name): Path<String>,
) -> ApiResult<Json<JsonValue>> {
    Ok(Json(s.herder.status(&name).await?))
}

async fn task_list(
    State(s): State<RestState>,
    Path(name): Path<String>,
) -> ApiResult<Json<JsonValue>> {
    Ok(Json(s.herder.tasks(&name).await?))
}

/// Kafka Connect's internal endpoint: task configs from the worker running
/// the connector, signed with the session key (distributed mode).
async fn put_task_configs(
    State(s): State<RestState>,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let header = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    s.herder
        .put_task_configs(
            &name,
            &body,
            header(crate::distributed::session::SIGNATURE_ALGORITHM_HEADER),
            header(crate::distributed::session::SIGNATURE_HEADER),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn task_status(
    State(s): State<RestState>,
    Path((name, id)): Path<(String, u32)>,
) -> ApiResult<Json<JsonValue>> {
    Ok(Json(s.herder.task_status(&name, id).await?))
}

async fn restart_task(
    State(s): State<RestState>,
    Path((name, id)): Path<(String, u32)>,
) -> ApiResult<StatusCode> {
    s.herder.restart_task(&name, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn restart_connector(
    State(s): State<RestState>,
    Path(name): Path<String>,
    uri: axum::http::Uri,
) -> ApiResult<Response> {
    let include_tasks = java_bool(query_param(&uri, "includeTasks").as_deref(), false);
    let only_failed = java_bool(query_param(&uri, "onlyFailed").as_deref(), false);
    s.herder.restart(&name, include_tasks, only_failed).await?;
    if include_tasks || only_failed {
        let status = s.herder.status(&name).await?;
        Ok((StatusCode::ACCEPTED, Json(status)).into_response())
    } else {
        Ok(StatusCode::NO_CONTENT.into_response())
    }
}

async fn set_target(s: &RestState, name: &str, t: TargetState) -> ApiResult<StatusCode> {
    s.herder.set_target(name, t).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn pause(State(s): State<RestState>, Path(name): Path<String>) -> ApiResult<StatusCode> {
    set_target(&s, &name, TargetState::Paused).await
}

async fn resume(State(s): State<RestState>, Path(name): Path<String>) -> ApiResult<StatusCode> {
    set_target(&s, &name, TargetState::Started).await
}

async fn stop(State(s): State<RestState>, Path(name): Path<String>) -> ApiResult<StatusCode> {
    set_target(&s, &name, TargetState::Stopped).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn topics(
    State(s): State<RestState>,
    Path(name): Path<String>,
) -> ApiResult<Json<JsonValue>> {
    let t = s.herder.topics(&name).await?;
    Ok(Json(json!({ name: {"topics": t} })))
}

async fn reset_topics(
    State(s): State<RestState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.herder.reset_topics(&name).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn get_offsets(
    State(s): State<RestState>,
    Path(name): Path<String>,
) -> ApiResult<Json<JsonValue>> {
    Ok(Json(s.herder.offsets(&name).await?))
}

async fn alter_offsets(
    State(s): State<RestState>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Json<JsonValue>> {
    let v = parse_json(&body)?;
    let list = v
        .get("offsets")
        .and_then(JsonValue::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| {
            ApiError(
                400,
                "Partitions / offsets need to be provided for an alter offsets request".into(),
            )
        })?;
    let mut out = Vec::new();
    for item in list {
        let p = item
            .get("partition")
            .and_then(JsonValue::as_object)
            .ok_or_else(|| {
                ApiError(
                    400,
                    "Each entry of \"offsets\" needs a \"partition\" object".into(),
                )
            })?;
        let o = match item.get("offset") {
            None | Some(JsonValue::Null) => None,
            Some(JsonValue::Object(o)) => Some(o.clone()),
            Some(_) => {
                return Err(ApiError(
                    400,
                    "An \"offset\" must be a JSON object or null".into(),
                ))
            }
        };
        out.push((p.clone(), o));
    }
    let msg = s.herder.alter_offsets(&name, Some(out)).await?;
    Ok(Json(json!({"message": msg})))
}

async fn reset_offsets(
    State(s): State<RestState>,
    Path(name): Path<String>,
) -> ApiResult<Json<JsonValue>> {
    let msg = s.herder.alter_offsets(&name, None).await?;
    Ok(Json(json!({"message": msg})))
}

async fn plugins(State(s): State<RestState>, uri: axum::http::Uri) -> Json<JsonValue> {
    let connectors_only = java_bool(query_param(&uri, "connectorsOnly").as_deref(), true);
    let mut list: Vec<JsonValue> = s
        .herder
        .registry()
        .all()
        .iter()
        .filter(|p| !connectors_only || p.kind.is_connector())
        .map(|p| json!({"class": p.class, "type": p.kind.type_name(), "version": p.version}))
        .collect();
    if !connectors_only {
        // the built-in converters and header converter, unless the registry
        // already listed them (converter plugins register there too)
        let registry = s.herder.registry();
        list.extend(
            crate::converters::PLUGINS
                .iter()
                .filter(|c| registry.find(c.class).is_none())
                .map(|c| {
                    json!({"class": c.class, "type": c.type_name, "version": KAFKA_COMPAT_VERSION})
                }),
        );
    }
    Json(JsonValue::Array(list))
}

async fn plugin_config(
    State(s): State<RestState>,
    Path(plugin): Path<String>,
) -> ApiResult<Json<JsonValue>> {
    if let Some(c) = crate::converters::PLUGINS
        .iter()
        .find(|c| c.class == plugin || c.class.rsplit('.').next() == Some(plugin.as_str()))
    {
        let list: Vec<JsonValue> = (c.config_def)()
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| definition_json(k, k.group.unwrap_or(""), i + 1))
            .collect();
        return Ok(Json(JsonValue::Array(list)));
    }
    let p = s
        .herder
        .registry()
        .find(&plugin)
        .ok_or_else(|| ApiError(404, format!("Unknown plugin {plugin}.")))?;
    let def = (p.config_def)();
    let group = p.class.rsplit('.').next().unwrap_or("Connector");
    let list: Vec<JsonValue> = def
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| definition_json(k, k.group.unwrap_or(group), i + 1))
        .collect();
    Ok(Json(JsonValue::Array(list)))
}

async fn validate(
    State(s): State<RestState>,
    Path(plugin): Path<String>,
    body: Bytes,
) -> ApiResult<Json<JsonValue>> {
    let mut config = config_from_json(&parse_json(&body)?, "The connector configuration")?;
    let class = config.get("connector.class").cloned();
    match class {
        None => {
            config.insert("connector.class".into(), plugin.clone());
        }
        Some(c) => {
            let same = s.herder.registry().find(&c).map(|p| p.class)
                == s.herder.registry().find(&plugin).map(|p| p.class);
            if !same {
                return Err(ApiError(400, "Connector classes in the path and in the request body don't match: the body's connector.class must name the same plugin as the URL".into()));
            }
        }
    }
    let report = s.herder.validate(&config)?;
    Ok(Json(report.to_json()))
}

async fn loggers(State(s): State<RestState>) -> Json<JsonValue> {
    let out: serde_json::Map<String, JsonValue> = s
        .logs
        .all()
        .into_iter()
        .map(|(k, v)| {
            let mut o = serde_json::Map::new();
            o.insert("level".into(), v.level.into());
            if let Some(t) = v.last_modified {
                o.insert("last_modified".into(), t.into());
            }
            (k, JsonValue::Object(o))
        })
        .collect();
    Json(JsonValue::Object(out))
}

async fn logger(
    State(s): State<RestState>,
    Path(name): Path<String>,
) -> ApiResult<Json<JsonValue>> {
    if !s.logs.all().contains_key(&name) && !crate::logging::is_known_logger(&name) {
        return Err(ApiError(404, format!("Logger {name} not found.")));
    }
    let l = s.logs.get(&name);
    let mut o = serde_json::Map::new();
    o.insert("level".into(), l.level.into());
    if let Some(t) = l.last_modified {
        o.insert("last_modified".into(), t.into());
    }
    Ok(Json(JsonValue::Object(o)))
}

async fn set_logger(
    State(s): State<RestState>,
    Path(name): Path<String>,
    uri: axum::http::Uri,
    body: Bytes,
) -> ApiResult<Response> {
    let v = parse_json(&body)?;
    let level = v.get("level").and_then(JsonValue::as_str).ok_or_else(|| {
        ApiError(
            400,
            "Desired 'level' parameter was not specified in request.".into(),
        )
    })?;
    let affected = s
        .logs
        .set(&name, level)
        .ok_or_else(|| ApiError(400, format!("Invalid log level '{level}'.")))?;
    // `?scope=cluster` (KIP-976) answers 204; a standalone worker is the
    // whole cluster. Other scopes are treated as `worker`, as Kafka does.
    match query_param(&uri, "scope") {
        Some(sc) if sc.eq_ignore_ascii_case("cluster") => {
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Ok(Json(json!(affected)).into_response()),
    }
}
