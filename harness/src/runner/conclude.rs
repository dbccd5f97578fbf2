//! Concluding a run: the claims' verdicts, the suite's thresholds, the final
//! results file, the reports, `results/latest`, the printed summary and the
//! exit code.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use super::{Runner, output};
use crate::analysis::{checks, verdict};
use crate::results::schema::Verdict;

impl Runner {
    /// Verdicts, thresholds, final files, reports and the printed summary;
    /// the exit code says how the run ended.
    pub fn conclude(
        &mut self,
        interrupted: bool,
        no_report: bool,
        wall: Duration,
    ) -> anyhow::Result<ExitCode> {
        self.finish(interrupted);
        let breaches = checks::threshold_breaches(&self.setup.suite, &self.results.measurements);
        println!();
        self.print_findings(&breaches);
        println!();
        self.print_files();
        if !no_report {
            self.write_reports();
        }
        if self.setup.link_latest {
            match link_latest(&self.setup.out, &self.dir) {
                Ok(l) => println!("{} -> {}", l.display(), self.dir.display()),
                Err(e) => eprintln!("warning: cannot update results/latest: {e}"),
            }
        }
        println!(
            "{} measurements in {}{}",
            self.results.measurements.len(),
            humantime::format_duration(Duration::from_secs(wall.as_secs())),
            if interrupted {
                " (interrupted: results are partial, complete = false)"
            } else {
                ""
            }
        );
        Ok(if interrupted {
            ExitCode::from(130)
        } else if !breaches.is_empty() {
            ExitCode::from(crate::EXIT_GATE_FAILED)
        } else {
            ExitCode::SUCCESS
        })
    }

    /// The claims' verdicts and the end of the run, in the results files
    /// (both sides' in a duet run).
    fn finish(&mut self, interrupted: bool) {
        // A duet run gave each side half the target CPUs: its numbers are
        // for comparing the sides, not for the article's claims.
        let verdicts: Vec<Verdict> = match (&self.setup.claims, &self.duet) {
            (Some(c), None) => verdict::evaluate(&c.claims, &c.rules, &self.results),
            _ => Vec::new(),
        };
        self.results.verdicts = verdicts;
        self.results.finished_at = Some(chrono::Utc::now());
        self.results.complete = !interrupted;
        if let Some(d) = &mut self.duet {
            d.results.finished_at = self.results.finished_at;
            d.results.complete = !interrupted;
        }
        self.save();
    }

    /// What the run found: exclusions, skips, the verdict table (also
    /// written to `verdicts.txt`) and the thresholds breached.
    fn print_findings(&self, breaches: &[String]) {
        let ex = output::exclusions(&self.results);
        if !ex.is_empty() {
            println!("excluded from verdicts:\n{ex}");
        }
        for s in &self.results.skipped {
            println!(
                "skipped: {}{}: {}",
                s.target,
                s.scenario
                    .as_ref()
                    .map(|x| format!(" in `{x}`"))
                    .unwrap_or_default(),
                s.reason
            );
        }
        if !self.results.verdicts.is_empty() {
            let header = self
                .setup
                .claims
                .as_ref()
                .map(output::verdicts_header)
                .unwrap_or_default();
            let table = output::verdict_table(&self.results.verdicts);
            print!("{header}{table}");
            let path = self.dir.join("verdicts.txt");
            if let Err(e) =
                crate::results::io::write_atomic(&path, format!("{header}{table}").as_bytes())
            {
                eprintln!("warning: {e}");
            }
        }
        for b in breaches {
            println!("threshold breached: {b}");
        }
    }

    /// The results files written (and how to compare a duet's sides).
    fn print_files(&self) {
        println!("wrote {}", self.results_path().display());
        if let Some(d) = &self.duet {
            println!("wrote {} (the baseline side)", d.results_path().display());
            println!(
                "a duet run: no claim verdicts (each side had half the target CPUs); compare the sides with `claimbench compare {} {}`",
                d.results_path().display(),
                self.results_path().display()
            );
        }
        if !self.results.verdicts.is_empty() {
            println!("wrote {}", self.dir.join("verdicts.txt").display());
        }
    }

    /// Charts and reports; a failure is a warning (the results are written).
    fn write_reports(&self) {
        match crate::report::write_all(&self.results, &self.dir) {
            Ok(files) => {
                println!("wrote {}", files.summary_md.display());
                println!("wrote {}", files.report_html.display());
                println!("wrote {}", files.results_csv.display());
                println!(
                    "wrote {} charts under {}",
                    files.charts.len(),
                    self.dir.join(crate::report::CHARTS_DIR).display()
                );
            }
            Err(e) => eprintln!("warning: reports not written: {e}"),
        }
    }
}

/// Points `<results>/latest` at `dir` (a relative symlink, replaced atomically).
fn link_latest(results: &Path, dir: &Path) -> std::io::Result<PathBuf> {
    let link = results.join("latest");
    let name = dir
        .file_name()
        .ok_or_else(|| std::io::Error::other("no run folder name"))?;
    let tmp = results.join(format!(".latest-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(name, &tmp)?;
    std::fs::rename(&tmp, &link)?;
    Ok(link)
}
