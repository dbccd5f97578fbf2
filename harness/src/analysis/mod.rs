//! Pure statistics and claim verdicts over results. No I/O.
