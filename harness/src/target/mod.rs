//! Target manifests, setup, and the process supervisor. Knows processes,
//! ports, manifests and `/proc`; nothing about HTTP load.

pub mod cli;
