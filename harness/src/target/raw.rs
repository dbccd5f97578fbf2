//! `target.toml` exactly as its author writes it: the serde types
//! [`super::manifest`] validates into a [`super::Manifest`].

use std::collections::BTreeMap;

use serde::Deserialize;

use super::manifest::{BetweenRuns, ConcurrencyModel, Language};

/// `target.toml` as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawManifest {
    pub(super) name: String,
    pub(super) language: Language,
    pub(super) framework: String,
    pub(super) server: String,
    pub(super) description: String,
    pub(super) concurrency_model: ConcurrencyModel,
    #[serde(default)]
    pub(super) setup: RawSetup,
    pub(super) start: RawStart,
    pub(super) versions: Option<RawVersions>,
    #[serde(default)]
    pub(super) variants: BTreeMap<String, RawVariant>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSetup {
    #[serde(default)]
    pub(super) requires: Vec<String>,
    #[serde(default)]
    pub(super) hint: String,
    #[serde(default)]
    pub(super) preflight: Vec<Vec<String>>,
    #[serde(default)]
    pub(super) timeout_s: Option<f64>,
    #[serde(default)]
    pub(super) inputs: Vec<String>,
    #[serde(default)]
    pub(super) outputs: Vec<String>,
    #[serde(default)]
    pub(super) commands: Vec<Vec<String>>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStart {
    pub(super) command: Vec<String>,
    #[serde(default)]
    pub(super) env: BTreeMap<String, String>,
    #[serde(default = "default_workers")]
    pub(super) workers: String,
    #[serde(default = "default_ready_path")]
    pub(super) ready_path: String,
    #[serde(default = "default_ready_timeout")]
    pub(super) ready_timeout_s: f64,
    #[serde(default = "default_stop_grace")]
    pub(super) stop_grace_s: f64,
    #[serde(default)]
    pub(super) between_runs: BetweenRuns,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVersions {
    pub(super) command: Vec<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVariant {
    pub(super) description: Option<String>,
    pub(super) server: Option<String>,
    pub(super) concurrency_model: Option<ConcurrencyModel>,
    pub(super) command: Option<Vec<String>>,
    pub(super) env: Option<BTreeMap<String, String>>,
    pub(super) workers: Option<String>,
    pub(super) ready_path: Option<String>,
    pub(super) ready_timeout_s: Option<f64>,
    pub(super) stop_grace_s: Option<f64>,
    pub(super) between_runs: Option<BetweenRuns>,
}

fn default_workers() -> String {
    "cpus".into()
}
fn default_ready_path() -> String {
    "/health".into()
}
fn default_ready_timeout() -> f64 {
    30.0
}
fn default_stop_grace() -> f64 {
    5.0
}
