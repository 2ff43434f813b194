//! OCI vocabulary shared by every vouch crate: repository names, tags, references, content
//! digests, descriptors and manifests. Pure parsing and hashing; no I/O, no async.
//!
//! Everything here follows "parse, don't validate": a [`Digest`], [`RepoName`] or [`Tag`] can only
//! be built through its `parse` function, so code that receives one never re-checks it.

mod digest;
mod manifest;
mod name;

pub use digest::{Algorithm, Digest, DigestError, Digester};
pub use manifest::{
    DEFAULT_MAX_MANIFEST_BYTES, Descriptor, Manifest, ManifestError, ManifestKind, base_media_type,
    media_type,
};
pub use name::{MAX_NAME_LEN, MAX_TAG_LEN, NameError, Reference, RepoName, Tag};
