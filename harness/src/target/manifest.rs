//! `target.toml` manifests: the raw serde types (which only check what the
//! author wrote: `deny_unknown_fields`, types), the validated [`Manifest`],
//! the resolved [`TargetSpec`] for one `name[:variant]`, discovery of every
//! target folder, placeholder expansion and worker-count resolution.
//!
//! Pure apart from reading the manifest files; knows nothing of processes.
//!
//! # The format
//!
//! ```toml
//! name = "python-fastapi"            # must equal the folder name
//! language = "python"                # python | javascript | typescript | rust
//! framework = "fastapi"
//! server = "uvicorn (uvloop, httptools)"
//! description = "one line"
//! concurrency_model = "async"        # async | sync | threaded | multi-threaded
//!
//! [setup]                            # optional
//! requires = ["python3"]             # programs that must be on PATH
//! hint = "apt-get install -y python3 python3-venv"   # quoted when one is missing
//! preflight = [["python3", "-c", "import ensurepip, venv"]]   # must succeed first, else `hint`
//! timeout_s = 900                    # per command; a hung step is named (default 900)
//! inputs = ["requirements.txt"]      # contents (and the commands) decide re-runs
//! outputs = [".venv/bin/uvicorn"]    # must exist after setup
//! commands = [["python3", "-m", "venv", ".venv"], [".venv/bin/pip", "install", "-r", "requirements.txt"]]
//!
//! [start]
//! command = [".venv/bin/uvicorn", "app:app", "--port", "{port}", "--workers", "{workers}"]
//! env = { }                          # values may use placeholders
//! workers = "cpus"                   # "cpus" | "2*cpus+1" | "N"          (default "cpus")
//! ready_path = "/health"             # probed until 2xx                  (default "/health")
//! ready_timeout_s = 30               #                                   (default 30)
//! stop_grace_s = 5                   # SIGTERM → SIGKILL                 (default 5)
//! between_runs = "restart"           # "restart" | "idle"                (default "restart")
//!
//! [versions]                         # optional; prints one JSON object line
//! command = [".venv/bin/python", "-c", "..."]
//!
//! [variants.single]                  # id `python-fastapi:single`
//! description = "one worker"         # plus any [start] key; `env` is merged over [start].env
//! workers = "1"
//! # server = "..."; concurrency_model = "..."   (optional: when the variant changes them)
//! ```
//!
//! Placeholders `{port}`, `{host}`, `{workers}`, `{dir}` (absolute target
//! folder) and `{workspace}` (absolute parent of `targets/`) are expanded in
//! `start.command`, `start.env` values, `versions.command`, and (`{dir}` and
//! `{workspace}` only) `setup.commands` and `setup.outputs`; other braces are
//! left alone. Commands run in the target folder; a relative program path
//! containing `/` is resolved against it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::TargetError;
use super::raw::{RawManifest, RawStart, RawVariant};
pub use super::values::{
    BetweenRuns, ConcurrencyModel, Language, Placeholders, TargetId, WorkersSpec, resolve_program,
};

/// How long one setup command may run when the manifest does not say.
pub const DEFAULT_SETUP_TIMEOUT: Duration = Duration::from_secs(900);

/// The manifest file name inside each target folder.
pub const MANIFEST_FILE: &str = "target.toml";

// ---------------------------------------------------------------------------
// Validated manifest and resolved spec.

/// The `[setup]` section, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct SetupSection {
    /// Programs that must be on `PATH` before setup runs.
    pub requires: Vec<String>,
    /// How to install what is missing (quoted in the error).
    pub hint: String,
    /// Commands that must succeed before setup runs (e.g. `python3 -c "import
    /// venv"`): a failure stops setup with one line quoting `hint`.
    pub preflight: Vec<Vec<String>>,
    /// The longest one setup command may run before it is killed and named.
    pub timeout: Duration,
    /// Files (relative to the target folder) whose contents decide whether setup must re-run.
    pub inputs: Vec<String>,
    /// Files that must exist after setup (placeholders allowed).
    pub outputs: Vec<String>,
    /// Commands, run in order with the target folder as working directory.
    pub commands: Vec<Vec<String>>,
}

