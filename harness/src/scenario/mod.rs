//! Scenario, suite and claims files: raw serde types, validation with file,
//! line and key in every error, and the resolved plan the runner executes.
//!
//! Two stages, as everywhere in claimbench:
//!
//! 1. [`raw`]: serde types that mirror what the user wrote, with
//!    `deny_unknown_fields` and spans, so a typo is an error naming the file,
//!    the line and the dotted key.
//! 2. [`Scenario`], [`Suite`] and [`Claims`]: resolved values (durations,
//!    request templates with their response checks and bodies, load levels,
//!    thresholds, claim definitions) that the runner and the verdicts use
//!    without further checks.
//!
//! File formats (see `scenarios/README.md` for the full reference):
//!
//! - `scenarios/<name>.toml`: one scenario (requests, load model and levels,
//!   warm-up, duration, repetitions, thresholds).
//! - `scenarios/suites/<name>.toml`: which scenarios, levels, targets and
//!   repetitions a `claimbench run` measures.
//! - `scenarios/claims.toml`: the article's claims and how each is decided.
//!
//! This module reads files and builds plans; it never measures.

pub mod claims;
mod parse;
pub mod raw;
pub mod spec;
pub mod suite;
pub mod threshold;

use crate::toml_pos::locate;
use std::path::{Path, PathBuf};

pub use claims::{Claims, load_claims, parse_claims};
pub use spec::{LevelPlan, Scenario, Sweep, load_scenario, parse_scenario};
pub use suite::{Suite, SuiteEntry, TargetCheck, load_suite, parse_suite};
pub use threshold::{Comparator, Threshold};

/// Why a scenario, suite or claims file is not usable. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, does not match the format, or a value is not allowed.
    #[error("{}{}: {message}", file.display(), fmt_where(*line, key.as_deref()))]
    Invalid {
        /// The file.
        file: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// The dotted key at fault, when known.
        key: Option<String>,
        /// What is wrong.
        message: String,
    },
}

fn fmt_where(line: Option<usize>, key: Option<&str>) -> String {
    let mut s = String::new();
    if let Some(l) = line {
        s.push_str(&format!(": line {l}"));
    }
    if let Some(k) = key {
        s.push_str(&format!(", key `{k}`"));
    }
    s
}

/// The text of one file with its path, to turn byte offsets into lines and keys.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    /// The file (for messages).
    pub file: &'a Path,
    /// Its contents.
    pub text: &'a str,
}

impl<'a> Source<'a> {
    /// An error at byte `offset` (None: no position), with the key guessed from
    /// the line when `key` is None.
    pub fn error_at(
        &self,
        offset: Option<usize>,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> ScenarioError {
        let (line, guessed) = match offset {
            Some(o) => {
                let p = locate(self.text, o);
                (Some(p.line), p.key)
            }
            None => (None, None),
        };
        ScenarioError::Invalid {
            file: self.file.to_path_buf(),
            line,
            key: key.map(str::to_string).or(guessed),
            message: message.into(),
        }
    }

    /// An error at a spanned value.
    pub fn error_span<T>(
        &self,
        value: &toml::Spanned<T>,
        message: impl Into<String>,
    ) -> ScenarioError {
        self.error_at(Some(value.span().start), None, message)
    }

    /// Parses the text into `T`, mapping TOML and serde errors to [`ScenarioError::Invalid`].
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, ScenarioError> {
        toml::from_str(self.text).map_err(|e| {
            let message = e.message().trim().to_string();
            let offset = e.span().map(|s| s.start);
            // An unknown field names itself in the message: use that key.
            let key = message
                .strip_prefix("unknown field `")
                .and_then(|r| r.split('`').next())
                .map(|k| match offset.map(|o| locate(self.text, o).key) {
                    Some(Some(full)) if full.ends_with(k) => full,
                    _ => k.to_string(),
                });
            self.error_at(offset, key.as_deref(), message)
        })
    }
}

/// Reads a file into a string, as a [`ScenarioError::Read`] on failure.
pub fn read(file: &Path) -> Result<String, ScenarioError> {
    std::fs::read_to_string(file).map_err(|source| ScenarioError::Read {
        file: file.to_path_buf(),
        source,
    })
}

/// Parses `10s`, `500ms`, `1m`; a bare number means seconds.
pub fn parse_duration(
    src: &Source<'_>,
    v: &toml::Spanned<String>,
) -> Result<std::time::Duration, ScenarioError> {
    let d =
        crate::bench::parse_duration(v.get_ref()).map_err(|e| src.error_span(v, e.to_string()))?;
    if d > crate::load::plan::MAX_DURATION {
        return Err(src.error_span(v, "is longer than a day"));
    }
    Ok(d)
}

/// A `warmup` value: a duration (fixed), or `auto` (None: until steady).
pub fn parse_warmup(
    src: &Source<'_>,
    v: &toml::Spanned<String>,
) -> Result<Option<std::time::Duration>, ScenarioError> {
    if v.get_ref().trim().eq_ignore_ascii_case("auto") {
        return Ok(None);
    }
    parse_duration(src, v)
        .map(Some)
        .map_err(|_| src.error_span(v, "is neither a duration like 1s nor `auto`"))
}
