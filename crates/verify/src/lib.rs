//! Cryptographic verification for vouch, sans-I/O: keys and signatures, DER and PEM, and (as
//! they land) certificates, DSSE, Sigstore bundles, Merkle proofs, checkpoints and policy.
//! Callers hand in bytes and get verdicts; nothing here opens a file or a socket.

pub mod bundle;
pub mod canonical_json;
pub mod checkpoint;
pub mod cosign_classic;
pub mod cosign_key;
pub mod der;
pub mod dsse;
pub mod evidence;
pub mod intoto;
pub mod keys;
pub mod merkle;
pub mod note;
mod offload;
pub mod pem;
pub mod policy;
pub mod proto_json;
pub mod rekor;
pub mod sct;
pub mod sigstore;
pub mod slsa;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod time;
pub mod trust_root;
pub mod tsa;
pub mod x509;
