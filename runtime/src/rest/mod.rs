//! The Kafka Connect compatible REST API.
//!
//! Paths, status codes and bodies follow Kafka Connect 3.9: errors are
//! `{"error_code":N,"message":"…"}` with N equal to the HTTP status;
//! malformed JSON bodies answer 500 as Kafka Connect's Jackson-based server
//! does; unknown paths 404 and wrong methods 405 with Jersey's messages.
//! Secret-looking config values are never returned (`[hidden]`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value as JsonValue};
use velocity_api::RawConfig;

use crate::error::RuntimeError;
use crate::herder::{definition_json, Herder};
use crate::logging::LogControl;
use crate::status::TargetState;

/// The Kafka version Velocity reports to clients that check it.
pub const KAFKA_COMPAT_VERSION: &str = "3.9.0";

/// Shared state of the REST handlers.
#[derive(Clone)]
pub struct RestState {
    /// The connector manager.
    pub herder: Arc<Herder>,
    /// Log-level control.
    pub logs: LogControl,
    /// The Kafka cluster id, when known.
    pub cluster_id: Option<String>,
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

/// Builds the router with every Kafka Connect endpoint.
pub fn router(state: RestState) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/health", get(health))
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
        .route("/connectors/{name}/tasks", get(task_list))
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
        .route("/connector-plugins/{plugin}/config/validate", put(validate))
        .route("/admin/loggers", get(loggers))
        .route("/admin/loggers/{logger}", get(logger).put(set_logger))
        .fallback(|| async { ApiError(404, "HTTP 404 Not Found".into()) })
        .method_not_allowed_fallback(|| async {
            ApiError(405, "HTTP 405 Method Not Allowed".into())
        })
        .with_state(state)
}

async fn root(State(s): State<RestState>) -> Json<JsonValue> {
    Json(json!({
        "version": KAFKA_COMPAT_VERSION,
        "commit": concat!("velocity-", env!("CARGO_PKG_VERSION")),
        "kafka_cluster_id": s.cluster_id,
    }))
}

async fn health() -> Json<JsonValue> {
    Json(
        json!({"status": "healthy", "message": "Worker has completed startup and is ready to handle requests."}),
    )
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
    match v.and_then(JsonValue::as_str) {
        None => Ok(None),
        Some("RUNNING") => Ok(Some(TargetState::Started)),
        Some("PAUSED") => Ok(Some(TargetState::Paused)),
        Some("STOPPED") => Ok(Some(TargetState::Stopped)),
        Some(o) => Err(ApiError(
            400,
            format!("Invalid initial_state {o}: use RUNNING, PAUSED or STOPPED"),
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
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(info.to_json())).into_response())
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

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RestartQuery {
    #[serde(default)]
    include_tasks: bool,
    #[serde(default)]
    only_failed: bool,
}

async fn restart_connector(
    State(s): State<RestState>,
    Path(name): Path<String>,
    Query(q): Query<RestartQuery>,
) -> ApiResult<Response> {
    s.herder
        .restart(&name, q.include_tasks, q.only_failed)
        .await?;
    if q.include_tasks || q.only_failed {
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
    set_target(&s, &name, TargetState::Stopped).await
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
        .ok_or_else(|| ApiError(400, "Partitions / offsets need to be provided for an alter offsets request: send {\"offsets\": [{\"partition\": {...}, \"offset\": {...}}]}".into()))?;
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

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PluginsQuery {
    #[serde(default = "yes")]
    connectors_only: bool,
}

fn yes() -> bool {
    true
}

async fn plugins(State(s): State<RestState>, Query(q): Query<PluginsQuery>) -> Json<JsonValue> {
    let list: Vec<JsonValue> = s
        .herder
        .registry()
        .all()
        .iter()
        .filter(|p| !q.connectors_only || p.kind.is_connector())
        .map(|p| json!({"class": p.class, "type": p.kind.type_name(), "version": p.version}))
        .collect();
    Json(JsonValue::Array(list))
}

async fn plugin_config(
    State(s): State<RestState>,
    Path(plugin): Path<String>,
) -> ApiResult<Json<JsonValue>> {
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

async fn logger(State(s): State<RestState>, Path(name): Path<String>) -> Json<JsonValue> {
    let l = s.logs.get(&name);
    let mut o = serde_json::Map::new();
    o.insert("level".into(), l.level.into());
    if let Some(t) = l.last_modified {
        o.insert("last_modified".into(), t.into());
    }
    Json(JsonValue::Object(o))
}

async fn set_logger(
    State(s): State<RestState>,
    Path(name): Path<String>,
    body: Bytes,
) -> ApiResult<Json<JsonValue>> {
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
    Ok(Json(json!(affected)))
}
