//! All integration tests, in one binary to keep link time down.
//! Each module owns one area; shared helpers live in `support`.

mod bench_cli;
mod compare;
mod deploy;
mod engine;
mod layering;
mod netns;
mod protocols;
mod report;
mod shards;
mod suite;
mod support;
mod targets;
mod test_server;
mod workflows;
