//! The verification flags every verify verb shares (cosign's): a key, or a certificate identity
//! and issuer, and the trusted root; read once into who must have signed and what to trust.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Args;
use verify::keys::PublicKey;
use verify::sigstore::{Identity, Matcher};
use verify::trust_root::TrustedRoot;

/// Who must have signed, and the trusted root.
#[derive(Args)]
pub struct TrustArgs {
    /// A trusted public key (PEM). Without it, a certificate identity and issuer.
    #[arg(long, conflicts_with_all = ["certificate_identity", "certificate_identity_regexp"])]
    key: Option<PathBuf>,
    /// The identity (SAN) the signing certificate must carry.
    #[arg(long)]
    certificate_identity: Option<String>,
    /// A regular expression the whole identity must match.
    #[arg(long, conflicts_with = "certificate_identity")]
    certificate_identity_regexp: Option<String>,
    /// The OIDC issuer the signing certificate must name.
    #[arg(long)]
    certificate_oidc_issuer: Option<String>,
    /// A regular expression the whole issuer must match.
    #[arg(long, conflicts_with = "certificate_oidc_issuer")]
    certificate_oidc_issuer_regexp: Option<String>,
    /// The trusted root (trusted_root.json): Fulcio CAs, Rekor and CT logs, timestamp
    /// authorities. Needed for certificates and for signatures with log entries.
    #[arg(long)]
    trusted_root: Option<PathBuf>,
}

impl TrustArgs {
    /// Reads the key or builds the identity matchers, and reads the trusted root: usage and
    /// I/O errors only, nothing is judged yet. A certificate identity without a trusted root
    /// is a usage error (verification is offline).
    pub fn load(&self) -> anyhow::Result<(Identity, Option<TrustedRoot>)> {
        let read = |path: &PathBuf, what: &str| {
            std::fs::read(path)
                .with_context(|| format!("cannot read the {what} {}", path.display()))
        };
        let identity = match &self.key {
            Some(path) => {
                let text =
                    String::from_utf8(read(path, "key")?).context("the key is not PEM text")?;
                Identity::Key(
                    PublicKey::from_pem(&text)
                        .with_context(|| format!("cannot use the key {}", path.display()))?,
                )
            }
            None => {
                let identity = match (
                    &self.certificate_identity,
                    &self.certificate_identity_regexp,
                ) {
                    (Some(s), None) => Matcher::Exact(s.clone()),
                    (None, Some(re)) => {
                        Matcher::pattern(re).context("invalid --certificate-identity-regexp")?
                    }
                    _ => bail!(
                        "give --key, or --certificate-identity (or -regexp) with --certificate-oidc-issuer (or -regexp)"
                    ),
                };
                let issuer = match (
                    &self.certificate_oidc_issuer,
                    &self.certificate_oidc_issuer_regexp,
                ) {
                    (Some(s), None) => Matcher::Exact(s.clone()),
                    (None, Some(re)) => {
                        Matcher::pattern(re).context("invalid --certificate-oidc-issuer-regexp")?
                    }
                    _ => {
                        bail!("a certificate identity needs --certificate-oidc-issuer (or -regexp)")
                    }
                };
                Identity::Certificate { identity, issuer }
            }
        };
        let root = match &self.trusted_root {
            Some(path) => Some(
                TrustedRoot::from_json(&read(path, "trusted root")?)
                    .with_context(|| format!("cannot use the trusted root {}", path.display()))?,
            ),
            None if matches!(identity, Identity::Certificate { .. }) => {
                bail!("verifying a certificate needs --trusted-root (vouch verifies offline)")
            }
            None => None,
        };
        Ok((identity, root))
    }
}
