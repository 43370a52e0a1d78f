//! Kafka's config providers (KIP-297, KIP-421, KIP-887, KIP-993): config
//! values of the form `${provider:path:key}` or `${provider:key}` are
//! replaced by a value the worker reads from a file, a directory or the
//! environment.
//!
//! Configured in the worker properties exactly as in Kafka:
//!
//! ```properties
//! config.providers=file,directory,env
//! config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider
//! config.providers.file.param.allowed.paths=/etc/velocity/secrets
//! config.providers.directory.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider
//! config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider
//! config.providers.env.param.allowlist.pattern=^PG_.*
//! ```
//!
//! - `FileConfigProvider`: `${file:/path/creds.properties:db.password}`, the
//!   key `db.password` of a Java properties file;
//! - `DirectoryConfigProvider`: `${directory:/run/secrets:db-password}`, the
//!   whole content of the file `db-password` in that directory (regular files
//!   only, not following the directory's subdirectories);
//! - `EnvVarConfigProvider`: `${env:PG_PASSWORD}` (also `${env::PG_PASSWORD}`).
//!
//! Contract: the herder stores and returns configs with their placeholders;
//! values are resolved only for validation and when a connector or task
//! starts ([`ConfigProviders::resolve`]), and the resolved map is never
//! logged. Unlike Kafka, which logs a warning and leaves the placeholder in
//! place (so the literal `${file:…}` reaches the database), a path outside
//! `allowed.paths`, a variable outside `allowlist.pattern`, a missing file or
//! a missing key is an error naming the config key and the provider setting
//! to change. Placeholders naming a provider that is not configured stay as
//! they are, as in Kafka (so `${topic}`-style templates are untouched).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use regex::Regex;
use velocity_api::RawConfig;

use crate::error::{Result, RuntimeError};

/// Kafka's `FileConfigProvider` class.
pub const FILE_PROVIDER: &str = "org.apache.kafka.common.config.provider.FileConfigProvider";
/// Kafka's `DirectoryConfigProvider` class.
pub const DIRECTORY_PROVIDER: &str =
    "org.apache.kafka.common.config.provider.DirectoryConfigProvider";
/// Kafka's `EnvVarConfigProvider` class.
pub const ENV_PROVIDER: &str = "org.apache.kafka.common.config.provider.EnvVarConfigProvider";

/// Kafka's `AllowedPaths`: `allowed.paths` as a list of absolute, normalised
/// directories (or files); unset allows every path.
#[derive(Debug, Clone, Default)]
struct AllowedPaths {
    /// None: no limit.
    paths: Option<Vec<PathBuf>>,
    /// The setting as given, for messages.
    raw: String,
}

impl AllowedPaths {
    fn parse(key: &str, value: Option<&String>) -> Result<AllowedPaths> {
        let Some(raw) = value.map(|v| v.trim()).filter(|v| !v.is_empty()) else {
            return Ok(AllowedPaths::default());
        };
        let mut paths = Vec::new();
        for p in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let path = Path::new(p);
            if !path.is_absolute() {
                return Err(RuntimeError::BadRequest(format!(
                    "Invalid value {raw} for configuration {key}: Path {p} is not absolute; list absolute directories separated by commas"
                )));
            }
            paths.push(normalise(path));
        }
        Ok(AllowedPaths {
            paths: Some(paths),
            raw: raw.to_owned(),
        })
    }

    /// The normalised path when it is allowed.
    fn check(&self, path: &str) -> std::result::Result<PathBuf, String> {
        let p = Path::new(path);
        if !p.is_absolute() {
            return Err(format!("the path {path} is not absolute"));
        }
        let n = normalise(p);
        match &self.paths {
            None => Ok(n),
            Some(list) if list.iter().any(|a| n.starts_with(a)) => Ok(n),
            Some(_) => Err(format!(
                "the path {path} is outside the allowed paths ({})",
                self.raw
            )),
        }
    }
}

