//! TEST DOUBLE — not a product. A small schema registry speaking the part of
//! Confluent's Schema Registry REST API that Velocity's Avro converter uses,
//! for Velocity's tests and demo, because no Schema Registry server can be
//! installed from this machine's package registries. Claims of compatibility
//! with Confluent rest on the real Confluent code (the golden fixtures and the
//! Java check), not on this double.
//!
//! Endpoints: `POST /subjects/{s}/versions` (register), `POST /subjects/{s}`
//! (look up), `GET /subjects`, `GET /subjects/{s}/versions`,
//! `GET /subjects/{s}/versions/{n|latest}`, `GET /schemas/ids/{id}`,
//! `GET|PUT /config` and `/config/{s}` (`BACKWARD` default, `NONE`,
//! `FORWARD`, `FULL`), `DELETE /subjects/{s}`. Compatibility checks are
//! delegated to `apache-avro`'s schema resolution (`SchemaCompatibility`,
//! through `velocity_converter_avro::compat`)
//! against the latest version. Errors use Confluent's bodies and codes
//! (`{"error_code":40401,"message":"Subject 'x' not found."}`, 40403, 409,
//! 42201, 401). Optional basic auth (`user:password`). State lives in memory
//! and survives [`TestRegistry::stop`] + [`TestRegistry::start_with`] (to
//! simulate an outage).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Value as Json};
use velocity_converter_avro::compat::incompatibility;
use velocity_converter_avro::parse::parse_schema;

/// The registry's data: schemas by id, subjects with their versions, configs.
#[derive(Default)]
pub struct Store {
    /// Schema texts; id = index + 1.
    schemas: Vec<String>,
    /// Subject → ids of its versions (version = index + 1).
    subjects: BTreeMap<String, Vec<i32>>,
    /// Subject compatibility overrides.
    config: BTreeMap<String, String>,
    /// Global compatibility.
    global: String,
    /// Number of requests served (all endpoints), for tests that count calls.
    pub requests: u64,
}

/// Shared state of a running registry.
pub type Shared = Arc<Mutex<Store>>;

/// A new, empty store (global compatibility BACKWARD).
pub fn new_store() -> Shared {
    Arc::new(Mutex::new(Store {
        global: "BACKWARD".into(),
        ..Store::default()
    }))
}

#[derive(Clone)]
struct App {
    store: Shared,
    auth: Option<String>,
}

fn err(status: u16, code: i64, message: impl Into<String>) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("content-type", "application/vnd.schemaregistry.v1+json")],
        json!({"error_code": code, "message": message.into()}).to_string(),
    )
        .into_response()
}

fn ok(j: Json) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/vnd.schemaregistry.v1+json")],
        j.to_string(),
    )
        .into_response()
}

fn same(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Json>(a),
        serde_json::from_str::<Json>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

impl App {
    /// None when authorized, else the 401 response.
    fn check(&self, h: &HeaderMap) -> Option<Response> {
        let want = self.auth.as_ref()?;
        let expect = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(want)
        );
        match h.get("authorization").and_then(|v| v.to_str().ok()) {
            Some(v) if v == expect => None,
            _ => Some(err(401, 401, "Unauthorized")),
        }
    }
}

fn schema_of(body: &Bytes) -> Result<String, Box<Response>> {
    let j: Json = serde_json::from_slice(body)
        .map_err(|e| Box::new(err(422, 42201, format!("Invalid request body: {e}"))))?;
    let s = j
        .get("schema")
        .and_then(Json::as_str)
        .ok_or_else(|| Box::new(err(422, 42201, "Empty schema")))?;
    parse_schema(s).map_err(|e| Box::new(err(422, 42201, format!("Invalid schema: {e}"))))?;
    Ok(s.to_owned())
}

/// Why `new` may not follow `old` under `level`; None when it may. The check
/// is apache-avro's schema resolution (via the converter crate, which also
/// names the breaking field).
fn incompatible(level: &str, old: &str, new: &str) -> Option<String> {
    let backward = || incompatibility(old, new);
    let forward = || incompatibility(new, old);
    match level {
        "NONE" => None,
        "FORWARD" | "FORWARD_TRANSITIVE" => forward(),
        "FULL" | "FULL_TRANSITIVE" => backward().or_else(forward),
        _ => backward(),
    }
}

