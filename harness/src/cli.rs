//! The command-line interface. Each command's options live beside the code
//! that runs it; this file only lists the commands.

use clap::{Parser, Subcommand};

/// claimbench: measure HTTP servers under concurrency and check claims about them.
#[derive(Debug, Parser)]
#[command(name = "claimbench", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load one URL, like wrk or oha: closed loop (-c) or open loop (--rate).
    Bench(Box<crate::bench::BenchArgs>),
    /// Merge the shards of one run (`bench --shard`) into one result, exactly.
    Merge(crate::merge::MergeArgs),
    /// Run the claims suite over the targets and write results, verdicts and reports.
    Run(crate::runner::RunArgs),
    /// Redraw charts and reports from a results directory, without measuring.
    Report(crate::report::ReportArgs),
    /// Compare two results (baseline, current): a CI regression gate.
    Compare(crate::compare::CompareArgs),
    /// List, set up, check or start the sample servers under targets/.
    Targets(crate::target::cli::TargetsArgs),
    /// Serve the downstream delay service the targets call for /io/downstream.
    Downstream(crate::downstream::DownstreamArgs),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