/// How to start a target (the `[start]` section, or it merged with a variant).
#[derive(Clone, Debug, PartialEq)]
pub struct StartSection {
    /// Program and arguments (placeholders allowed).
    pub command: Vec<String>,
    /// Extra environment (placeholders allowed in values).
    pub env: BTreeMap<String, String>,
    /// Worker-count rule.
    pub workers: WorkersSpec,
    /// Path probed until it answers 2xx.
    pub ready_path: String,
    /// How long the readiness probe may take.
    pub ready_timeout: Duration,
    /// How long `stop` waits after SIGTERM before SIGKILL.
    pub stop_grace: Duration,
    /// Restart or wait-until-idle between measurements.
    pub between_runs: BetweenRuns,
}

/// One variant: a description, optionally its own `server` and
/// `concurrency_model`, and the `[start]` it resolves to.
#[derive(Clone, Debug, PartialEq)]
pub struct Variant {
    /// What this variant changes.
    pub description: String,
    /// The server, when the variant runs a different one (else the target's).
    pub server: String,
    /// The concurrency model, when the variant changes it (else the target's).
    pub concurrency_model: ConcurrencyModel,
    /// The start section with the variant's overrides applied.
    pub start: StartSection,
}

/// A validated `target.toml`.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// Path of the manifest file.
    pub path: PathBuf,
    /// The target folder (absolute).
    pub dir: PathBuf,
    /// The repository root (absolute parent of the targets folder).
    pub workspace: PathBuf,
    /// Target name (equals the folder name).
    pub name: String,
    /// Language.
    pub language: Language,
    /// Framework name.
    pub framework: String,
    /// Server and its options, human-readable.
    pub server: String,
    /// One-line description.
    pub description: String,
    /// Concurrency model.
    pub concurrency_model: ConcurrencyModel,
    /// How to set the target up.
    pub setup: SetupSection,
    /// How to start it (no variant).
    pub start: StartSection,
    /// Command printing one JSON object of installed versions.
    pub versions_command: Option<Vec<String>>,
    /// Variants by name.
    pub variants: BTreeMap<String, Variant>,
}

/// A target ready to start: a manifest resolved for one variant (or none).
#[derive(Clone, Debug, PartialEq)]
pub struct TargetSpec {
    /// `name` or `name:variant`.
    pub id: TargetId,
    /// The target folder (absolute).
    pub dir: PathBuf,
    /// The repository root (absolute).
    pub workspace: PathBuf,
    /// Language.
    pub language: Language,
    /// Framework.
    pub framework: String,
    /// Server, human-readable.
    pub server: String,
    /// The variant's description, or the target's.
    pub description: String,
    /// Concurrency model.
    pub concurrency_model: ConcurrencyModel,
    /// How to start it.
    pub start: StartSection,
    /// Command printing the installed versions.
    pub versions_command: Option<Vec<String>>,
}

impl TargetSpec {
    /// Placeholders for this target's folder and workspace (no port yet).
    pub fn placeholders(&self) -> Placeholders {
        Placeholders {
            dir: Some(self.dir.clone()),
            workspace: Some(self.workspace.clone()),
            ..Placeholders::default()
        }
    }
}

