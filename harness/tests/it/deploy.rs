//! Integration tests: the deployment files in `deploy/` (docs/scale-out.md).
//!
//! - `deploy/k8s/run.sh` passes ShellCheck, refuses bad input, and renders the
//!   manifests (`RENDER_ONLY=DIR`, open and closed loop) with every
//!   placeholder filled.
//! - The rendered manifests pass `kubernetes-validate --strict` (the
//!   Kubernetes OpenAPI schemas, offline) for the oldest Kubernetes they need
//!   and for the newest the package ships. kubernetes-validate comes from
//!   `scripts/install-deps.sh` (into `target/tools/venv`);
//!   `KUBERNETES_VALIDATE=PATH` picks another. A missing tool fails the test.
//! - The shard Job keeps what a sharded run depends on: Indexed, every index
//!   at once, no retry, a FailJob rule on exit 3 (missed start), restartPolicy
//!   Never, Guaranteed QoS, one shard per node; the merge Job reads the same
//!   volume and passes the thresholds through.
//! - `deploy/ci/github-actions-matrix.yml` passes actionlint and pins its
//!   actions exactly as `.github/workflows/` does.
//! - `deploy/Dockerfile` builds with the workspace's Rust version.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::repo_root;

/// What to do when a tool is missing.
const INSTALL: &str = "run scripts/install-deps.sh";

/// The oldest Kubernetes the manifests need: `podFailurePolicy` is GA from
/// 1.31. The newest checked is kubernetes-validate's default (its newest).
const OLDEST_KUBERNETES: &str = "1.31.0";

/// The templates in `deploy/k8s/`, as run.sh renders them.
const MANIFESTS: &[&str] = &["pvc.yaml", "job.yaml", "merge-job.yaml", "fetch-pod.yaml"];

/// An open-loop run: every optional placeholder given a value.
const OPEN_LOOP: &[(&str, &str)] = &[
    ("SHARDS", "4"),
    // `&` and `?`: envsubst and YAML must keep them as they are.
    ("TARGET_URL", "http://sut.bench.svc:8080/plaintext?a=1&b=2"),
    ("RATE", "2000"),
    ("CONNECTIONS", "64"),
    ("WARMUP", "5"),
    ("DURATION", "60"),
    ("IMAGE", "registry.example/claimbench:test"),
    ("STORAGE_CLASS", "nfs-client"),
    ("THRESHOLDS", "p99<50ms;error_rate<1%"),
    ("RUN_ID", "test-open"),
];

/// A closed-loop run: only what run.sh requires.
const CLOSED_LOOP: &[(&str, &str)] = &[
    ("SHARDS", "3"),
    ("TARGET_URL", "http://sut:8080/"),
    ("DURATION", "30"),
    ("IMAGE", "claimbench:test"),
    ("RUN_ID", "test-closed"),
];

/// `name` in one of the `PATH` directories.
fn on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A tool: `$env`, else the tools venv that `scripts/install-deps.sh`
/// makes, else `name` on `PATH`.
fn tool(env: &str, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env) {
        return PathBuf::from(path);
    }
    let venv = repo_root().join("target/tools/venv/bin").join(name);
    if venv.is_file() {
        return venv;
    }
    on_path(name).unwrap_or_else(|| {
        panic!(
            "{name} not found (no ${env}, no {}, none on PATH): {INSTALL}",
            venv.display()
        )
    })
}

fn kubernetes_validate() -> PathBuf {
    tool("KUBERNETES_VALIDATE", "kubernetes-validate")
}

/// A Python with PyYAML (a kubernetes-validate dependency), to read the
/// manifests: the one beside kubernetes-validate (its venv), else `python3`.
fn python_with_yaml(validate: &Path) -> PathBuf {
    let python = validate
        .parent()
        .map(|dir| dir.join("python3"))
        .filter(|p| p.is_file())
        .or_else(|| on_path("python3"))
        .unwrap_or_else(|| panic!("no python3 beside {} or on PATH", validate.display()));
    let ok = Command::new(&python)
        .args(["-c", "import yaml"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{} cannot import yaml (PyYAML, which kubernetes-validate installs): {INSTALL}",
        python.display()
    );
    python
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The value of `name` in a sample run's variables.
fn var<'a>(vars: &[(&str, &'a str)], name: &str) -> Option<&'a str> {
    vars.iter().find(|(k, _)| *k == name).map(|&(_, v)| v)
}