/// Removes `.` and resolves `..` lexically (Kafka's `Path.normalize()`).
fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[derive(Debug, Clone)]
enum Provider {
    File(AllowedPaths),
    Directory(AllowedPaths),
    Env(Regex),
}

/// The worker's configured providers (`config.providers`).
#[derive(Debug, Clone, Default)]
pub struct ConfigProviders {
    providers: BTreeMap<String, Provider>,
}

/// Where a provider was configured, for messages.
fn param_key(name: &str, param: &str) -> String {
    format!("config.providers.{name}.param.{param}")
}

impl ConfigProviders {
    /// Reads `config.providers` and each `config.providers.<name>.class` /
    /// `.param.*` from the worker properties. Unknown classes are refused
    /// naming the key and the classes Velocity has.
    pub fn from_worker(worker: &RawConfig) -> Result<ConfigProviders> {
        let mut providers = BTreeMap::new();
        let names = worker
            .get("config.providers")
            .map(String::as_str)
            .unwrap_or("");
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let class_key = format!("config.providers.{name}.class");
            let class = worker.get(&class_key).map(|c| c.trim()).unwrap_or("");
            let allowed = |n: &str| {
                let k = param_key(n, "allowed.paths");
                AllowedPaths::parse(&k, worker.get(&k))
            };
            let p = match class {
                FILE_PROVIDER | "FileConfigProvider" => Provider::File(allowed(name)?),
                DIRECTORY_PROVIDER | "DirectoryConfigProvider" => {
                    Provider::Directory(allowed(name)?)
                }
                ENV_PROVIDER | "EnvVarConfigProvider" => {
                    let k = param_key(name, "allowlist.pattern");
                    let pattern = worker.get(&k).map(String::as_str).unwrap_or(".*");
                    // Java's Pattern.matcher(..).matches(): the whole name.
                    let re = Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
                        RuntimeError::BadRequest(format!(
                            "Invalid value {pattern} for configuration {k}: not a valid regular expression ({e})"
                        ))
                    })?;
                    Provider::Env(re)
                }
                "" => {
                    return Err(RuntimeError::BadRequest(format!(
                        "Missing required configuration \"{class_key}\" which has no default value: config.providers lists {name}; set it to {FILE_PROVIDER}, {DIRECTORY_PROVIDER} or {ENV_PROVIDER}"
                    )))
                }
                other => {
                    return Err(RuntimeError::BadRequest(format!(
                        "Invalid value {other} for configuration {class_key}: Velocity provides {FILE_PROVIDER}, {DIRECTORY_PROVIDER} and {ENV_PROVIDER}"
                    )))
                }
            };
            providers.insert(name.to_owned(), p);
        }
        Ok(ConfigProviders { providers })
    }

    /// True when no provider is configured.
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// True when `value` holds a placeholder of a configured provider.
    pub fn has_placeholder(&self, value: &str) -> bool {
        placeholders(value).any(|p| self.providers.contains_key(p.provider))
    }

    /// The config with every placeholder of a configured provider replaced.
    /// Errors name the config key, the placeholder and the fix; they never
    /// contain a resolved value.
    pub fn resolve(&self, config: &RawConfig) -> Result<RawConfig> {
        if self.providers.is_empty() {
            return Ok(config.clone());
        }
        let mut out = RawConfig::new();
        for (k, v) in config {
            out.insert(k.clone(), self.resolve_value(k, v)?);
        }
        Ok(out)
    }

    /// Resolves the placeholders of one value of config key `key`.
    pub fn resolve_value(&self, key: &str, value: &str) -> Result<String> {
        if !value.contains("${") {
            return Ok(value.to_owned());
        }
        let mut out = String::with_capacity(value.len());
        let mut last = 0;
        for p in placeholders(value) {
            let Some(provider) = self.providers.get(p.provider) else {
                continue;
            };
            out.push_str(&value[last..p.start]);
            let resolved = self.lookup(provider, &p).map_err(|why| {
                RuntimeError::BadRequest(format!(
                    "Invalid value {} for configuration {key}: config provider {} could not resolve it: {why}",
                    &value[p.start..p.end],
                    p.provider
                ))
            })?;
            out.push_str(&resolved);
            last = p.end;
        }
        out.push_str(&value[last..]);
        Ok(out)
    }

    fn lookup(
        &self,
        provider: &Provider,
        p: &Placeholder<'_>,
    ) -> std::result::Result<String, String> {
        let name = p.provider;
        match provider {
            Provider::File(allowed) => {
                let path = p.path.filter(|s| !s.is_empty()).ok_or_else(|| {
                    "a file placeholder needs a path: ${file:/path/to/file.properties:key}"
                        .to_owned()
                })?;
                let path = allowed.check(path).map_err(|e| {
                    format!(
                        "{e}; add its directory to {}",
                        param_key(name, "allowed.paths")
                    )
                })?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                crate::properties::parse(&text)
                    .remove(p.key)
                    .ok_or_else(|| format!("the file {} has no key {}", path.display(), p.key))
            }
            Provider::Directory(allowed) => {
                let dir = p.path.filter(|s| !s.is_empty()).ok_or_else(|| {
                    "a directory placeholder needs a directory: ${directory:/dir:file}".to_owned()
                })?;
                let dir = allowed
                    .check(dir)
                    .map_err(|e| format!("{e}; add it to {}", param_key(name, "allowed.paths")))?;
                if p.key.contains('/') || p.key == ".." || p.key == "." {
                    return Err(format!("{} is not a file name in {}", p.key, dir.display()));
                }
                let file = dir.join(p.key);
                let meta = std::fs::metadata(&file)
                    .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
                if !meta.is_file() {
                    return Err(format!("{} is not a regular file", file.display()));
                }
                std::fs::read_to_string(&file)
                    .map_err(|e| format!("cannot read {}: {e}", file.display()))
            }
            Provider::Env(allow) => {
                if p.path.is_some_and(|s| !s.is_empty()) {
                    return Err("environment variables take no path: ${env:NAME}".into());
                }
                if !allow.is_match(p.key) {
                    return Err(format!(
                        "the environment variable {} does not match {} ({})",
                        p.key,
                        param_key(name, "allowlist.pattern"),
                        allow
                            .as_str()
                            .trim_start_matches("^(?:")
                            .trim_end_matches(")$")
                    ));
                }
                std::env::var(p.key)
                    .map_err(|_| format!("the environment variable {} is not set", p.key))
            }
        }
    }
}