impl Manifest {
    /// Reads and validates one manifest. `path` is the `target.toml` file.
    pub fn load(path: &Path) -> Result<Manifest, TargetError> {
        let text = std::fs::read_to_string(path).map_err(|source| TargetError::Io {
            what: "reading the manifest".into(),
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses and validates manifest text; `path` names the file in errors
    /// and decides the target folder.
    pub fn parse(path: &Path, text: &str) -> Result<Manifest, TargetError> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| parse_error(path, text, &e))?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        let workspace = dir
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.clone());
        let invalid = |field: &str, reason: String| TargetError::ManifestInvalid {
            file: path.to_path_buf(),
            field: field.to_string(),
            reason,
        };

        let folder = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if raw.name != folder {
            return Err(invalid(
                "name",
                format!(
                    "is `{}` but the folder is `{folder}`; they must be equal",
                    raw.name
                ),
            ));
        }
        if raw.name.parse::<TargetId>().is_err() || raw.name.contains(':') {
            return Err(invalid(
                "name",
                "may contain only letters, digits, `-`, `_` and `.`".into(),
            ));
        }
        for (field, list) in [
            ("setup.commands", &raw.setup.commands),
            ("setup.preflight", &raw.setup.preflight),
        ] {
            for (i, cmd) in list.iter().enumerate() {
                if cmd.is_empty() || cmd[0].is_empty() {
                    return Err(invalid(
                        &format!("{field}[{i}]"),
                        "is empty; each command is [program, args...]".into(),
                    ));
                }
            }
        }
        let setup_timeout = match raw.setup.timeout_s {
            None => DEFAULT_SETUP_TIMEOUT,
            Some(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Duration::from_secs_f64(s),
            Some(s) => {
                return Err(invalid(
                    "setup.timeout_s",
                    format!("is {s}; it must be a number of seconds above 0 and at most 86400"),
                ));
            }
        };
        if let Some(v) = &raw.versions
            && v.command.is_empty()
        {
            return Err(invalid("versions.command", "is empty".into()));
        }
        let start = start_section(&raw.start, None).map_err(|(f, r)| invalid(&f, r))?;
        let mut variants = BTreeMap::new();
        for (name, rv) in &raw.variants {
            if name.parse::<TargetId>().is_err() || name.contains(':') {
                return Err(invalid(
                    &format!("variants.{name}"),
                    "a variant name may contain only letters, digits, `-`, `_` and `.`".into(),
                ));
            }
            let start = start_section(&raw.start, Some(rv))
                .map_err(|(f, r)| invalid(&format!("variants.{name}.{f}"), r))?;
            variants.insert(
                name.clone(),
                Variant {
                    description: rv
                        .description
                        .clone()
                        .unwrap_or_else(|| raw.description.clone()),
                    server: rv.server.clone().unwrap_or_else(|| raw.server.clone()),
                    concurrency_model: rv.concurrency_model.unwrap_or(raw.concurrency_model),
                    start,
                },
            );
        }
        Ok(Manifest {
            path: path.to_path_buf(),
            dir,
            workspace,
            name: raw.name,
            language: raw.language,
            framework: raw.framework,
            server: raw.server,
            description: raw.description,
            concurrency_model: raw.concurrency_model,
            setup: SetupSection {
                requires: raw.setup.requires,
                hint: raw.setup.hint,
                preflight: raw.setup.preflight,
                timeout: setup_timeout,
                inputs: raw.setup.inputs,
                outputs: raw.setup.outputs,
                commands: raw.setup.commands,
            },
            start,
            versions_command: raw.versions.map(|v| v.command),
            variants,
        })
    }

    /// The base id and every `name:variant` id, base first.
    pub fn ids(&self) -> Vec<TargetId> {
        std::iter::once(None)
            .chain(self.variants.keys().map(|v| Some(v.clone())))
            .map(|variant| TargetId {
                name: self.name.clone(),
                variant,
            })
            .collect()
    }

    /// Resolves the target for `variant` (None: the base configuration).
    /// An unknown variant is an error listing the known ones.
    pub fn resolve(&self, variant: Option<&str>) -> Result<TargetSpec, TargetError> {
        let (description, server, concurrency_model, start) = match variant {
            None => (
                self.description.clone(),
                self.server.clone(),
                self.concurrency_model,
                self.start.clone(),
            ),
            Some(v) => match self.variants.get(v) {
                Some(var) => (
                    var.description.clone(),
                    var.server.clone(),
                    var.concurrency_model,
                    var.start.clone(),
                ),
                None => {
                    return Err(TargetError::UnknownVariant {
                        target: self.name.clone(),
                        variant: v.to_string(),
                        known: self.variants.keys().cloned().collect(),
                    });
                }
            },
        };
        Ok(TargetSpec {
            id: TargetId {
                name: self.name.clone(),
                variant: variant.map(str::to_string),
            },
            dir: self.dir.clone(),
            workspace: self.workspace.clone(),
            language: self.language,
            framework: self.framework.clone(),
            server,
            description,
            concurrency_model,
            start,
            versions_command: self.versions_command.clone(),
        })
    }

    /// Placeholders for setup commands and outputs (`{dir}`, `{workspace}`).
    pub fn placeholders(&self) -> Placeholders {
        Placeholders {
            dir: Some(self.dir.clone()),
            workspace: Some(self.workspace.clone()),
            ..Placeholders::default()
        }
    }
}

/// Merges `[start]` with an optional variant and validates the result.
/// Errors are `(field, reason)`. A variant's `env` is merged over the base `env`.
fn start_section(
    base: &RawStart,
    variant: Option<&RawVariant>,
) -> Result<StartSection, (String, String)> {
    let v = variant.cloned().unwrap_or_default();
    let command = v.command.unwrap_or_else(|| base.command.clone());
    if command.is_empty() || command[0].is_empty() {
        return Err((
            "command".into(),
            "is empty; it must be [program, args...]".into(),
        ));
    }
    let mut env = base.env.clone();
    env.extend(v.env.unwrap_or_default());
    let workers_text = v.workers.unwrap_or_else(|| base.workers.clone());
    let workers = workers_text
        .parse::<WorkersSpec>()
        .map_err(|e| ("workers".to_string(), e.to_string()))?;
    let ready_path = v.ready_path.unwrap_or_else(|| base.ready_path.clone());
    if !ready_path.starts_with('/') {
        return Err((
            "ready_path".into(),
            format!("`{ready_path}` must start with `/`"),
        ));
    }
    let secs = |field: &str, s: f64| {
        if s.is_finite() && (0.0..=86_400.0).contains(&s) {
            Ok(Duration::from_secs_f64(s))
        } else {
            Err((
                field.to_string(),
                format!("{s} is not a number of seconds from 0 to 86400"),
            ))
        }
    };
    let ready_timeout = secs(
        "ready_timeout_s",
        v.ready_timeout_s.unwrap_or(base.ready_timeout_s),
    )?;
    let stop_grace = secs("stop_grace_s", v.stop_grace_s.unwrap_or(base.stop_grace_s))?;
    Ok(StartSection {
        command,
        env,
        workers,
        ready_path,
        ready_timeout,
        stop_grace,
        between_runs: v.between_runs.unwrap_or(base.between_runs),
    })
}

/// Turns a toml error into one that names the file, line, column and key.
fn parse_error(path: &Path, text: &str, e: &toml::de::Error) -> TargetError {
    let (line, column, key) = match e.span() {
        Some(span) => {
            let p = crate::toml_pos::locate(text, span.start);
            (Some(p.line), Some(p.column), p.key)
        }
        None => (None, None, None),
    };
    TargetError::ManifestParse {
        file: path.to_path_buf(),
        line,
        column,
        key,
        message: e.message().trim().to_string(),
    }
}

/// Reads every `<dir>/*/target.toml`, sorted by name. A bad manifest is an
/// error naming its file; a folder without a manifest is skipped.
pub fn discover(targets_dir: &Path) -> Result<Vec<Manifest>, TargetError> {
    let entries = std::fs::read_dir(targets_dir).map_err(|source| TargetError::Io {
        what: "reading the targets folder".into(),
        path: targets_dir.to_path_buf(),
        source,
    })?;
    let mut manifests = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| TargetError::Io {
            what: "reading the targets folder".into(),
            path: targets_dir.to_path_buf(),
            source,
        })?;
        let file = entry.path().join(MANIFEST_FILE);
        if entry.path().is_dir() && file.is_file() {
            manifests.push(Manifest::load(&file)?);
        }
    }
    manifests.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(manifests)
}

