//! The `claimbench` binary: parse, run, print errors, exit.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CLAIMBENCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = match claimbench::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                claimbench::EXIT_INPUT_ERROR
            } else {
                0
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match claimbench::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(claimbench::EXIT_INPUT_ERROR)
        }
    }
}
