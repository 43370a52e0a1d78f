//! `io.velocity.transforms.WasmTransform` (alias `wasm`): a user plugin
//! transform loaded from a WebAssembly module named in the config, run in
//! the pure-Rust interpreter `wasmi` — no rebuild of Velocity, and a plugin
//! cannot reach anything outside its own linear memory (it gets no imports).
//!
//! Keys (under `transforms.<alias>.`):
//! - `wasm.path` (required): the module, binary `.wasm` or WebAssembly text
//!   `.wat` (compiled with the `wat` crate when loaded);
//! - `wasm.fuel` (default 10000000): the fuel budget per record (roughly
//!   one unit per executed instruction); a plugin that runs out fails the
//!   task with "plugin exceeded its fuel budget";
//! - `wasm.memory.max.bytes` (default 16777216): the most linear memory the
//!   plugin may have; growing past it fails the task with "plugin exceeded
//!   its memory limit".
//!
//! A trap (unreachable, out-of-bounds access, stack exhaustion, …) fails the
//! task with "plugin trapped: …"; none of these take the worker down.
//!
//! ABI (documented with examples in `examples/plugins/route-by-prefix/README.md`): the
//! module exports `memory`, `alloc(len: i32) -> i32` and
//! `transform(ptr: i32, len: i32) -> i64`. Per record the host calls
//! `alloc(n)`, writes the record as `n` bytes of UTF-8 JSON
//! (`{"topic","partition","key","value","timestamp","headers"}`, values
//! schemaless) at the returned address, and calls `transform`. The result
//! packs the output JSON's address in the high 32 bits and its length in the
//! low 32 bits; `-1` drops the record. When the host calls `alloc` again it
//! no longer needs any earlier buffer, so a plugin may reset its heap there.
//! Output records are schemaless; fields left out of the output JSON keep
//! nothing from the input (send back what you want to keep).

use std::path::Path;

use base64::Engine as _;
use velocity_api::config::{ConfigReader, TypedConfig};
use velocity_api::{
    ConfigDef, ConfigKey, ConnectError, ConnectRecord, Header, RawConfig, Result, Transform, Value,
};
use wasmi::core::TrapCode;
use wasmi::errors::{ErrorKind, MemoryError};
use wasmi::{Engine, Linker, Memory, Module, Store, StoreLimits, StoreLimitsBuilder, TypedFunc};

use crate::error::{config_err, read_config};

pub use keys::*;

/// The keys of the wasm transform, each declared once.
pub mod keys {
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `wasm.path`: the plugin module, `.wasm` or `.wat` (required).
        WASM_PATH = ConfigKey::new("wasm.path", String, None, High, "The plugin module: a .wasm binary or a .wat text file.");
        /// `wasm.fuel`: fuel per record, at least 1 (default 10 000 000).
        WASM_FUEL = ConfigKey::new("wasm.fuel", Long, Some("10000000"), Medium, "Fuel (about one unit per instruction) the plugin may use per record.").at_least(1);
        /// `wasm.memory.max.bytes`: the most linear memory, 64 KiB to 4 GiB (default 16 MiB).
        WASM_MEMORY_MAX_BYTES = ConfigKey::new("wasm.memory.max.bytes", Long, Some("16777216"), Medium, "Most linear memory the plugin may grow to.").range(65_536, 4 * 1024 * 1024 * 1024);
    }
}

/// The typed configuration of the wasm transform.
#[derive(Debug, Clone, Default)]
pub struct WasmConfig {
    path: String,
    fuel: u64,
    max_memory: usize,
}

impl TypedConfig for WasmConfig {
    const KEYS: &'static [ConfigKey] = KEYS;

    fn read(r: &mut ConfigReader<'_>) -> WasmConfig {
        WasmConfig {
            path: r.string(&WASM_PATH),
            fuel: r.int(&WASM_FUEL),
            max_memory: r.int(&WASM_MEMORY_MAX_BYTES),
        }
    }
}

