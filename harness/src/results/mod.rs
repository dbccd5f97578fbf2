//! The results schema and its files. Owns the serde types every other module
//! exchanges, the fixed HDR histogram layout, and atomic, versioned file I/O.
//! Knows nothing about HTTP, processes or claims.

pub mod histogram;
pub mod io;
pub mod schema;

pub use histogram::Latency;
pub use schema::*;
