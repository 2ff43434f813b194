//! Cryptographic verification for vouch, sans-I/O: keys and signatures, DER and PEM, and (as
//! they land) certificates, DSSE, Sigstore bundles, Merkle proofs, checkpoints and policy.
//! Callers hand in bytes and get verdicts; nothing here opens a file or a socket.

pub mod der;
pub mod keys;
pub mod pem;