/// Runs deploy/k8s/run.sh with only PATH and `vars` in its environment.
fn run_sh(vars: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new("bash");
    cmd.arg(repo_root().join("deploy/k8s/run.sh"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("running deploy/k8s/run.sh: {e}"))
}

/// The manifests as run.sh renders them for `vars` (`RENDER_ONLY`).
fn render(vars: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out_dir = dir.path().to_str().expect("a UTF-8 temporary path");
    let mut all = vars.to_vec();
    all.push(("RENDER_ONLY", out_dir));
    let out = run_sh(&all);
    assert!(
        out.status.success(),
        "run.sh with {vars:?} and RENDER_ONLY ({}; envsubst comes from gettext-base: {INSTALL}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for name in MANIFESTS {
        let text = read(&dir.path().join(name));
        assert!(
            !text.contains("${"),
            "{name} rendered with {vars:?} still has a placeholder:\n{text}"
        );
    }
    dir
}

/// The documents of a YAML file, as JSON values.
fn documents(python: &Path, file: &Path) -> Vec<Value> {
    const YAML_TO_JSON: &str = "import json, sys, yaml\n\
        docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]\n\
        print(json.dumps(docs, default=str))";
    let out = Command::new(python)
        .args(["-c", YAML_TO_JSON])
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
    assert!(
        out.status.success(),
        "reading {} as YAML:\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{} as JSON: {e}", file.display()))
}

/// The one document of a rendered manifest.
fn manifest(python: &Path, dir: &Path, name: &str) -> Value {
    let mut docs = documents(python, &dir.join(name));
    assert_eq!(docs.len(), 1, "{name}: one document expected");
    docs.remove(0)
}

/// The `${NAME}` placeholders in `text`.
fn placeholders(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let Some(j) = after.find('}') else { break };
        names.insert(after[..j].to_string());
        rest = &after[j + 1..];
    }
    names
}

/// The `$(NAME)` references (Kubernetes' expansion) in `text`.
fn references(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("$(") {
        let after = &rest[i + 2..];
        let Some(j) = after.find(')') else { break };
        names.push(&after[..j]);
        rest = &after[j + 1..];
    }
    names
}

/// The value after `flag` in an argument list.
fn flag_value<'a>(args: &'a [Value], flag: &str) -> Option<&'a str> {
    let i = args.iter().position(|a| a.as_str() == Some(flag))?;
    args.get(i + 1).and_then(Value::as_str)
}

/// The names of a container's `env` entries.
fn env_names(container: &Value) -> BTreeSet<&str> {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["name"].as_str())
        .collect()
}

/// A container's `env` value for `name`.
fn env_value<'a>(container: &'a Value, name: &str) -> Option<&'a str> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"].as_str() == Some(name))?["value"]
        .as_str()
}

/// Guaranteed QoS: every container has cpu and memory requests equal to its
/// limits.
fn assert_guaranteed(pod: &Value, what: &str) {
    for key in ["containers", "initContainers"] {
        for c in pod[key].as_array().into_iter().flatten() {
            let name = c["name"].as_str().unwrap_or("?");
            let requests = &c["resources"]["requests"];
            let limits = &c["resources"]["limits"];
            for r in ["cpu", "memory"] {
                assert!(
                    !requests[r].is_null(),
                    "{what}: container {name} requests no {r} (Guaranteed QoS needs requests == limits)"
                );
            }
            assert_eq!(
                requests, limits,
                "{what}: container {name}: requests must equal limits (Guaranteed QoS)"
            );
        }
    }
}