/// Finds the manifest for `id` among `manifests` and resolves its variant.
/// An unknown name is an error listing the known targets.
pub fn find<'a>(
    manifests: &'a [Manifest],
    id: &TargetId,
) -> Result<(&'a Manifest, TargetSpec), TargetError> {
    let m = manifests
        .iter()
        .find(|m| m.name == id.name)
        .ok_or_else(|| TargetError::UnknownTarget {
            name: id.name.clone(),
            known: manifests.iter().map(|m| m.name.clone()).collect(),
        })?;
    Ok((m, m.resolve(id.variant.as_deref())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "demo"
language = "python"
framework = "fastapi"
server = "uvicorn"
description = "demo target"
concurrency_model = "async"

[setup]
requires = ["python3"]
hint = "apt-get install -y python3"
inputs = ["requirements.txt"]
outputs = [".venv/bin/uvicorn"]
commands = [["python3", "-m", "venv", ".venv"]]

[start]
command = [".venv/bin/uvicorn", "app:app", "--port", "{port}", "--workers", "{workers}"]
env = { A = "1", B = "{dir}/x" }
workers = "cpus"
ready_path = "/health"
ready_timeout_s = 30
stop_grace_s = 2.5
between_runs = "restart"

[versions]
command = ["python3", "-c", "print('{}')"]

[variants.single]
description = "one worker"
workers = "1"
env = { B = "override", C = "3" }

[variants.gunicorn]
workers = "2 * cpus + 1"
server = "gunicorn"
concurrency_model = "sync"
between_runs = "idle"
"#;

    fn path() -> PathBuf {
        PathBuf::from("/repo/targets/demo/target.toml")
    }

    #[test]
    fn good_manifest_resolves_with_variants() {
        let m = Manifest::parse(&path(), GOOD).unwrap();
        assert_eq!(m.dir, PathBuf::from("/repo/targets/demo"));
        assert_eq!(m.workspace, PathBuf::from("/repo"));
        assert_eq!(m.start.stop_grace, Duration::from_millis(2500));
        assert_eq!(m.start.ready_timeout, Duration::from_secs(30));
        let ids: Vec<String> = m.ids().iter().map(ToString::to_string).collect();
        assert_eq!(ids, ["demo", "demo:gunicorn", "demo:single"]);

        let single = m.resolve(Some("single")).unwrap();
        assert_eq!(single.start.workers, WorkersSpec::Fixed(1));
        assert_eq!(single.description, "one worker");
        assert_eq!(single.start.env["A"], "1");
        assert_eq!(single.start.env["B"], "override");
        assert_eq!(single.start.env["C"], "3");
        assert_eq!(single.start.command, m.start.command);

        let g = m.resolve(Some("gunicorn")).unwrap();
        assert_eq!(g.start.workers, WorkersSpec::TwiceCpusPlusOne);
        assert_eq!(g.start.between_runs, BetweenRuns::Idle);
        assert_eq!(g.description, "demo target");
        assert_eq!(g.server, "gunicorn");
        assert_eq!(g.concurrency_model, ConcurrencyModel::Sync);
        assert_eq!(single.server, "uvicorn");
        assert_eq!(single.concurrency_model, ConcurrencyModel::Async);

        let err = m.resolve(Some("nope")).unwrap_err().to_string();
        assert!(
            err.contains("nope") && err.contains("gunicorn, single"),
            "{err}"
        );
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = GOOD.replace("stop_grace_s = 2.5", "stop_grace_s = 2.5\ncolour = \"red\"");
        let err = Manifest::parse(&path(), &text).unwrap_err().to_string();
        assert!(err.contains("/repo/targets/demo/target.toml"), "{err}");
        assert!(err.contains("start.colour"), "{err}");
        assert!(err.contains("unknown field"), "{err}");
        assert!(err.contains("line 23, column 1"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let text = GOOD.replace("ready_timeout_s = 30", "ready_timeout_s = \"soon\"");
        let err = Manifest::parse(&path(), &text).unwrap_err().to_string();
        assert!(err.contains("start.ready_timeout_s"), "{err}");
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn semantic_errors_name_the_field() {
        let text = GOOD.replace("name = \"demo\"", "name = \"other\"");
        let err = Manifest::parse(&path(), &text).unwrap_err().to_string();
        assert!(err.contains("`name`") && err.contains("folder"), "{err}");

        let text = GOOD.replace("workers = \"1\"", "workers = \"many\"");
        let err = Manifest::parse(&path(), &text).unwrap_err().to_string();
        assert!(err.contains("variants.single.workers"), "{err}");

        let text = GOOD.replace("ready_path = \"/health\"", "ready_path = \"health\"");
        let err = Manifest::parse(&path(), &text).unwrap_err().to_string();
        assert!(err.contains("ready_path"), "{err}");

        let text = GOOD.replace("language = \"python\"", "language = \"cobol\"");
        let err = Manifest::parse(&path(), &text).unwrap_err().to_string();
        assert!(err.contains("language") && err.contains("cobol"), "{err}");
    }

    #[test]
    fn workers_rules() {
        assert_eq!("cpus".parse::<WorkersSpec>().unwrap().resolve(4), 4);
        assert_eq!("2*cpus+1".parse::<WorkersSpec>().unwrap().resolve(2), 5);
        assert_eq!(
            " 2 * cpus + 1 ".parse::<WorkersSpec>().unwrap().resolve(1),
            3
        );
        assert_eq!("3".parse::<WorkersSpec>().unwrap().resolve(8), 3);
        assert_eq!("cpus".parse::<WorkersSpec>().unwrap().resolve(0), 1);
        assert!("0".parse::<WorkersSpec>().is_err());
        assert!("-1".parse::<WorkersSpec>().is_err());
        assert!("cores".parse::<WorkersSpec>().is_err());
        assert_eq!(WorkersSpec::TwiceCpusPlusOne.to_string(), "2*cpus+1");
    }

    #[test]
    fn placeholders_expand_known_keys_only() {
        let p = Placeholders {
            port: Some(8080),
            host: Some("127.0.0.1".into()),
            workers: Some(3),
            dir: Some("/t/x".into()),
            workspace: Some("/t".into()),
        };
        assert_eq!(
            p.expand("--bind={host}:{port} -w {workers} {dir}/a {workspace}/b {port}"),
            "--bind=127.0.0.1:8080 -w 3 /t/x/a /t/b 8080"
        );
        // Inline code with braces is left alone.
        assert_eq!(p.expand("{node: 1, x: {y}}"), "{node: 1, x: {y}}");
        // Unknown values stay as written.
        let setup = Placeholders {
            dir: Some("/d".into()),
            ..Placeholders::default()
        };
        assert_eq!(setup.expand("{dir}:{port}"), "/d:{port}");
    }

    #[test]
    fn programs_resolve_against_the_target_folder() {
        let dir = Path::new("/t/x");
        assert_eq!(
            resolve_program(".venv/bin/uvicorn", dir),
            PathBuf::from("/t/x/.venv/bin/uvicorn")
        );
        assert_eq!(
            resolve_program("./run.sh", dir),
            PathBuf::from("/t/x/./run.sh")
        );
        assert_eq!(resolve_program("node", dir), PathBuf::from("node"));
        assert_eq!(
            resolve_program("/usr/bin/env", dir),
            PathBuf::from("/usr/bin/env")
        );
    }

    #[test]
    fn target_ids_parse_and_print() {
        let id: TargetId = "python-django:asgi".parse().unwrap();
        assert_eq!(id.name, "python-django");
        assert_eq!(id.variant.as_deref(), Some("asgi"));
        assert_eq!(id.to_string(), "python-django:asgi");
        assert_eq!(id.file_stem(), "python-django_asgi");
        let id: TargetId = "node-express".parse().unwrap();
        assert_eq!(id.variant, None);
        for bad in ["", ":x", "a:", "a:b:c", "a b", "../x"] {
            assert!(bad.parse::<TargetId>().is_err(), "{bad}");
        }
    }
}
