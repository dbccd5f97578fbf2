//! The layering that matters, checked on the source: the load engine
//! measures and knows nothing of runs, claims or reports; the analysis is
//! pure (no engine, no processes); reports never measure; the results schema
//! depends on nothing above it. A `use crate::...` or a `crate::...` path
//! into a forbidden module fails here with the file and line.

use std::path::{Path, PathBuf};

/// (module folder under harness/src, modules it must not reach).
const RULES: &[(&str, &[&str])] = &[
    (
        "load",
        &[
            "runner",
            "analysis",
            "report",
            "compare",
            "target",
            "scenario",
            "bench",
            "shard",
            "merge",
            "downstream",
        ],
    ),
    (
        "analysis",
        &[
            "load",
            "target",
            "runner",
            "report",
            "bench",
            "compare",
            "shard",
            "downstream",
        ],
    ),
    (
        "report",
        &["load", "target", "runner", "bench", "shard", "downstream"],
    ),
    (
        "results",
        &[
            "load", "target", "runner", "report", "analysis", "bench", "scenario", "compare",
            "shard", "merge",
        ],
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level modules a line names through `crate::`: `crate::load::x`,
/// and each item of `crate::{load, report::y}`.
fn crate_modules(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.push(name);
            }
        } else {
            out.push(
                rest.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect(),
            );
        }
    }
    out
}

#[test]
fn the_parser_of_paths_finds_grouped_and_plain_uses() {
    assert_eq!(
        crate_modules("use crate::{load, report::x}; let a = crate::sys::y();"),
        ["load", "report", "sys"]
    );
}

#[test]
fn no_module_reaches_a_layer_it_must_not() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut broken = Vec::new();
    for (module, forbidden) in RULES {
        let mut files = Vec::new();
        rust_files(&src.join(module), &mut files);
        assert!(!files.is_empty(), "no source under src/{module}");
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for (n, line) in text.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for m in crate_modules(line) {
                    if forbidden.contains(&m.as_str()) {
                        broken.push(format!(
                            "{}:{}: src/{module} must not use crate::{m}",
                            f.strip_prefix(&src).unwrap_or(&f).display(),
                            n + 1
                        ));
                    }
                }
            }
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

/// ARCHITECTURE.md is the map: every source file is named in the row of
/// its top-level module (a new file without a line there fails here).
#[test]
fn every_source_file_is_on_the_map() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let map = std::fs::read_to_string(src.join("../../ARCHITECTURE.md")).unwrap();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut missing = Vec::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel.iter().next().unwrap().to_string_lossy().into_owned();
        let name = rel.file_name().unwrap().to_string_lossy().into_owned();
        let row = map
            .lines()
            .find(|l| l.starts_with(&format!("| `{top}")))
            .unwrap_or("");
        if !row.contains(&name) {
            missing.push(rel.display().to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "not on ARCHITECTURE.md's module map (add each to its module's row):\n{}",
        missing.join("\n")
    );
}