/// Default of `wasm.fuel`.
pub const DEFAULT_FUEL: u64 = 10_000_000;
/// Default of `wasm.memory.max.bytes`.
pub const DEFAULT_MAX_MEMORY: usize = 16 * 1024 * 1024;

struct Plugin {
    store: Store<StoreLimits>,
    memory: Memory,
    alloc: TypedFunc<i32, i32>,
    transform: TypedFunc<(i32, i32), i64>,
}

/// `io.velocity.transforms.WasmTransform` (see the module docs).
#[derive(Default)]
pub struct WasmTransform {
    path: String,
    fuel: u64,
    max_memory: usize,
    plugin: Option<Plugin>,
}

impl WasmTransform {
    /// The keys of this transform.
    pub fn def() -> ConfigDef {
        WasmConfig::config_def()
    }

    /// Compiles and instantiates `path` with the configured limits.
    fn load(&self) -> Result<Plugin> {
        let key = WASM_PATH.name;
        let bytes = std::fs::read(&self.path)
            .map_err(|e| config_err(key, format!("cannot read plugin {}: {e}", self.path)))?;
        let is_text = Path::new(&self.path)
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("wat"));
        let wasm = if is_text {
            wat::parse_bytes(&bytes)
                .map_err(|e| {
                    config_err(
                        key,
                        format!("invalid WebAssembly text in {}: {e}", self.path),
                    )
                })?
                .into_owned()
        } else {
            bytes
        };
        let mut config = wasmi::Config::default();
        config.consume_fuel(true);
        let engine = Engine::new(&config);
        let module = Module::new(&engine, &wasm).map_err(|e| {
            config_err(
                key,
                format!("invalid WebAssembly module {}: {e}", self.path),
            )
        })?;
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.max_memory)
            .memories(1)
            .instances(1)
            .tables(1)
            .trap_on_grow_failure(true)
            .build();
        let mut store = Store::new(&engine, limits);
        store.limiter(|l| l);
        store
            .set_fuel(self.fuel)
            .map_err(|e| ConnectError::fatal(format!("plugin fuel: {e}")))?;
        // no imports: the plugin sees nothing of the host
        let linker = Linker::<StoreLimits>::new(&engine);
        let instance = linker
            .instantiate(&mut store, &module)
            .and_then(|pre| pre.start(&mut store))
            .map_err(|e| {
                config_err(
                    key,
                    format!(
                        "plugin {} cannot be instantiated (it may import functions, which plugins cannot, or need more than wasm.memory.max.bytes={}): {e}",
                        self.path, self.max_memory
                    ),
                )
            })?;
        let missing = |what: &str| {
            config_err(
                key,
                format!("plugin {} does not export {what} (see examples/plugins/route-by-prefix/README.md for the ABI)", self.path),
            )
        };
        let memory = instance
            .get_memory(&store, "memory")
            .ok_or_else(|| missing("its memory as \"memory\""))?;
        let alloc = instance
            .get_typed_func::<i32, i32>(&store, "alloc")
            .map_err(|_| missing("alloc(i32) -> i32"))?;
        let transform = instance
            .get_typed_func::<(i32, i32), i64>(&store, "transform")
            .map_err(|_| missing("transform(i32, i32) -> i64"))?;
        Ok(Plugin {
            store,
            memory,
            alloc,
            transform,
        })
    }

    fn plugin_error(&self, plugin: &Plugin, e: wasmi::Error) -> ConnectError {
        let out_of_fuel = e.as_trap_code() == Some(TrapCode::OutOfFuel)
            || matches!(
                e.kind(),
                ErrorKind::ResumableOutOfFuel(_) | ErrorKind::Fuel(_)
            )
            || plugin.store.get_fuel().is_ok_and(|f| f == 0);
        let memory = matches!(
            e.kind(),
            ErrorKind::Memory(
                MemoryError::ResourceLimiterDeniedAllocation
                    | MemoryError::OutOfBoundsGrowth
                    | MemoryError::OutOfSystemMemory
            )
        ) || e.as_trap_code() == Some(TrapCode::GrowthOperationLimited);
        if out_of_fuel {
            ConnectError::fatal(format!(
                "plugin exceeded its fuel budget (wasm.fuel={}, plugin {}): it may loop forever; raise wasm.fuel if it needs more",
                self.fuel, self.path
            ))
        } else if memory {
            ConnectError::fatal(format!(
                "plugin exceeded its memory limit (wasm.memory.max.bytes={}, plugin {}): {e}",
                self.max_memory, self.path
            ))
        } else {
            ConnectError::fatal(format!("plugin trapped: {e} (plugin {})", self.path))
        }
    }
}

