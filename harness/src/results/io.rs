//! Reading and writing results files: atomic writes, version checks, clear errors.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::schema::{ResultsFile, SCHEMA_VERSION};

/// The file name of a run's results inside its directory.
pub const RESULTS_FILE_NAME: &str = "results.json";

/// Why a results file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// The file or directory could not be read.
    #[error("cannot read results {path}")]
    Read {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not JSON, or is truncated.
    #[error("results file {path} is not valid JSON (truncated or corrupt?)")]
    Corrupt {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// The file has no schema version: not a claimbench results file.
    #[error("{path} is not a claimbench results file (no `schema_version` field)")]
    NotResults {
        /// The path.
        path: PathBuf,
    },
    /// The file was written by another schema version.
    #[error(
        "results file {path} has schema version {found}; this claimbench reads version {expected}. Re-run the measurement with this version, or use the claimbench that wrote it"
    )]
    Version {
        /// The path.
        path: PathBuf,
        /// Version in the file.
        found: u64,
        /// Version this build reads.
        expected: u32,
    },
    /// The JSON is well-formed but does not match the schema.
    #[error("results file {path} does not match schema version {SCHEMA_VERSION}")]
    Schema {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// Writing failed.
    #[error("cannot write results {path}")]
    Write {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Resolves a path given by the user: a results file, or a run directory
/// holding `results.json` (symlinks such as `results/latest` are followed).
pub fn resolve(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(RESULTS_FILE_NAME)
    } else {
        path.to_path_buf()
    }
}

/// Reads a results file (or run directory), checking the schema version first
/// so that an old file fails with a message naming its version.
pub fn read(path: &Path) -> Result<ResultsFile, ResultsError> {
    let path = resolve(path);
    let bytes = fs::read(&path).map_err(|source| ResultsError::Read {
        path: path.clone(),
        source,
    })?;
    parse(&bytes, &path)
}

/// Parses the bytes of a results file; `path` is only used in errors.
pub fn parse(bytes: &[u8], path: &Path) -> Result<ResultsFile, ResultsError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|source| ResultsError::Corrupt {
            path: path.to_path_buf(),
            source,
        })?;
    let found = value
        .get("schema_version")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| ResultsError::NotResults {
            path: path.to_path_buf(),
        })?;
    if found != u64::from(SCHEMA_VERSION) {
        return Err(ResultsError::Version {
            path: path.to_path_buf(),
            found,
            expected: SCHEMA_VERSION,
        });
    }
    serde_json::from_value(value).map_err(|source| ResultsError::Schema {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `results` as pretty JSON to `path` atomically: a temporary file in
/// the same directory, fsynced, then renamed over the target. A reader never
/// sees a half-written file.
pub fn write(path: &Path, results: &ResultsFile) -> Result<(), ResultsError> {
    let bytes = serde_json::to_vec_pretty(results).expect("results always serialize");
    write_atomic(path, &bytes)
}

/// Writes bytes to `path` atomically (temp file + fsync + rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ResultsError> {
    let err = |source| ResultsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(err)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "results".into());
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(err)
}
