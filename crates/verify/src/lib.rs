//! Signatures, DSSE, Sigstore bundles, Merkle proofs and policy evaluation (sans-I/O).
//!
//! Empty until the signing issue lands; it exists so the dependency direction
//! `cli -> server -> ledger -> verify -> oci` is fixed from the first commit.