/// The record as the plugin sees it: a JSON object whose first key is
/// always `topic` (so a plugin may find the topic at byte 10), then
/// `partition`, `key`, `value`, `timestamp`, `headers` (an object).
pub fn record_to_json(r: &ConnectRecord) -> Vec<u8> {
    use serde_json::Value as J;
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"topic\":");
    let headers: serde_json::Map<String, J> = r
        .headers
        .iter()
        .map(|h| (h.key.clone(), value_to_json(&h.value)))
        .collect();
    let parts: [(&str, J); 5] = [
        ("partition", r.partition.map_or(J::Null, Into::into)),
        ("key", value_to_json(&r.key)),
        ("value", value_to_json(&r.value)),
        ("timestamp", r.timestamp.map_or(J::Null, Into::into)),
        ("headers", J::Object(headers)),
    ];
    // serializing JSON values into a Vec cannot fail
    let _ = serde_json::to_writer(&mut out, &r.topic);
    for (k, v) in parts {
        out.push(b',');
        let _ = serde_json::to_writer(&mut out, k);
        out.push(b':');
        let _ = serde_json::to_writer(&mut out, &v);
    }
    out.push(b'}');
    out
}

/// A Connect value as schemaless JSON (structs and string-keyed maps as
/// objects, bytes as base64).
pub fn value_to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Int8(i) => (*i).into(),
        Value::Int16(i) => (*i).into(),
        Value::Int32(i) => (*i).into(),
        Value::Int64(i) => (*i).into(),
        Value::Float32(f) => serde_json::Number::from_f64(f64::from(*f)).map_or(J::Null, J::Number),
        Value::Float64(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::Boolean(b) => J::Bool(*b),
        Value::String(s) => J::String(s.clone()),
        Value::Bytes(b) => J::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Array(a) => J::Array(a.iter().map(value_to_json).collect()),
        Value::Map(m) => J::Object(
            m.iter()
                .map(|(k, v)| (crate::util::map_key(k), value_to_json(v)))
                .collect(),
        ),
        Value::Struct(s) => J::Object(
            s.schema
                .fields
                .iter()
                .zip(&s.values)
                .map(|(f, v)| (f.name.clone(), value_to_json(v)))
                .collect(),
        ),
    }
}

/// Schemaless JSON as a Connect value (objects as string-keyed maps,
/// integers as int64, other numbers as float64).
pub fn json_to_value(j: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match j {
        J::Null => Value::Null,
        J::Bool(b) => Value::Boolean(*b),
        J::Number(n) => n
            .as_i64()
            .map(Value::Int64)
            .unwrap_or_else(|| Value::Float64(n.as_f64().unwrap_or(f64::NAN))),
        J::String(s) => Value::String(s.clone()),
        J::Array(a) => Value::Array(a.iter().map(json_to_value).collect()),
        J::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (Value::String(k.clone()), json_to_value(v)))
                .collect(),
        ),
    }
}

