//! Pure statistics and claim verdicts over results. No I/O.
//!
//! - [`stats`]: medians and bootstrap confidence intervals of a ratio of
//!   medians, shared by `compare` and the claim verdicts.

pub mod stats;
