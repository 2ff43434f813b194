//! The evidence about one manifest, gathered from the registry's own store and checked: its
//! Sigstore bundle referrers (cosign 3, `vouch sign`, oras-pushed bundles) and the layers of
//! its cosign classic `sha256-<hex>.sig` and `.att` images, each verified against every signer
//! the covering policies trust ([`verify::evidence`] decides; this only reads). Presence proves
//! nothing: only what verifies becomes evidence, and what does not is kept with its reason.

use std::collections::BTreeMap;
use std::io::Read;

use oci::{Digest, Manifest, ManifestKind, Reference, RepoName, Tag};
use verify::cosign_classic::Image;
use verify::evidence::{self, Candidate, Outcome, Want};
use verify::policy::reference_repository;
use verify::sigstore::Options;

use crate::store::StoreError;
use crate::store::blobs::BlobStore;
use crate::store::meta::Meta;

/// Referrers of one manifest examined at most; more are noted and left out.
const MAX_REFERRERS: usize = 256;
/// Layers of one classic signature image examined at most.
const MAX_LAYERS: usize = 256;
/// Largest bundle or classic layer read (an SBOM attestation can be large).
const MAX_EVIDENCE_BYTES: u64 = 16 * 1024 * 1024;

/// One signature or attestation found about a manifest, and what it proved.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    /// The digest that names it: a referrer's manifest, or a classic layer's blob.
    pub digest: Digest,
    /// What it is and where, for reasons and traces: "bundle referrer sha256:…".
    pub what: String,
    pub outcome: Outcome,
}

/// Everything found about `subject` in `repo`, checked against `candidates`.
pub(crate) fn collect(
    meta: &Meta,
    blobs: &BlobStore,
    repo: &RepoName,
    subject: &Digest,
    candidates: &[Candidate<'_>],
    opts: &Options,
) -> Result<Vec<Found>, StoreError> {
    let mut found = Vec::new();
    let referrers = meta.referrers(repo, subject, None)?;
    for referrer in referrers.iter().take(MAX_REFERRERS) {
        let Ok(digest) = Digest::parse(&referrer.digest) else {
            continue;
        };
        let what = format!("bundle referrer {digest}");
        let is_bundle = referrer
            .artifact_type
            .as_deref()
            .is_some_and(|t| t.starts_with(evidence::BUNDLE_LAYER_PREFIX));
        // The registry's own counter-signatures are not evidence for the decision they follow.
        let own = referrer
            .annotations
            .as_deref()
            .is_some_and(|a| a.contains(super::ADMISSION_PREDICATE_TYPE));
        if !is_bundle || own {
            // Other referrers (SBOMs as plain artifacts, the registry's own kinds) are not
            // signed evidence; they prove nothing and are not listed.
            continue;
        }
        let outcome = examine_referrer(meta, blobs, repo, subject, &digest, candidates, opts)?;
        found.push(Found {
            digest,
            what,
            outcome,
        });
    }
    for (suffix, want) in [("sig", Want::Signatures), ("att", Want::Attestations(None))] {
        let Ok(tag) = Tag::parse(&format!(
            "{}-{}.{suffix}",
            subject.algorithm().as_str(),
            subject.hex()
        )) else {
            continue;
        };
        let Some(image) = meta.manifest(repo, &Reference::Tag(tag), true)? else {
            continue;
        };
        let Some(content) = image.content else {
            continue;
        };
        let Ok(manifest) = Manifest::parse(Some(&image.head.media_type), &content) else {
            continue;
        };
        if manifest.kind != ManifestKind::Image {
            continue;
        }
        for layer in manifest.layers.iter().take(MAX_LAYERS) {
            let what = format!(".{suffix} layer {}", layer.digest);
            let outcome = examine_classic(blobs, repo, subject, layer, &want, candidates, opts)?;
            found.push(Found {
                digest: layer.digest.clone(),
                what,
                outcome,
            });
        }
    }
    Ok(found)
}

fn examine_referrer(
    meta: &Meta,
    blobs: &BlobStore,
    repo: &RepoName,
    subject: &Digest,
    referrer: &Digest,
    candidates: &[Candidate<'_>],
    opts: &Options,
) -> Result<Outcome, StoreError> {
    let Some(pulled) = meta.manifest(repo, &Reference::Digest(referrer.clone()), true)? else {
        return Ok(Outcome::Rejected("it was deleted meanwhile".into()));
    };
    let Some(content) = pulled.content else {
        return Ok(Outcome::Rejected("its manifest has no content".into()));
    };
    let layer = match evidence::referrer_bundle_layer(
        subject,
        Some(&pulled.head.media_type),
        &content,
        &Want::Any,
    ) {
        Ok(layer) => layer,
        Err(outcome) => return Ok(outcome),
    };
    let Some(bytes) = read_blob(blobs, &layer.digest)? else {
        return Ok(Outcome::Rejected(format!(
            "its bundle {} is missing or larger than {MAX_EVIDENCE_BYTES} bytes",
            layer.digest
        )));
    };
    Ok(evidence::verify_bundle(
        subject,
        &bytes,
        candidates,
        &Want::Any,
        opts,
    ))
}

fn examine_classic(
    blobs: &BlobStore,
    repo: &RepoName,
    subject: &Digest,
    layer: &oci::Descriptor,
    want: &Want,
    candidates: &[Candidate<'_>],
    opts: &Options,
) -> Result<Outcome, StoreError> {
    if let Err(outcome) = evidence::classic_layer(layer, want) {
        return Ok(outcome);
    }
    let Some(blob) = read_blob(blobs, &layer.digest)? else {
        return Ok(Outcome::Rejected(format!(
            "the layer is missing or larger than {MAX_EVIDENCE_BYTES} bytes"
        )));
    };
    let same_repository = |reference: &str| reference_repository(reference) == repo.as_str();
    let empty = BTreeMap::new();
    // A `.sig` payload must name this repository: a signature copied from another one with
    // the image does not count here.
    Ok(evidence::verify_classic(
        &blob,
        layer.annotations.as_ref().unwrap_or(&empty),
        &Image {
            digest: subject,
            same_repository: &same_repository,
        },
        candidates,
        want,
        opts,
    ))
}

/// A blob's bytes, if it is stored and not larger than the evidence limit.
fn read_blob(blobs: &BlobStore, digest: &Digest) -> Result<Option<Vec<u8>>, StoreError> {
    let file = match blobs.open_blob(digest) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io("open", blobs.path(digest))(e)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_EVIDENCE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(StoreError::io("read", blobs.path(digest)))?;
    Ok((bytes.len() as u64 <= MAX_EVIDENCE_BYTES).then_some(bytes))
}
