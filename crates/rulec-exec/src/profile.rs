//! Runtime profiles: named presets of DataFusion settings, overridden by pack.yaml `run:`
//! and `--set`, plus an optional memory limit. Every effective setting is recorded in each
//! product's manifest, and hashed into its build id.

use datafusion::execution::SessionState;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::prelude::SessionConfig;
use rulec_diagnostics::{Diagnostic, codes};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The profiles rulec knows.
pub const PROFILES: &[&str] = &["fast", "safe", "memory-limited"];

/// The memory limit of the `memory-limited` profile when none is given.
pub const DEFAULT_MEMORY_LIMIT: usize = 2 << 30;

/// A resolved runtime profile.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    /// Overrides of DataFusion settings, applied over rulec's planning options.
    pub overrides: BTreeMap<String, String>,
    /// Memory pool size in bytes; operators spill to disk beyond it.
    pub memory_limit: Option<usize>,
}

impl Profile {
    /// The profile `name` (default `fast`) with pack.yaml's settings, then `sets`, over it.
    pub fn resolve(
        name: Option<&str>,
        pack_settings: &BTreeMap<String, serde_yaml::Value>,
        sets: &[(String, String)],
        memory_limit: Option<usize>,
    ) -> Result<Profile, Diagnostic> {
        let name = name.unwrap_or("fast");
        let mut overrides: BTreeMap<String, String> = match name {
            "fast" => BTreeMap::new(),
            // One partition: no repartitioning, deterministic order, least memory per
            // operator.
            "safe" => [("datafusion.execution.target_partitions", "1")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into(),
            "memory-limited" => [
                ("datafusion.execution.target_partitions", "2"),
                ("datafusion.execution.batch_size", "4096"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into(),
            other => {
                return Err(Diagnostic::error(
                    codes::INVALID_RUN_SETTING,
                    format!(
                        "unknown profile `{other}`; profiles: {}",
                        PROFILES.join(", ")
                    ),
                ));
            }
        };
        for (key, value) in pack_settings {
            let value = match value {
                serde_yaml::Value::String(s) => s.clone(),
                serde_yaml::Value::Bool(b) => b.to_string(),
                serde_yaml::Value::Number(n) => n.to_string(),
                other => {
                    return Err(Diagnostic::error(
                        codes::INVALID_RUN_SETTING,
                        format!(
                            "pack.yaml `run.settings.{key}`: expected a scalar, found {other:?}"
                        ),
                    )
                    .in_file("pack.yaml"));
                }
            };
            overrides.insert(key.clone(), value);
        }
        for (key, value) in sets {
            overrides.insert(key.clone(), value.clone());
        }
        let memory_limit =
            memory_limit.or((name == "memory-limited").then_some(DEFAULT_MEMORY_LIMIT));
        let profile = Profile {
            name: name.to_owned(),
            overrides,
            memory_limit,
        };
        profile.config()?;
        Ok(profile)
    }

    /// The session configuration: rulec's planning options, then the overrides.
    pub fn config(&self) -> Result<SessionConfig, Diagnostic> {
        let mut options = rulec_compile::planning_options();
        for (key, value) in &self.overrides {
            options.set(key, value).map_err(|e| {
                Diagnostic::error(
                    codes::INVALID_RUN_SETTING,
                    format!(
                        "setting `{key}={value}`: {}",
                        rulec_compile::clean_message(&e)
                    ),
                )
            })?;
        }
        Ok(crate::session::config(options))
    }

    /// A session for this profile: its configuration, DataFusion's default functions, and
    /// a memory pool that spills when a limit is set.
    pub fn run_session(&self) -> Result<SessionState, Diagnostic> {
        let config = self.config()?;
        let mut runtime = crate::session::runtime_builder();
        if let Some(limit) = self.memory_limit {
            runtime = runtime.with_memory_limit(limit, 1.0);
        }
        let runtime: Arc<RuntimeEnv> = runtime.build_arc().map_err(|e| {
            Diagnostic::error(codes::INVALID_RUN_SETTING, format!("memory limit: {e}"))
        })?;
        Ok(crate::session::engine_state(config, runtime))
    }

    /// Every effective setting (all DataFusion options, then rulec's), as recorded in
    /// manifests.
    pub fn effective_settings(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Ok(config) = self.config() {
            for entry in config.options().entries() {
                out.insert(entry.key, entry.value.unwrap_or_default());
            }
        }
        out.insert("rulec.profile".to_owned(), self.name.clone());
        out.insert(
            "rulec.memory_limit".to_owned(),
            self.memory_limit
                .map(|m| m.to_string())
                .unwrap_or_else(|| "none".to_owned()),
        );
        out
    }

    /// The hash of every setting that can change a product's rows or bytes (all DataFusion
    /// options; the memory limit only changes how, not what).
    pub fn hash(&self) -> String {
        let mut text = String::new();
        // Parallelism defaults follow the machine's CPUs; only an explicit choice counts
        // (planning concurrency never changes a result).
        let machine_dependent = |key: &str| {
            key == "datafusion.execution.planning_concurrency"
                || (key == "datafusion.execution.target_partitions"
                    && !self.overrides.contains_key(key))
        };
        for (key, value) in self.effective_settings() {
            if key != "rulec.memory_limit" && key != "rulec.profile" && !machine_dependent(&key) {
                text.push_str(&key);
                text.push('=');
                text.push_str(&value);
                text.push('\n');
            }
        }
        rulec_contract::sha256_hex(text.as_bytes())
    }
}

/// Parses a size: `512M`, `2G`, `1073741824`.
pub fn parse_size(text: &str) -> Option<usize> {
    rulec_pack::parse_size(text).and_then(|bytes| usize::try_from(bytes).ok())
}
