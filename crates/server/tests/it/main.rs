//! The registry's in-process conformance suite: every check of the OCI distribution-spec
//! conformance suite restated in Rust, plus error bodies, malformed input, auth and metrics.
//! Requests go through `server::router(app).oneshot(..)`; no socket.

mod data;
mod harness;

mod auth;
mod base;
mod blobs;
mod datasets;
mod deletes;
mod errors;
mod gate;
mod keyless;
mod ledger;
mod listing;
mod manifests;
mod metrics;
mod ranges;
mod referrers;
mod reload;
