//! Scenario, suite and claims files: raw serde types, validation with file and
//! key in every error, and the resolved plan the runner executes.
