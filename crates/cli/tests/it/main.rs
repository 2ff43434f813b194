//! Integration tests of the `vouch` binary: the command line, real clients (skopeo, podman,
//! buildah, umoci, oras, curl) against a running server, durability and garbage collection.
//! Tools the tests need are installed by `.ci/install`; a missing tool fails its test.

mod blob;
mod cli;
mod client;
mod clients;
mod common;
mod conformance;
mod durability;
mod fixtures;
mod images;
mod interop;
mod keys;
mod ledger;
mod policy;
mod provenance;
mod signing;
mod trusted;