/// True when `value` is exactly one `${provider:[path:]key}` placeholder
/// (of any provider): what REST shows as stored instead of `[hidden]`.
pub fn is_placeholder(value: &str) -> bool {
    let mut it = placeholders(value);
    matches!(it.next(), Some(p) if p.start == 0 && p.end == value.len()) && it.next().is_none()
}

/// One `${provider:[path:]key}` occurrence.
struct Placeholder<'a> {
    start: usize,
    end: usize,
    provider: &'a str,
    path: Option<&'a str>,
    key: &'a str,
}

/// Kafka's `ConfigTransformer.DEFAULT_PATTERN`:
/// `\$\{([^}]*?):(([^}]*?):)?([^}]*?)\}`.
fn placeholders(value: &str) -> impl Iterator<Item = Placeholder<'_>> {
    let mut pos = 0;
    std::iter::from_fn(move || loop {
        let start = pos + value[pos..].find("${")?;
        let body_start = start + 2;
        let close = body_start + value[body_start..].find('}')?;
        pos = close + 1;
        let body = &value[body_start..close];
        let Some((provider, rest)) = body.split_once(':') else {
            continue;
        };
        // the lazy groups of Kafka's pattern split at the first colon after
        // the provider: ${file:/a:b} → path /a, key b; ${env:X} → key X
        let (path, key) = match rest.split_once(':') {
            Some((path, key)) => (Some(path), key),
            None => (None, rest),
        };
        return Some(Placeholder {
            start,
            end: close + 1,
            provider,
            path,
            key,
        });
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_support::cfg;

    fn providers(dir: &Path) -> ConfigProviders {
        ConfigProviders::from_worker(&cfg(&[
            ("config.providers", "file,directory,env"),
            ("config.providers.file.class", FILE_PROVIDER),
            (
                "config.providers.file.param.allowed.paths",
                dir.to_str().unwrap(),
            ),
            ("config.providers.directory.class", DIRECTORY_PROVIDER),
            (
                "config.providers.directory.param.allowed.paths",
                dir.to_str().unwrap(),
            ),
            ("config.providers.env.class", ENV_PROVIDER),
            (
                "config.providers.env.param.allowlist.pattern",
                "VELOCITY_CP_.*",
            ),
        ]))
        .unwrap()
    }

    #[test]
    fn resolves_file_directory_and_env() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("creds.properties"),
            "db.password=s3cret\nuser = bob\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("token"), "tok\n").unwrap();
        std::env::set_var("VELOCITY_CP_HOST", "db.example");
        let p = providers(dir.path());
        let d = dir.path().display();
        let c = cfg(&[
            ("a", &format!("${{file:{d}/creds.properties:db.password}}")),
            (
                "b",
                &format!("u=${{file:{d}/creds.properties:user}};t=${{directory:{d}:token}}"),
            ),
            ("c", "${env:VELOCITY_CP_HOST}:5432"),
            ("d", "${topic}:${key}"),
            ("e", "${vault:secret/x:y}"),
        ]);
        let r = p.resolve(&c).unwrap();
        assert_eq!(r["a"], "s3cret");
        assert_eq!(r["b"], "u=bob;t=tok\n");
        assert_eq!(r["c"], "db.example:5432");
        assert_eq!(r["d"], "${topic}:${key}");
        assert_eq!(
            r["e"], "${vault:secret/x:y}",
            "unknown providers stay as in Kafka"
        );
        assert!(p.has_placeholder(&c["a"]));
        assert!(!p.has_placeholder(&c["d"]));
    }

    #[test]
    fn paths_outside_allowed_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = providers(&dir.path().join("only"));
        let d = dir.path().display();
        for v in [
            format!("${{file:{d}/x.properties:k}}"),
            format!("${{file:{d}/only/../x.properties:k}}"),
            format!("${{directory:{d}:k}}"),
        ] {
            let e = p
                .resolve_value("database.password", &v)
                .unwrap_err()
                .to_string();
            assert!(e.contains("database.password"), "{e}");
            assert!(e.contains("outside the allowed paths"), "{e}");
            assert!(e.contains("allowed.paths"), "{e}");
        }
    }

    #[test]
    fn env_allowlist_and_missing_values_are_errors_without_values() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c.properties"), "k=v\n").unwrap();
        std::env::set_var("VELOCITY_OTHER_SECRET", "nope");
        let p = providers(dir.path());
        let e = p
            .resolve_value("x", "${env:VELOCITY_OTHER_SECRET}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("allowlist.pattern"), "{e}");
        assert!(!e.contains("nope"), "{e}");
        let e = p
            .resolve_value(
                "x",
                &format!("${{file:{}/c.properties:missing}}", dir.path().display()),
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("has no key missing"), "{e}");
        let e = p
            .resolve_value("x", "${env:VELOCITY_CP_NOT_SET_ANYWHERE}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not set"), "{e}");
    }

    #[test]
    fn bad_provider_config_names_the_key() {
        let e = ConfigProviders::from_worker(&cfg(&[("config.providers", "file")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("config.providers.file.class"), "{e}");
        let e = ConfigProviders::from_worker(&cfg(&[
            ("config.providers", "v"),
            ("config.providers.v.class", "com.example.Vault"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("config.providers.v.class"), "{e}");
        let e = ConfigProviders::from_worker(&cfg(&[
            ("config.providers", "file"),
            ("config.providers.file.class", FILE_PROVIDER),
            ("config.providers.file.param.allowed.paths", "relative/dir"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("not absolute"), "{e}");
    }
}
