//! The tamper-evident transparency log of supply-chain events.
//!
//! Empty until the ledger issue lands; it exists so the dependency direction
//! `cli -> server -> ledger -> verify -> oci` is fixed from the first commit.
