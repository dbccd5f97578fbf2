//! Pure statistics and claim verdicts over results. No I/O.
//!
//! - [`stats`]: medians and bootstrap confidence intervals of a ratio of
//!   medians, shared by `compare` and the claim verdicts.
//! - [`verdict`]: claim definitions (resolved) and the verdict rules.

pub mod stats;
pub mod verdict;