fn record_from_json(out: &[u8]) -> Result<ConnectRecord> {
    let j: serde_json::Value = serde_json::from_slice(out).map_err(|e| {
        ConnectError::fatal(format!(
            "plugin output is not JSON ({e}): {}",
            String::from_utf8_lossy(&out[..out.len().min(200)])
        ))
    })?;
    let topic = j["topic"].as_str().ok_or_else(|| {
        ConnectError::fatal("plugin output has no \"topic\" string (see the ABI in examples/plugins/route-by-prefix/README.md)")
    })?;
    let mut r = ConnectRecord::new(
        topic,
        None,
        json_to_value(&j["key"]),
        None,
        json_to_value(&j["value"]),
    );
    r.partition = j["partition"].as_i64().and_then(|p| i32::try_from(p).ok());
    r.timestamp = j["timestamp"].as_i64();
    if let Some(h) = j["headers"].as_object() {
        r.headers = h
            .iter()
            .map(|(k, v)| Header {
                key: k.clone(),
                schema: None,
                value: json_to_value(v),
            })
            .collect();
    }
    Ok(r)
}

impl Transform for WasmTransform {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let c: WasmConfig = read_config(config)?;
        self.path = c.path;
        self.fuel = c.fuel;
        self.max_memory = c.max_memory;
        self.plugin = Some(self.load()?);
        Ok(())
    }

    fn apply(&mut self, record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let mut plugin = self.plugin.take().ok_or_else(|| {
            ConnectError::fatal("the wasm transform is not configured (or failed before)")
        })?;
        // a plugin that failed once stays failed (its state may be broken)
        let result = self.call(&mut plugin, &record);
        if result.is_ok() {
            self.plugin = Some(plugin);
        }
        result
    }

    fn config_def(&self) -> ConfigDef {
        WasmTransform::def()
    }
}

impl WasmTransform {
    fn call(&self, p: &mut Plugin, record: &ConnectRecord) -> Result<Option<ConnectRecord>> {
        let input = record_to_json(record);
        let len = i32::try_from(input.len())
            .map_err(|_| ConnectError::fatal("record too large for a wasm plugin"))?;
        p.store
            .set_fuel(self.fuel)
            .map_err(|e| ConnectError::fatal(format!("plugin fuel: {e}")))?;
        let ptr = p
            .alloc
            .call(&mut p.store, len)
            .map_err(|e| self.plugin_error(p, e))?;
        p.memory
            .write(&mut p.store, ptr as u32 as usize, &input)
            .map_err(|_| {
                ConnectError::fatal(format!(
                    "plugin {} returned an alloc address ({ptr}) with no room for {len} bytes",
                    self.path
                ))
            })?;
        let packed = p
            .transform
            .call(&mut p.store, (ptr, len))
            .map_err(|e| self.plugin_error(p, e))?;
        if packed == -1 {
            return Ok(None);
        }
        let (out_ptr, out_len) = (
            (packed as u64 >> 32) as usize,
            (packed as u64 & 0xffff_ffff) as usize,
        );
        let data = p.memory.data(&p.store);
        let out = data
            .get(out_ptr..out_ptr.saturating_add(out_len))
            .ok_or_else(|| {
                ConnectError::fatal(format!(
                    "plugin {} returned an output ({out_ptr}, {out_len}) outside its memory",
                    self.path
                ))
            })?;
        record_from_json(out).map(Some)
    }
}