/// The claim a pod mounts at /results, with the mount's subPathExpr.
fn results_claim(pod: &Value, container: &Value, what: &str) -> (String, String) {
    let mount = container["volumeMounts"]
        .as_array()
        .and_then(|m| {
            m.iter()
                .find(|m| m["mountPath"].as_str() == Some("/results"))
        })
        .unwrap_or_else(|| panic!("{what}: nothing mounted at /results"));
    let volume = pod["volumes"]
        .as_array()
        .and_then(|v| v.iter().find(|v| v["name"] == mount["name"]))
        .unwrap_or_else(|| panic!("{what}: no volume {}", mount["name"]));
    let claim = volume["persistentVolumeClaim"]["claimName"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: /results is not a PersistentVolumeClaim"));
    let sub = mount["subPathExpr"].as_str().unwrap_or_default();
    (claim.to_string(), sub.to_string())
}

#[test]
fn run_sh_passes_shellcheck() {
    let shellcheck =
        on_path("shellcheck").unwrap_or_else(|| panic!("shellcheck is not on PATH: {INSTALL}"));
    let out = Command::new(&shellcheck)
        .arg("deploy/k8s/run.sh")
        .current_dir(repo_root())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", shellcheck.display()));
    assert!(
        out.status.success(),
        "shellcheck deploy/k8s/run.sh ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn run_sh_refuses_bad_input() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out_dir = dir.path().to_str().expect("a UTF-8 temporary path");
    // (variable, value; None: unset)
    for (name, value) in [
        ("SHARDS", None),
        ("SHARDS", Some("0")),
        ("DURATION", Some("1m")),
        ("RATE", Some("fast")),
        ("RUN_ID", Some("Not_A_DNS_Label")),
        ("TARGET_URL", Some("http://sut/\"quoted\"")),
        ("START_TOLERANCE", Some("half a second")),
    ] {
        let mut vars: Vec<(&str, &str)> = CLOSED_LOOP
            .iter()
            .copied()
            .filter(|&(k, _)| k != name)
            .collect();
        if let Some(value) = value {
            vars.push((name, value));
        }
        vars.push(("RENDER_ONLY", out_dir));
        let out = run_sh(&vars);
        assert_eq!(
            out.status.code(),
            Some(2),
            "run.sh with {name}={value:?} must refuse with exit 2:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// envsubst replaces exactly run.sh's TEMPLATE_VARS, exported. A placeholder
/// missing from them would stay as written; one not exported would become
/// empty; a template variable written `$NAME` in a manifest (the merge Job's
/// shell script) would be replaced too.
#[test]
fn manifest_templates_use_only_run_sh_variables() {
    let root = repo_root();
    let script = read(&root.join("deploy/k8s/run.sh"));
    let line = script
        .lines()
        .find(|l| l.starts_with("TEMPLATE_VARS='"))
        .expect("run.sh sets TEMPLATE_VARS='${...} ...'");
    let vars = placeholders(line);
    assert!(!vars.is_empty(), "no variable in run.sh's {line}");
    let mut exported = BTreeSet::new();
    let mut in_export = false;
    for l in script.lines() {
        let t = l.trim();
        if t.starts_with("export ") {
            in_export = true;
        }
        if in_export {
            exported.extend(
                t.trim_start_matches("export ")
                    .split_whitespace()
                    .filter(|w| *w != "\\")
                    .map(str::to_string),
            );
            in_export = t.ends_with('\\');
        }
    }
    let unexported: Vec<_> = vars.difference(&exported).collect();
    assert!(
        unexported.is_empty(),
        "run.sh does not export {unexported:?}: envsubst would render them empty"
    );
    for name in MANIFESTS {
        let text = read(&root.join("deploy/k8s").join(name));
        let unknown: Vec<_> = placeholders(&text).difference(&vars).cloned().collect();
        assert!(
            unknown.is_empty(),
            "deploy/k8s/{name} uses {unknown:?}, not in run.sh's TEMPLATE_VARS"
        );
        for placeholder in &vars {
            let bare = format!("${placeholder}");
            for (i, _) in text.match_indices(&bare) {
                let next = text[i + bare.len()..].chars().next();
                assert!(
                    next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "deploy/k8s/{name} writes `{bare}`: envsubst would replace it (use another name)"
                );
            }
        }
    }
}

#[test]
fn rendered_manifests_validate_against_kubernetes_schemas() {
    let bin = kubernetes_validate();
    let validate = |files: &[PathBuf], version: Option<&str>| {
        let mut cmd = Command::new(&bin);
        cmd.args(["--strict", "--quiet"]);
        if let Some(v) = version {
            cmd.args(["-k", v]);
        }
        cmd.args(files)
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}; {INSTALL}", bin.display()))
    };

    // The validator itself: strict mode rejects an unknown field.
    let bad = tempfile::tempdir().expect("a temporary directory");
    let bad_job = bad.path().join("bad-job.yaml");
    std::fs::write(
        &bad_job,
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\nspec:\n  \
         completionsMode: Indexed\n  template:\n    spec:\n      restartPolicy: Never\n      \
         containers: [{name: x, image: x}]\n",
    )
    .expect("writing a test manifest");
    assert!(
        !validate(std::slice::from_ref(&bad_job), None)
            .status
            .success(),
        "{} --strict accepted a Job with an unknown field",
        bin.display()
    );

    for vars in [OPEN_LOOP, CLOSED_LOOP] {
        let dir = render(vars);
        let files: Vec<PathBuf> = MANIFESTS.iter().map(|m| dir.path().join(m)).collect();
        for version in [Some(OLDEST_KUBERNETES), None] {
            let out = validate(files.as_slice(), version);
            assert!(
                out.status.success(),
                "kubernetes-validate --strict -k {} over the manifests rendered with {vars:?} ({}):\n{}{}",
                version.unwrap_or("(newest)"),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn shard_job_keeps_the_run_safe() {
    let python = python_with_yaml(&kubernetes_validate());
    for vars in [OPEN_LOOP, CLOSED_LOOP] {
        let dir = render(vars);
        let job = manifest(&python, dir.path(), "job.yaml");
        let shards: u64 = var(vars, "SHARDS").unwrap().parse().unwrap();
        let what = format!("job.yaml rendered with {vars:?}");
        let spec = &job["spec"];
        assert_eq!(job["kind"], "Job", "{what}");

        // Each index exactly once, all at once, never retried.
        assert_eq!(spec["completionMode"], "Indexed", "{what}");
        assert_eq!(spec["completions"].as_u64(), Some(shards), "{what}");
        assert_eq!(
            spec["parallelism"], spec["completions"],
            "{what}: parallelism < completions runs the shards in waves"
        );
        assert_eq!(
            spec["backoffLimit"].as_u64(),
            Some(0),
            "{what}: a retried shard runs at the wrong time"
        );
        let window = var(vars, "WARMUP").map_or(0, |w| w.parse::<u64>().unwrap())
            + var(vars, "DURATION").unwrap().parse::<u64>().unwrap();
        assert!(
            spec["activeDeadlineSeconds"]
                .as_u64()
                .is_some_and(|d| d > window),
            "{what}: activeDeadlineSeconds must exceed warm-up + duration ({window} s)"
        );

        // The first rule that matches exit code 3 fails the whole Job.
        let pod = &spec["template"]["spec"];
        let container = &pod["containers"][0];
        let container_name = container["name"].as_str().expect("a container name");
        let rules = spec["podFailurePolicy"]["rules"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: no podFailurePolicy rules"));
        let matches_3 = |r: &&Value| {
            let e = &r["onExitCodes"];
            let named = e["containerName"].is_null() || e["containerName"] == container_name;
            let has_3 = e["values"]
                .as_array()
                .is_some_and(|v| v.iter().any(|x| x.as_u64() == Some(3)));
            named
                && match e["operator"].as_str() {
                    Some("In") => has_3,
                    Some("NotIn") => !has_3,
                    _ => false,
                }
        };
        assert_eq!(
            rules
                .iter()
                .find(matches_3)
                .and_then(|r| r["action"].as_str()),
            Some("FailJob"),
            "{what}: exit code 3 (a missed start) must fail the Job"
        );
        assert_eq!(pod["restartPolicy"], "Never", "{what}");
        assert_guaranteed(pod, &what);

        // One shard per node, and none beside the system under test.
        let labels = spec["template"]["metadata"]["labels"]
            .as_object()
            .unwrap_or_else(|| panic!("{what}: the pod template has no labels"));
        let terms =
            pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
                .as_array()
                .unwrap_or_else(|| panic!("{what}: no required pod anti-affinity"));
        let per_node = |t: &&Value| t["topologyKey"] == "kubernetes.io/hostname";
        let selects_shards = |t: &Value| {
            t["labelSelector"]["matchLabels"]
                .as_object()
                .is_some_and(|m| !m.is_empty() && m.iter().all(|(k, v)| labels.get(k) == Some(v)))
        };
        assert!(
            terms.iter().filter(per_node).any(selects_shards),
            "{what}: no anti-affinity term keeps two shards off one node"
        );
        assert!(
            terms
                .iter()
                .filter(per_node)
                .any(|t| t["labelSelector"]["matchLabels"]["app.kubernetes.io/name"] == "sut"),
            "{what}: no anti-affinity term keeps the shards off the system under test's nodes"
        );

        // The command line: the shard index from Kubernetes, one start time,
        // a fixed warm-up, one file per index on the volume.
        let args = container["args"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: no args"));
        assert_eq!(args[0], "bench", "{what}");
        assert_eq!(flag_value(args, "--shard"), Some("$(SHARDS)"), "{what}");
        assert_eq!(
            flag_value(args, "--start-at"),
            Some("$(START_AT)"),
            "{what}"
        );
        assert_eq!(
            flag_value(args, "--json"),
            Some("/results/shard-$(JOB_COMPLETION_INDEX).json"),
            "{what}"
        );
        assert!(
            flag_value(args, "--warmup").is_some_and(|w| !w.contains("auto")),
            "{what}: a shard needs a fixed --warmup"
        );
        assert!(
            flag_value(args, "--duration").is_some(),
            "{what}: a shard needs -d"
        );
        assert_eq!(
            flag_value(args, "--rate").is_some(),
            var(vars, "RATE").is_some(),
            "{what}: --rate only in open loop"
        );
        assert_eq!(
            env_value(container, "SHARDS"),
            var(vars, "SHARDS"),
            "{what}"
        );
        assert!(
            env_value(container, "START_AT").is_some_and(|t| t.ends_with('Z')),
            "{what}: START_AT must be an RFC 3339 UTC time"
        );
        // Kubernetes leaves an undefined $(NAME) as written.
        let defined = env_names(container);
        let mut texts: Vec<&str> = args.iter().filter_map(Value::as_str).collect();
        texts.extend(
            container["volumeMounts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["subPathExpr"].as_str()),
        );
        for text in texts {
            for name in references(text) {
                assert!(
                    name == "JOB_COMPLETION_INDEX" || defined.contains(name),
                    "{what}: `{text}` refers to $({name}), which the container does not define"
                );
            }
        }
    }
}

#[test]
fn merge_job_reads_the_shards_volume_and_passes_the_thresholds() {
    use std::os::unix::fs::PermissionsExt;

    let python = python_with_yaml(&kubernetes_validate());
    for vars in [OPEN_LOOP, CLOSED_LOOP] {
        let dir = render(vars);
        let what = format!("manifests rendered with {vars:?}");
        let pvc = manifest(&python, dir.path(), "pvc.yaml");
        let job = manifest(&python, dir.path(), "job.yaml");
        let merge = manifest(&python, dir.path(), "merge-job.yaml");
        let fetch = manifest(&python, dir.path(), "fetch-pod.yaml");

        let modes = pvc["spec"]["accessModes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            modes.iter().any(|m| m.as_str() == Some("ReadWriteMany")),
            "{what}: shards on several nodes need a ReadWriteMany claim"
        );
        let claim = pvc["metadata"]["name"].as_str().expect("the claim's name");

        // The same claim and run directory everywhere.
        let shard_pod = &job["spec"]["template"]["spec"];
        let merge_pod = &merge["spec"]["template"]["spec"];
        let fetch_pod = &fetch["spec"];
        let expected = (claim.to_string(), "$(RUN_ID)".to_string());
        for (name, pod) in [
            ("job", shard_pod),
            ("merge-job", merge_pod),
            ("fetch-pod", fetch_pod),
        ] {
            assert_eq!(
                results_claim(pod, &pod["containers"][0], &format!("{what}: {name}")),
                expected,
                "{what}: {name} must mount the claim's run directory at /results"
            );
        }
        assert_eq!(merge["spec"]["backoffLimit"].as_u64(), Some(0), "{what}");
        assert_eq!(merge_pod["restartPolicy"], "Never", "{what}");

        // The merge script, with a stand-in claimbench that prints its args.
        let container = &merge_pod["containers"][0];
        let command: Vec<&str> = container["command"]
            .as_array()
            .expect("merge-job: a command")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            &command[..2],
            ["sh", "-c"],
            "{what}: merge-job runs a shell for its glob"
        );
        let bin = tempfile::tempdir().expect("a temporary directory");
        let fake = bin.path().join("claimbench");
        std::fs::write(&fake, "#!/bin/sh\nprintf '%s\\n' \"$@\"\n").expect("writing a stand-in");
        std::fs::set_permissions(fake, std::fs::Permissions::from_mode(0o755))
            .expect("chmod the stand-in");
        let path = std::env::join_paths(std::iter::once(bin.path().to_path_buf()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))
        .expect("a PATH");
        let mut sh = Command::new("sh");
        sh.args(["-c", command[2]]).env("PATH", path);
        for e in container["env"].as_array().into_iter().flatten() {
            sh.env(
                e["name"].as_str().expect("an env name"),
                e["value"].as_str().unwrap_or_default(),
            );
        }
        let out = sh.output().expect("running the merge script");
        assert!(
            out.status.success(),
            "{what}: the merge script failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let args: Vec<&str> = stdout.lines().collect();
        assert_eq!(args[0], "merge", "{what}: {args:?}");
        assert!(args[1].starts_with("/results/shard-"), "{what}: {args:?}");
        let mut expected = vec!["--json", "/results/merged.json"];
        for t in var(vars, "THRESHOLDS").unwrap_or_default().split(';') {
            if !t.is_empty() {
                expected.extend(["--threshold", t]);
            }
        }
        assert_eq!(&args[2..], expected, "{what}: the merge command line");
    }
}

/// The `uses:` values of a workflow file.
fn uses_values(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let t = line.trim_start();
            let t = t.strip_prefix("- ").map_or(t, str::trim_start);
            t.strip_prefix("uses:").map(|v| v.trim().to_string())
        })
        .collect()
}

#[test]
fn ci_matrix_example_passes_actionlint_with_the_projects_pins() {
    let root = repo_root();
    let example = "deploy/ci/github-actions-matrix.yml";
    let text = read(&root.join(example));

    // The same pins (SHA and version comment) as the project's workflows.
    let mut known = BTreeSet::new();
    let workflows = root.join(".github/workflows");
    for entry in std::fs::read_dir(&workflows)
        .unwrap_or_else(|e| panic!("reading {}: {e}", workflows.display()))
    {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            known.extend(uses_values(&read(&path)));
        }
    }
    let used = uses_values(&text);
    for action in [
        "actions/checkout@",
        "actions/upload-artifact@",
        "actions/download-artifact@",
    ] {
        assert!(
            used.iter().any(|u| u.starts_with(action)),
            "{example} does not use {action}"
        );
    }
    let unknown: Vec<_> = used.iter().filter(|u| !known.contains(*u)).collect();
    assert!(
        unknown.is_empty(),
        "{example}: pin these as .github/workflows/ does (same SHA and version comment): {unknown:?}"
    );

    let bin = tool("ACTIONLINT", "actionlint");
    assert!(
        on_path("shellcheck").is_some(),
        "shellcheck is not on PATH (actionlint needs it for `run:` scripts): {INSTALL}"
    );
    let out = Command::new(&bin)
        .args(["-no-color", example])
        .current_dir(root)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}; {INSTALL}", bin.display()));
    assert!(
        out.status.success(),
        "actionlint {example} ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn dockerfile_builds_with_the_workspace_toolchain() {
    let root = repo_root();
    let cargo: toml::Table = read(&root.join("Cargo.toml"))
        .parse()
        .expect("Cargo.toml is TOML");
    let rust = cargo
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("rust-version"))
        .and_then(toml::Value::as_str)
        .expect("workspace.package.rust-version in Cargo.toml");
    let dockerfile = read(&root.join("deploy/Dockerfile"));
    let froms: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert!(
        froms.len() >= 2,
        "deploy/Dockerfile: a builder stage and a runtime stage expected"
    );
    assert!(
        froms[0].starts_with(&format!("FROM rust:{rust}-")),
        "deploy/Dockerfile builds on `{}`, not the workspace's Rust {rust}",
        froms[0]
    );
    assert!(
        dockerfile.contains("cargo build --release --locked"),
        "deploy/Dockerfile must build with --locked (Cargo.lock's versions)"
    );
    let runtime = dockerfile
        .rsplit_once("\nFROM ")
        .map_or("", |(_, stage)| stage);
    let user = runtime
        .lines()
        .filter_map(|l| l.trim().strip_prefix("USER "))
        .next_back()
        .unwrap_or_else(|| panic!("deploy/Dockerfile: the runtime stage sets no USER"));
    let user = user.split(':').next().unwrap_or_default().trim();
    assert!(
        user != "root" && user != "0",
        "deploy/Dockerfile: the runtime stage runs as root"
    );
    assert!(
        runtime.contains("ENTRYPOINT [\"claimbench\"]"),
        "deploy/Dockerfile: ENTRYPOINT [\"claimbench\"] expected"
    );
    // The context is the repository root: without this, target/ goes too.
    let ignore = read(&root.join("deploy/Dockerfile.dockerignore"));
    assert!(
        ignore
            .lines()
            .any(|l| matches!(l.trim(), "target" | "target/" | "/target" | "/target/")),
        "deploy/Dockerfile.dockerignore must exclude target/"
    );
}
