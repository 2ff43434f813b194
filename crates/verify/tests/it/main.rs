//! Integration tests of the verify crate: DSSE against real peers (securesystemslib, in-toto,
//! npm's registry key, real Sigstore provenance bundles) and SLSA provenance checks on the real
//! statements of slsa-verifier's and sigstore-go's fixtures. Peers are installed by
//! `.ci/install`; a missing peer fails its test.

mod common;
mod dsse_peers;
mod provenance;
