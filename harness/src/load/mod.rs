//! The load generator. Knows HTTP/1.1 and time; nothing about targets,
//! scenarios or claims.
//!
//! [`run`] takes a validated [`LoadPlan`] and returns a [`LoadResult`]. It
//! starts one OS thread per generator thread, each with its own
//! single-threaded tokio runtime, its own connections and its own
//! [`recorder::Recorder`]; nothing is shared per request except, with
//! `--requests`, one atomic counter. Recorders are merged once at the end.

pub mod plan;

pub use plan::{BodyCheck, Check, Endpoint, LoadModel, LoadPlan, PlanError, RequestTemplate};
