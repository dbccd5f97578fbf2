//! CPU control groups for targets that share CPUs (`run --duet`): each side
//! gets a group of the default weight, so the kernel's scheduler splits a
//! shared CPU between the sides equally, whatever number of processes and
//! threads each side runs (CFS shares CPU time between sibling groups by
//! weight, then between the tasks inside each group).
//!
//! cgroup v2 (`/sys/fs/cgroup` with the `cpu` controller enabled for its
//! children) and cgroup v1 (`/sys/fs/cgroup/cpu`) are both handled. A target
//! joins its group between fork and exec ([`super::StartOptions::cpu_group`], [`super::spawn::configure_child`]),
//! so every process it forks later is in the group from its start.

use std::path::{Path, PathBuf};

/// A CPU control group made for this run; removed on drop (once empty).
#[derive(Debug)]
pub struct CpuGroup {
    dir: PathBuf,
}

/// Why no CPU group could be made.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// Neither hierarchy offers the CPU controller here.
    #[error(
        "no CPU controller to make a group in (neither cgroup v2's /sys/fs/cgroup with `cpu` in cgroup.subtree_control nor cgroup v1's /sys/fs/cgroup/cpu)"
    )]
    NoController,
    /// The group's folder could not be made (usually: not root).
    #[error("cannot create the CPU group {path}: {source}")]
    Create {
        /// The folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl CpuGroup {
    /// Makes `claimbench-<pid>-<name>` under the CPU hierarchy, with the
    /// default weight.
    pub fn create(name: &str) -> Result<CpuGroup, CgroupError> {
        let root = cpu_root().ok_or(CgroupError::NoController)?;
        let dir = root.join(format!("claimbench-{}-{name}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => return Err(CgroupError::Create { path: dir, source }),
        }
        Ok(CpuGroup { dir })
    }

    /// The file a process writes `0` to in order to join the group.
    pub fn procs_file(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }

    /// The group's folder.
    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for CpuGroup {
    fn drop(&mut self) {
        // Fails (EBUSY) while a process is still in it; the targets are
        // stopped before the groups are dropped.
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Where CPU groups can be made: cgroup v2's root when its children get the
/// `cpu` controller, else cgroup v1's `cpu` hierarchy.
fn cpu_root() -> Option<PathBuf> {
    let v2 = Path::new("/sys/fs/cgroup");
    if let Ok(controllers) = std::fs::read_to_string(v2.join("cgroup.subtree_control"))
        && controllers.split_whitespace().any(|c| c == "cpu")
    {
        return Some(v2.to_path_buf());
    }
    let v1 = Path::new("/sys/fs/cgroup/cpu");
    v1.join("cgroup.procs").exists().then(|| v1.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_started_process_joins_its_group_and_the_group_goes_away() {
        let group = match CpuGroup::create("unit-test") {
            Ok(g) => g,
            Err(e) => {
                eprintln!("skipped: {e}");
                return;
            }
        };
        let dir = group.path().to_path_buf();
        let mut cmd = std::process::Command::new("sleep");
        cmd.arg("30");
        crate::target::spawn::configure_child(&mut cmd, &[], Some(&group.procs_file()))
            .expect("configure");
        let mut child = cmd.spawn().expect("spawn sleep");
        let members = std::fs::read_to_string(group.procs_file()).unwrap();
        let pid = child.id().to_string();
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            members.lines().any(|l| l == pid),
            "pid {pid} not in {members:?}"
        );
        drop(group);
        assert!(!dir.exists(), "{} removed", dir.display());
    }
}