/// The common start of the schema-posting endpoints: credentials, the
/// `{"schema": …}` body, the locked store (counting the request).
fn with_schema<'a>(
    app: &'a App,
    h: &HeaderMap,
    body: &Bytes,
) -> Result<(std::sync::MutexGuard<'a, Store>, String), Box<Response>> {
    if let Some(r) = app.check(h) {
        return Err(Box::new(r));
    }
    let text = schema_of(body)?;
    let mut st = app.store.lock().expect("store");
    st.requests += 1;
    Ok((st, text))
}

async fn register(
    State(app): State<App>,
    Path(subject): Path<String>,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    let (mut st, text) = match with_schema(&app, &h, &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let versions = st.subjects.get(&subject).cloned().unwrap_or_default();
    for id in &versions {
        if same(&st.schemas[(*id - 1) as usize], &text) {
            return ok(json!({"id": id}));
        }
    }
    if let Some(last) = versions.last() {
        let level = st
            .config
            .get(&subject)
            .cloned()
            .unwrap_or_else(|| st.global.clone());
        if let Some(why) = incompatible(&level, &st.schemas[(*last - 1) as usize], &text) {
            return err(
                409,
                409,
                format!("Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{why}]"),
            );
        }
    }
    let id = match st.schemas.iter().position(|s| same(s, &text)) {
        Some(i) => i as i32 + 1,
        None => {
            st.schemas.push(text);
            st.schemas.len() as i32
        }
    };
    st.subjects.entry(subject).or_default().push(id);
    ok(json!({"id": id}))
}

async fn lookup(
    State(app): State<App>,
    Path(subject): Path<String>,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    let (st, text) = match with_schema(&app, &h, &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let Some(versions) = st.subjects.get(&subject) else {
        return err(404, 40401, format!("Subject '{subject}' not found."));
    };
    for (i, id) in versions.iter().enumerate() {
        let s = &st.schemas[(*id - 1) as usize];
        if same(s, &text) {
            return ok(json!({"subject": subject, "id": id, "version": i + 1, "schema": s}));
        }
    }
    err(404, 40403, "Schema not found")
}

async fn subjects(State(app): State<App>, h: HeaderMap) -> Response {
    if let Some(r) = app.check(&h) {
        return r;
    }
    let st = app.store.lock().expect("store");
    ok(json!(st.subjects.keys().collect::<Vec<_>>()))
}

async fn versions(State(app): State<App>, Path(subject): Path<String>, h: HeaderMap) -> Response {
    if let Some(r) = app.check(&h) {
        return r;
    }
    let st = app.store.lock().expect("store");
    match st.subjects.get(&subject) {
        None => err(404, 40401, format!("Subject '{subject}' not found.")),
        Some(v) => ok(json!((1..=v.len()).collect::<Vec<_>>())),
    }
}

async fn version(
    State(app): State<App>,
    Path((subject, version)): Path<(String, String)>,
    h: HeaderMap,
) -> Response {
    if let Some(r) = app.check(&h) {
        return r;
    }
    let mut st = app.store.lock().expect("store");
    st.requests += 1;
    let Some(v) = st.subjects.get(&subject) else {
        return err(404, 40401, format!("Subject '{subject}' not found."));
    };
    let n = if version == "latest" || version == "-1" {
        v.len()
    } else {
        match version.parse::<usize>() {
            Ok(n) if n >= 1 && n <= v.len() => n,
            _ => return err(404, 40402, format!("Version {version} not found.")),
        }
    };
    let id = v[n - 1];
    ok(json!({"subject": subject, "version": n, "id": id, "schema": st.schemas[(id - 1) as usize]}))
}

async fn by_id(State(app): State<App>, Path(id): Path<i32>, h: HeaderMap) -> Response {
    if let Some(r) = app.check(&h) {
        return r;
    }
    let mut st = app.store.lock().expect("store");
    st.requests += 1;
    match usize::try_from(id - 1).ok().and_then(|i| st.schemas.get(i)) {
        Some(s) => ok(json!({"schema": s})),
        None => err(404, 40403, format!("Schema {id} not found")),
    }
}

async fn delete_subject(
    State(app): State<App>,
    Path(subject): Path<String>,
    h: HeaderMap,
) -> Response {
    if let Some(r) = app.check(&h) {
        return r;
    }
    let mut st = app.store.lock().expect("store");
    match st.subjects.remove(&subject) {
        None => err(404, 40401, format!("Subject '{subject}' not found.")),
        Some(v) => ok(json!((1..=v.len()).collect::<Vec<_>>())),
    }
}

fn compat_body(body: &Bytes) -> Result<String, Box<Response>> {
    let j: Json = serde_json::from_slice(body)
        .map_err(|e| Box::new(err(422, 42203, format!("Invalid compatibility level: {e}"))))?;
    let level = j
        .get("compatibility")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_ascii_uppercase();
    const LEVELS: &[&str] = &[
        "NONE",
        "BACKWARD",
        "BACKWARD_TRANSITIVE",
        "FORWARD",
        "FORWARD_TRANSITIVE",
        "FULL",
        "FULL_TRANSITIVE",
    ];
    if !LEVELS.contains(&level.as_str()) {
        return Err(Box::new(err(422, 42203, "Invalid compatibility level")));
    }
    Ok(level)
}

async fn get_global(State(app): State<App>, h: HeaderMap) -> Response {
    if let Some(r) = app.check(&h) {
        return r;
    }
    let st = app.store.lock().expect("store");
    ok(json!({"compatibilityLevel": st.global}))
}

async fn put_global(State(app): State<App>, h: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = app.check(&h) {
        return r;
    }
    match compat_body(&body) {
        Err(r) => *r,
        Ok(level) => {
            app.store.lock().expect("store").global = level.clone();
            ok(json!({"compatibility": level}))
        }
    }
}

async fn get_subject_config(
    State(app): State<App>,
    Path(subject): Path<String>,
    h: HeaderMap,
) -> Response {
    if let Some(r) = app.check(&h) {
        return r;
    }
    let st = app.store.lock().expect("store");
    match st.config.get(&subject) {
        Some(l) => ok(json!({"compatibilityLevel": l})),
        None => err(
            404,
            40408,
            format!("Subject '{subject}' does not have subject-level compatibility configured"),
        ),
    }
}

async fn put_subject_config(
    State(app): State<App>,
    Path(subject): Path<String>,
    h: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = app.check(&h) {
        return r;
    }
    match compat_body(&body) {
        Err(r) => *r,
        Ok(level) => {
            app.store
                .lock()
                .expect("store")
                .config
                .insert(subject, level.clone());
            ok(json!({"compatibility": level}))
        }
    }
}

/// The router over `store`; `auth` = required `user:password`, if any.
pub fn router(store: Shared, auth: Option<String>) -> Router {
    Router::new()
        .route("/subjects", get(subjects))
        .route("/subjects/{subject}", post(lookup).delete(delete_subject))
        .route("/subjects/{subject}/versions", post(register).get(versions))
        .route("/subjects/{subject}/versions/{version}", get(version))
        .route("/schemas/ids/{id}", get(by_id))
        .route("/config", get(get_global).put(put_global))
        .route(
            "/config/{subject}",
            get(get_subject_config).put(put_subject_config),
        )
        .with_state(App { store, auth })
}

/// A registry running on its own thread and runtime.
pub struct TestRegistry {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Bound address.
    pub addr: SocketAddr,
    /// The data (kept across stop/start).
    pub store: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestRegistry {
    /// Starts an empty registry on a free loopback port, without auth.
    pub fn start() -> std::io::Result<TestRegistry> {
        Self::start_with(new_store(), "127.0.0.1:0", None)
    }

    /// Starts a registry over `store` on `addr` (e.g. the address of a
    /// stopped one, to end a simulated outage), requiring `auth` if given.
    pub fn start_with(
        store: Shared,
        addr: &str,
        auth: Option<String>,
    ) -> std::io::Result<TestRegistry> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = router(Arc::clone(&store), auth);
        let thread = std::thread::Builder::new()
            .name("test-registry".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = rx.await;
                        })
                        .await;
                });
            })?;
        Ok(TestRegistry {
            url: format!("http://{addr}"),
            addr,
            store,
            stop: Some(tx),
            thread: Some(thread),
        })
    }

    /// Stops serving (connections are refused until started again).
    pub fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Requests served so far (register, look-up, version and id reads).
    pub fn requests(&self) -> u64 {
        self.store.lock().map(|s| s.requests).unwrap_or(0)
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}