/// The plugin description.
pub fn plugins() -> Vec<velocity_api::PluginDesc> {
    vec![velocity_api::PluginDesc {
        class: "io.velocity.transforms.WasmTransform",
        aliases: &["wasm"],
        version: crate::VERSION,
        config_def: WasmTransform::def,
        kind: velocity_api::PluginKind::Transform(|| Box::<WasmTransform>::default()),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::cfg;

    fn example(name: &str) -> String {
        format!("{}/../examples/plugins/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    fn plugin(path: &str, extra: &[(&str, &str)]) -> Result<WasmTransform> {
        let mut pairs = vec![("wasm.path", path)];
        pairs.extend_from_slice(extra);
        let mut t = WasmTransform::default();
        t.configure(&cfg(&pairs))?;
        Ok(t)
    }

    fn rec(topic: &str, v: &str) -> ConnectRecord {
        ConnectRecord::new(topic, None, Value::Int32(1), None, Value::String(v.into()))
    }

    #[test]
    fn the_example_plugin_transforms_and_drops_records() {
        let mut t = plugin(&example("route-by-prefix/plugin.wat"), &[]).expect("load");
        for i in 0..200 {
            let out = t
                .apply(rec("tms.tms.note", &format!("hello {i}")))
                .unwrap()
                .unwrap();
            assert_eq!(out.topic, "plugin.tms.tms.note");
            assert_eq!(out.value, Value::String(format!("hello {i}")));
            assert_eq!(out.key, Value::Int64(1));
        }
        // topics starting with "drop" are dropped
        assert_eq!(t.apply(rec("drop.me", "x")).unwrap(), None);
    }

    #[test]
    fn the_same_plugin_compiled_to_binary_loads_too() {
        let wasm = wat::parse_file(example("route-by-prefix/plugin.wat")).unwrap();
        let dir = tempfile_dir();
        let p = dir.join("plugin.wasm");
        std::fs::write(&p, wasm).unwrap();
        let mut t = plugin(p.to_str().unwrap(), &[]).unwrap();
        assert_eq!(t.apply(rec("a", "b")).unwrap().unwrap().topic, "plugin.a");
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("velocity-wasm-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_looping_plugin_fails_with_the_fuel_error() {
        let mut t = plugin(&example("misbehaving/loop.wat"), &[("wasm.fuel", "100000")]).unwrap();
        let e = t.apply(rec("a", "b")).unwrap_err().to_string();
        assert!(e.contains("plugin exceeded its fuel budget"), "{e}");
        // the failed instance is not reused
        let e = t.apply(rec("a", "b")).unwrap_err().to_string();
        assert!(e.contains("failed before"), "{e}");
    }

    #[test]
    fn a_trapping_plugin_fails_cleanly() {
        let mut t = plugin(&example("misbehaving/trap.wat"), &[]).unwrap();
        let e = t.apply(rec("a", "b")).unwrap_err().to_string();
        assert!(e.contains("trapped") && e.contains("unreachable"), "{e}");
    }

    #[test]
    fn a_memory_hog_fails_with_the_memory_error() {
        let mut t = plugin(
            &example("misbehaving/memory-hog.wat"),
            &[("wasm.memory.max.bytes", "1048576")],
        )
        .unwrap();
        let e = t.apply(rec("a", "b")).unwrap_err().to_string();
        assert!(e.contains("plugin exceeded its memory limit"), "{e}");
    }

    #[test]
    fn bad_plugins_are_config_errors() {
        let e = plugin("/nonexistent/p.wasm", &[])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("wasm.path") && e.contains("cannot read"), "{e}");
        let dir = tempfile_dir();
        let p = dir.join("noexports.wat");
        std::fs::write(&p, "(module (memory (export \"memory\") 1))").unwrap();
        let e = plugin(p.to_str().unwrap(), &[]).err().unwrap().to_string();
        assert!(e.contains("does not export alloc"), "{e}");
        let p = dir.join("imports.wat");
        std::fs::write(&p, "(module (import \"env\" \"f\" (func)))").unwrap();
        let e = plugin(p.to_str().unwrap(), &[]).err().unwrap().to_string();
        assert!(e.contains("cannot be instantiated"), "{e}");
        let e = plugin(
            &example("route-by-prefix/plugin.wat"),
            &[("wasm.fuel", "0")],
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            e.contains("Invalid value 0 for configuration wasm.fuel: Value must be at least 1"),
            "{e}"
        );
    }
}
