//! The runner's skip and failure logic, with target sources that need no
//! server: a target that cannot start is skipped for the rest of the run
//! while the others go on, a failed measurement keeps its target in, a
//! worker sweep that cannot run is skipped once with its reason, and Ctrl-C
//! stops before the next job.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::Runner;
use super::measure::Failure;
use super::plan::{Setup, TargetKind};
use super::source::{Lease, TargetSource};
use crate::target::StartOptions;

/// What a fake source does when leased.
type Script = Box<dyn FnMut() -> Result<Lease, Failure>>;

/// A source that runs `script` on every lease and logs the instance.
struct Fake {
    supervised: bool,
    leased: Rc<RefCell<Vec<String>>>,
    script: Script,
}

impl TargetSource for Fake {
    fn supervised(&self) -> bool {
        self.supervised
    }
    fn prepare(&mut self, _id: &str) -> Option<crate::results::schema::TargetInfo> {
        None
    }
    fn lease(&mut self, instance: &str, _opts: StartOptions) -> Result<Lease, Failure> {
        self.leased.borrow_mut().push(instance.to_string());
        (self.script)()
    }
    fn kept_groups(&self) -> Vec<i32> {
        Vec::new()
    }
    fn stop_kept(&mut self) {}
}

/// A runner over a suite of one scenario (`extra` adds suite-entry keys),
/// targets `a` and `b`, writing to a temporary folder.
fn runner(dir: &tempfile::TempDir, repetitions: u32, extra: &str) -> Runner {
    let root = dir.path();
    std::fs::write(
        root.join("t.toml"),
        "name = \"t\"\ndescription = \"fake\"\n[load]\nmodel = \"closed\"\nconcurrency = [1]\n[[request]]\npath = \"/\"\n",
    )
    .unwrap();
    let suite_file = root.join("suite.toml");
    let text = format!(
        "description = \"fakes\"\nrepetitions = {repetitions}\nwarmup = \"200ms\"\nduration = \"500ms\"\ntargets = [\"a\", \"b\"]\n[[run]]\nscenario = \"t\"\n{extra}\n"
    );
    let suite = crate::scenario::parse_suite(&suite_file, &text, &|_| Ok(())).unwrap();
    let external = TargetKind::External {
        url: "http://127.0.0.1:9".into(),
        pid: None,
    };
    let setup = Setup {
        suite,
        claims: None,
        manifests: Vec::new(),
        targets_dir: root.to_path_buf(),
        targets: BTreeMap::from([("a".into(), external.clone()), ("b".into(), external)]),
        generator_cpus: vec![0],
        target_cpus: vec![1],
        out: root.join("out"),
        link_latest: false,
        order_seed: 7,
        host_check: false,
        duet: None,
    };
    Runner::new(setup).unwrap()
}

/// Replaces target `id`'s source by a fake; returns its lease log.
fn fake(r: &mut Runner, id: &str, supervised: bool, script: Script) -> Rc<RefCell<Vec<String>>> {
    let leased = Rc::new(RefCell::new(Vec::new()));
    r.slots.get_mut(id).unwrap().source = Box::new(Fake {
        supervised,
        leased: leased.clone(),
        script,
    });
    leased
}

fn never_stopped() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

#[test]
fn a_target_that_cannot_start_is_skipped_for_the_rest_of_the_run_and_the_others_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = runner(&dir, 3, "");
    let a = fake(
        &mut r,
        "a",
        true,
        Box::new(|| Err(Failure::Target("exited with status 1".into()))),
    );
    let b = fake(
        &mut r,
        "b",
        true,
        Box::new(|| Err(Failure::Measurement("connection reset".into()))),
    );
    r.measure_all(&never_stopped(), true);

    // a: one try, then skipped; b: every repetition tried, each failure kept.
    assert_eq!(*a.borrow(), ["a"]);
    assert_eq!(*b.borrow(), ["b", "b", "b"]);
    assert_eq!(r.slots["a"].failed.as_deref(), Some("exited with status 1"));
    assert!(r.slots["b"].failed.is_none());
    assert!(r.results.measurements.is_empty());
    let reasons: Vec<(&str, &str)> = r
        .results
        .skipped
        .iter()
        .map(|s| (s.target.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(
        reasons
            .iter()
            .filter(|(t, _)| *t == "a")
            .collect::<Vec<_>>(),
        [&("a", "start failed: exited with status 1")]
    );
    let mut b_reasons: Vec<&str> = reasons
        .iter()
        .filter(|(t, _)| *t == "b")
        .map(|(_, r)| *r)
        .collect();
    b_reasons.sort_unstable();
    assert_eq!(
        b_reasons,
        [
            "repetition 1 failed: connection reset",
            "repetition 2 failed: connection reset",
            "repetition 3 failed: connection reset"
        ]
    );
    // What was recorded is on disk.
    let saved = crate::results::io::read(&r.results_path()).unwrap();
    assert_eq!(saved.skipped.len(), 4);
}

#[test]
fn a_worker_sweep_is_skipped_once_with_its_reason_without_starting_anything() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = runner(&dir, 2, "workers = [1, 2]");
    // a: external, so no sweep; b: supervised, but one target CPU only.
    let fail = || -> Script { Box::new(|| Err(Failure::Measurement("not reached".into()))) };
    let a = fake(&mut r, "a", false, fail());
    let b = fake(&mut r, "b", true, fail());
    r.measure_all(&never_stopped(), true);

    assert!(a.borrow().is_empty() && b.borrow().is_empty());
    let skipped: Vec<(&str, &str)> = r
        .results
        .skipped
        .iter()
        .map(|s| (s.target.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    let reason = |t: &str| skipped.iter().find(|s| s.0 == t).unwrap().1;
    assert!(reason("a").contains("not --target-url"), "{}", reason("a"));
    assert!(reason("b").contains("at least 2 CPUs"), "{}", reason("b"));
    assert!(reason("b").contains("this run has 1"), "{}", reason("b"));
}

#[test]
fn ctrl_c_stops_the_run_before_the_next_job() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = runner(&dir, 3, "");
    let stop = never_stopped();
    let flag = stop.clone();
    let script = move || -> Script {
        let flag = flag.clone();
        Box::new(move || {
            flag.store(true, Ordering::SeqCst);
            Err(Failure::Measurement("cut short".into()))
        })
    };
    let a = fake(&mut r, "a", true, script());
    let b = fake(&mut r, "b", true, script());
    r.measure_all(&stop, true);

    // The first job's lease raised the flag; nothing else was leased.
    assert_eq!(a.borrow().len() + b.borrow().len(), 1);
    assert_eq!(r.results.skipped.len(), 1);
}
