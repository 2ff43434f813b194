//! An async client for OCI registries (the distribution spec 1.1), for vouch's own registry
//! and any other: Docker's image references, HTTPS with rustls on aws-lc-rs, registry
//! authentication (Basic, Bearer tokens, Docker's config file and credential helpers), and the
//! operations signing and verification need, with every byte pulled checked against its digest.
//!
//! Depends on `oci` only, never on the server: the registry it talks to is any registry.

mod auth;
mod client;
pub mod danger;
mod error;
mod image_ref;
mod transport;

pub use auth::{CredentialSource, Credentials, CredentialsError, DockerConfig};
pub use client::{BlobPush, Client, ClientConfig, PulledManifest, PushedManifest, referrers_tag};
pub use error::{Error, ErrorCode, RegistryError};
pub use image_ref::{DOCKER_HUB, ImageRef, ImageRefError, MAX_FULL_NAME_LEN, Registry, Repository};

/// The bytes type of blob and manifest bodies.
pub use bytes::Bytes;

/// The parsers of registry- and user-provided input, for the fuzz targets in `fuzz/`. Not an API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::auth::Source;
    pub use crate::auth::challenge::{Challenge, parse as parse_challenges};
    pub use crate::auth::parse_token_response;
    pub use crate::client::{next_link, resolve_location};
    pub use crate::error::parse_error_body;

    /// Where `config` says credentials for `registry` come from (a helper is named, not run).
    pub fn docker_config_source(
        config: &crate::DockerConfig,
        registry: &crate::Registry,
    ) -> Result<Source, crate::CredentialsError> {
        config.source(registry)
    }
}
