//! Records the git commit the harness was built from, for provenance.
use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| if o.stdout.is_empty() { "false" } else { "true" })
        .unwrap_or("");
    println!("cargo:rustc-env=CLAIMBENCH_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=CLAIMBENCH_GIT_DIRTY={dirty}");
    if let Ok(top) = Command::new("git")
        .args(["rev-parse", "--git-dir"])
        .output()
    {
        let git_dir = String::from_utf8_lossy(&top.stdout).trim().to_string();
        if !git_dir.is_empty() {
            println!("cargo:rerun-if-changed={git_dir}/HEAD");
            println!("cargo:rerun-if-changed={git_dir}/index");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
