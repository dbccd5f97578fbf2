//! Pure statistics and claim verdicts over results. No I/O.
//!
//! - [`stats`]: medians and bootstrap confidence intervals of a ratio of
//!   medians, shared by `compare` and the claim verdicts.
//! - [`claim`]: claims as the verdicts read them (metric, level, sides) and
//!   the rules every verdict shares.
//! - [`verdict`]: the verdict rules: the comparisons and the outcome;
//!   `select` picks which measurements each comparison reads.
//! - [`wording`]: a verdict's answer, sentences, conditions and summary.
//! - [`checks`]: why a measurement is excluded, and a run's threshold
//!   breaches.

pub mod checks;
pub mod claim;
mod select;
pub mod stats;
pub mod verdict;
pub mod wording;
