//! What `run` prints: one line per measurement and the verdict table (pure
//! string builders), and the progress bar they are printed above.

use std::io::IsTerminal;
use std::time::Duration;

use crate::results::schema::{Measurement, PairResult, ResultsFile, Verdict};

/// One line for a finished measurement.
pub fn measurement_line(index: usize, total: usize, m: &Measurement, reps: u32) -> String {
    let s = &m.load.summary;
    let width = total.to_string().len();
    let mut line = format!(
        "[{index:>width$}/{total}] {} {} #{}/{} {}: {:.0} req/s ({} in {:.1} s), p99 {:.2} ms, {:.2}% errors, generator CPU {:.0}%",
        m.scenario,
        m.level.label(),
        m.repetition,
        reps,
        m.target,
        s.throughput_rps,
        s.ok,
        s.duration_s,
        s.latency.p99_us as f64 / 1000.0,
        s.error_rate * 100.0,
        m.load.generator.cpu_percent,
    );
    if let Some(p) = &m.load.phases {
        line.push_str(&format!(
            ", warm-up {:.1} s{}",
            p.warmup_s,
            match p.steady {
                Some(true) => " (steady)",
                Some(false) => " (NOT steady)",
                None => "",
            }
        ));
    }
    if let Some(r) = &m.resources {
        line.push_str(&format!(
            ", target CPU {:.0}% RSS {:.1} MB",
            r.cpu_percent_mean,
            r.rss_peak_bytes as f64 / 1e6
        ));
    }
    if let Some(why) = &m.excluded {
        line.push_str(&format!("  EXCLUDED: {why}"));
    } else {
        for w in &m.load.warnings {
            line.push_str(&format!("  warning: {w}"));
        }
    }
    let p50_s = s.latency.p50_us as f64 / 1e6;
    if s.duration_s > 0.0 && p50_s > s.duration_s / 2.0 {
        line.push_str(&format!(
            "  (note: median latency {p50_s:.1} s is over half the {:.1} s measured window: few requests, far from steady state)",
            s.duration_s
        ));
    }
    line
}

/// The verdict table: one row per claim (id, verdict, wins/losses/ties,
/// headline metric), then each verdict's summary and missing stacks.
pub fn verdict_table(verdicts: &[Verdict]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{:<22} {:<13} {:>5} {:>5} {:>5}  {}\n",
        "CLAIM", "VERDICT", "WINS", "LOSS", "TIES", "METRIC"
    ));
    for v in verdicts {
        let count = |r: PairResult| v.comparisons.iter().filter(|c| c.result == r).count();
        out.push_str(&format!(
            "{:<22} {:<13} {:>5} {:>5} {:>5}  {}\n",
            v.claim,
            v.outcome.word(),
            count(PairResult::FavouredBetter),
            count(PairResult::OtherBetter),
            count(PairResult::NoDifference),
            v.metric
        ));
    }
    out.push('\n');
    for v in verdicts {
        if v.answer.is_empty() {
            out.push_str(&format!(
                "{} ({}): {}\n",
                v.claim,
                v.outcome.word(),
                v.summary
            ));
        } else {
            out.push_str(&format!("{}: {}\n  {}\n", v.claim, v.answer, v.summary));
        }
    }
    out
}

/// Excluded measurements, one line each (empty when none).
pub fn exclusions(results: &ResultsFile) -> String {
    let mut out = String::new();
    for m in &results.measurements {
        if let Some(why) = &m.excluded {
            out.push_str(&format!(
                "  excluded: {} {} {} #{}: {why}\n",
                m.target,
                m.scenario,
                m.level.label(),
                m.repetition
            ));
        }
    }
    out
}

/// The progress bar, counting estimated milliseconds so that its ETA is a
/// time and it moves within a measurement too; plain lines without a
/// terminal or with `--quiet`.
pub(super) struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    pub(super) fn new(estimated_ms: u64, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal() && estimated_ms > 0).then(|| {
            let b = indicatif::ProgressBar::new(estimated_ms);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} {percent:>3}% elapsed {elapsed_precise} ETA {eta_precise}  {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b.enable_steady_tick(Duration::from_millis(250));
            b
        });
        Progress { bar }
    }

    /// Prints a line above the bar.
    pub(super) fn say(&self, line: &str) {
        match &self.bar {
            Some(b) => b.println(line),
            None => println!("{line}"),
        }
    }

    pub(super) fn set_position(&self, ms: u64) {
        if let Some(b) = &self.bar {
            b.set_position(ms);
        }
    }

    pub(super) fn set_message(&self, message: String) {
        if let Some(b) = &self.bar {
            b.set_message(message);
        }
    }

    pub(super) fn finish(self) {
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}

/// The line above the verdict table: the claims file and the rules every
/// verdict used.
pub fn verdicts_header(c: &crate::scenario::Claims) -> String {
    let per_metric: Vec<String> = c
        .rules
        .min_effects
        .iter()
        .map(|(m, e)| format!("{m} {:.0}%", e * 100.0))
        .collect();
    format!(
        "verdicts ({}; minimum effect {:.0}%{}; bootstrap intervals of the ratio of medians (rounds paired), {:.0}% per claim with Bonferroni across its comparisons):\n",
        c.file.display(),
        c.rules.min_effect * 100.0,
        if per_metric.is_empty() {
            String::new()
        } else {
            format!(" ({})", per_metric.join(", "))
        },
        c.rules.confidence * 100.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verdict_table_lists_every_claim() {
        use crate::results::schema::{Outcome, Verdict};
        let v = Verdict {
            claim: "io-concurrency".into(),
            quote: "q".into(),
            outcome: Outcome::Mixed,
            answer: String::new(),
            summary: "1 of 2 comparisons favour the claim.".into(),
            metric: "throughput_rps".into(),
            comparisons: vec![],
            conditions: vec![],
            missing: vec![],
        };
        let t = verdict_table(&[v]);
        assert!(t.starts_with("CLAIM"), "{t}");
        assert!(t.contains("io-concurrency         mixed"), "{t}");
        assert!(t.contains("io-concurrency (mixed): 1 of 2"), "{t}");
    }
}
