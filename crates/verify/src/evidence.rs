//! What a signature or attestation stored next to an image proves: the checks of one Sigstore
//! bundle referrer (cosign 3's layout) or one layer of a cosign classic `.sig`/`.att` image,
//! against the signers a caller trusts. The fetching is the caller's (the CLI over HTTP, the
//! registry from its own store); everything that decides is here, so that `vouch verify` and
//! the registry's gate reach the same conclusion from the same bytes.

use std::collections::BTreeMap;

use oci::{Algorithm, Descriptor, Digest, Manifest};
use serde_json::Value;

use crate::bundle::{Bundle, Content};
use crate::cosign_classic::{
    self, BUNDLE_ANNOTATION, Claim, DSSE_MEDIA_TYPE, Image, Layer, PREDICATE_TYPE_ANNOTATION,
    SIMPLE_SIGNING_MEDIA_TYPE, SimpleSigning,
};
use crate::dsse::Envelope;
use crate::intoto::Statement;
use crate::keys::HashAlg;
use crate::sigstore::{Artifact, Identity, Options, VerifiedSigner, Verifier};

/// The predicate type of cosign 3's image signatures: an in-toto statement about the image.
pub const SIGN_PREDICATE_TYPE: &str = "https://sigstore.dev/cosign/sign/v1";
/// Bundle layers' media types begin so (`…bundle.v0.3+json`).
pub const BUNDLE_LAYER_PREFIX: &str = "application/vnd.dev.sigstore.bundle";
/// The annotation cosign puts on a bundle referrer (unsigned: it only narrows what is read).
pub const BUNDLE_PREDICATE_TYPE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";

/// What is looked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    Signatures,
    /// Attestations, of this predicate type if given.
    Attestations(Option<String>),
    /// Both, for a bundle referrer: what it proves says which (a statement of the sign
    /// predicate type, or a message signature, is a signature; any other statement an
    /// attestation). A registry gathering all the evidence about an image reads so.
    Any,
}

/// One signer the caller trusts: who, and the trusted root their evidence is checked against.
pub struct Candidate<'a> {
    /// How the signer is named in a rejection when there are several ("key release").
    pub name: &'a str,
    pub identity: &'a Identity,
    pub verifier: &'a Verifier,
    /// Whether `verifier` holds a trusted root: without one, log entries cannot be checked, and
    /// a signature that carries one is refused rather than accepted without it.
    pub has_root: bool,
}

/// What became of one signature or attestation.
#[derive(Debug, Clone)]
pub enum Outcome {
    Verified(Proven),
    /// Examined and not verified.
    Rejected(String),
    /// Not examined: not what was asked for (its annotations or subject say so).
    Skipped(String),
}

/// A verified signature or attestation.
#[derive(Debug, Clone)]
pub struct Proven {
    /// Which candidate verified it.
    pub candidate: usize,
    pub signer: VerifiedSigner,
    /// For a signed statement: its predicate type.
    pub predicate_type: Option<String>,
    /// What was signed, as signed: the statement, or the simple-signing payload.
    pub payload: Option<Value>,
}

/// What a verified payload names the artifact as, as signed (`127.0.0.1:5000/prod/app`): a
/// simple-signing payload's docker-reference, if its digest is `artifact`, or the names of a
/// statement's subjects whose digest is `artifact` (empty names left out). Empty when it
/// names nothing, is neither, or is absent (a message signature): a policy that binds
/// signatures to the repository (`verify::policy`, `bind_repository`) then does not count
/// it. What fills `verify::policy::VerifiedSignature::names`.
pub fn signed_names(payload: Option<&Value>, artifact: &Digest) -> Vec<String> {
    let Some(bytes) = payload.and_then(|p| serde_json::to_vec(p).ok()) else {
        return Vec::new();
    };
    if let Ok(statement) = Statement::parse(&bytes) {
        return statement
            .subject
            .into_iter()
            .filter(|s| s.matches(artifact) && !s.name.is_empty())
            .map(|s| s.name)
            .collect();
    }
    match SimpleSigning::parse(&bytes) {
        Ok(p) if p.digest == *artifact && !p.docker_reference.is_empty() => {
            vec![p.docker_reference]
        }
        _ => Vec::new(),
    }
}

/// Why a signature whose (unsigned) annotation names `annotated` is not what `want` asks for;
/// `None` if it may be. Skipping only narrows what is examined: the signed statement decides.
pub fn skip_by_predicate_type(annotated: Option<&str>, want: &Want) -> Option<String> {
    let annotated = annotated?;
    match want {
        Want::Signatures if annotated != SIGN_PREDICATE_TYPE => Some(format!(
            "an attestation (predicate type {annotated}), not a signature"
        )),
        Want::Attestations(_) if annotated == SIGN_PREDICATE_TYPE => {
            Some("a signature, not an attestation".into())
        }
        Want::Attestations(Some(t)) if annotated != t => {
            Some(format!("predicate type {annotated}, not {t}"))
        }
        _ => None,
    }
}

/// Why a verified statement of `predicate_type` is not what `want` asks for.
fn wrong_predicate_type(predicate_type: &str, want: &Want) -> Option<String> {
    match want {
        Want::Signatures if predicate_type != SIGN_PREDICATE_TYPE => Some(format!(
            "it verifies, but it is an attestation (predicate type {predicate_type}), not a signature"
        )),
        Want::Attestations(_) if predicate_type == SIGN_PREDICATE_TYPE => Some(format!(
            "it verifies, but it is a signature (predicate type {SIGN_PREDICATE_TYPE}), not an attestation"
        )),
        Want::Attestations(Some(t)) if predicate_type != t => Some(format!(
            "it verifies, but its predicate type is {predicate_type}, not {t}"
        )),
        _ => None,
    }
}

/// The image as the artifact a bundle is about: known by its digest.
pub fn image_artifact(digest: &Digest) -> Option<Artifact> {
    let alg = match digest.algorithm() {
        Algorithm::Sha256 => HashAlg::Sha256,
        Algorithm::Sha512 => HashAlg::Sha512,
    };
    let hex = digest.hex();
    let raw = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()?;
    Some(Artifact::from_digests(vec![(alg, raw)]))
}

/// The first step for a referrer of `subject`: its manifest must name `subject` and hold one
/// bundle layer, which is returned for the caller to fetch; otherwise what became of it.
pub fn referrer_bundle_layer(
    subject: &Digest,
    media_type: Option<&str>,
    manifest: &[u8],
    want: &Want,
) -> Result<Descriptor, Outcome> {
    let manifest = Manifest::parse(media_type, manifest)
        .map_err(|e| Outcome::Rejected(format!("its manifest is invalid: {e}")))?;
    match &manifest.subject {
        Some(s) if s.digest == *subject => {}
        Some(s) => {
            return Err(Outcome::Skipped(format!(
                "its subject is {}, not the image",
                s.digest
            )));
        }
        None => return Err(Outcome::Skipped("it has no subject".into())),
    }
    let annotated = manifest
        .annotations
        .as_ref()
        .and_then(|a| a.get(BUNDLE_PREDICATE_TYPE_ANNOTATION));
    if let Some(reason) = skip_by_predicate_type(annotated.map(String::as_str), want) {
        return Err(Outcome::Skipped(reason));
    }
    let [layer] = manifest.layers.as_slice() else {
        return Err(Outcome::Rejected(format!(
            "it has {} layers, not one bundle",
            manifest.layers.len()
        )));
    };
    if !layer.media_type.starts_with(BUNDLE_LAYER_PREFIX) {
        return Err(Outcome::Rejected(format!(
            "its layer is a {}, not a Sigstore bundle",
            layer.media_type
        )));
    }
    Ok(layer.clone())
}

/// The second step for a referrer: its bundle must verify over `subject` for one of
/// `candidates` and hold what `want` asks for. A signature is a signed statement of cosign's
/// sign predicate type about the image, or a message signature whose digest is the image's
/// (the manifest's bytes signed as a blob).
pub fn verify_bundle(
    subject: &Digest,
    bundle: &[u8],
    candidates: &[Candidate<'_>],
    want: &Want,
    opts: &Options,
) -> Outcome {
    let bundle = match Bundle::from_json(bundle) {
        Ok(b) => b,
        Err(e) => return Outcome::Rejected(format!("the bundle is invalid: {e}")),
    };
    let Some(artifact) = image_artifact(subject) else {
        return Outcome::Rejected(format!(
            "{} digests cannot be verified in a bundle",
            subject.algorithm()
        ));
    };
    let message = matches!(bundle.content, Content::MessageSignature { .. });
    if message && matches!(want, Want::Attestations(_)) {
        return Outcome::Rejected(
            "the bundle holds a message signature, not a signed statement about the image".into(),
        );
    }
    first_verified(candidates, |c| {
        if !bundle.tlog_entries.is_empty() && !c.has_root {
            return Err(
                "the bundle has transparency log entries and no trusted root to check them".into(),
            );
        }
        let verified = c
            .verifier
            .verify(&bundle, &artifact, c.identity, opts)
            .map_err(|f| f.to_string())?;
        let predicate_type = match verified.statement {
            Some(statement) => {
                if let Some(reason) = wrong_predicate_type(&statement.predicate_type, want) {
                    return Err(reason);
                }
                Some(statement.predicate_type)
            }
            None => None,
        };
        let payload = match &bundle.content {
            Content::Dsse { payload, .. } => serde_json::from_slice(payload).ok(),
            Content::MessageSignature { .. } => None,
        };
        Ok((verified.signer, predicate_type, payload))
    })
}

/// The first step for a classic layer: is it a layer of the kind `want` reads?
pub fn classic_layer(layer: &Descriptor, want: &Want) -> Result<(), Outcome> {
    let expected = match want {
        Want::Signatures => SIMPLE_SIGNING_MEDIA_TYPE,
        Want::Attestations(_) => DSSE_MEDIA_TYPE,
        Want::Any => {
            return Err(Outcome::Rejected(
                "a classic layer is read as a .sig or an .att layer, not as either".into(),
            ));
        }
    };
    if layer.media_type != expected {
        return Err(Outcome::Rejected(format!(
            "the layer is a {}, not a {expected}",
            layer.media_type
        )));
    }
    if let Want::Attestations(_) = want {
        let annotated = layer
            .annotations
            .as_ref()
            .and_then(|a| a.get(PREDICATE_TYPE_ANNOTATION));
        if let Some(reason) = skip_by_predicate_type(annotated.map(String::as_str), want) {
            return Err(Outcome::Skipped(reason));
        }
    }
    Ok(())
}

/// The second step for a classic layer: its blob, as fetched, must verify for one of
/// `candidates` as a signature about `image` (`.sig`) or an attestation about its digest
/// (`.att`).
pub fn verify_classic(
    blob: &[u8],
    annotations: &BTreeMap<String, String>,
    image: &Image<'_>,
    candidates: &[Candidate<'_>],
    want: &Want,
    opts: &Options,
) -> Outcome {
    let layer = Layer { blob, annotations };
    first_verified(candidates, |c| {
        if annotations.contains_key(BUNDLE_ANNOTATION) && !c.has_root {
            return Err(
                "the layer has a transparency log entry and no trusted root to check it".into(),
            );
        }
        let verified = match want {
            Want::Signatures => {
                cosign_classic::verify_signature(layer, image, c.identity, c.verifier, opts)
            }
            Want::Any => return Err("a classic layer is read as a .sig or an .att layer".into()),
            Want::Attestations(_) => cosign_classic::verify_attestation(
                layer,
                image.digest,
                c.identity,
                c.verifier,
                opts,
            ),
        }
        .map_err(|f| f.to_string())?;
        match verified.claim {
            Claim::Signature(_) => Ok((verified.signer, None, serde_json::from_slice(blob).ok())),
            Claim::Attestation(statement) => {
                if let Some(reason) = wrong_predicate_type(&statement.predicate_type, want) {
                    return Err(reason);
                }
                let payload = Envelope::parse(blob)
                    .ok()
                    .and_then(|e| serde_json::from_slice(&e.payload).ok());
                Ok((verified.signer, Some(statement.predicate_type), payload))
            }
        }
    })
}

type Checked = (VerifiedSigner, Option<String>, Option<Value>);

/// The first candidate `check` accepts; otherwise every candidate's reason.
fn first_verified(
    candidates: &[Candidate<'_>],
    check: impl Fn(&Candidate<'_>) -> Result<Checked, String>,
) -> Outcome {
    let mut reasons = Vec::new();
    for (i, candidate) in candidates.iter().enumerate() {
        match check(candidate) {
            Ok((signer, predicate_type, payload)) => {
                return Outcome::Verified(Proven {
                    candidate: i,
                    signer,
                    predicate_type,
                    payload,
                });
            }
            Err(reason) if candidates.len() == 1 => reasons.push(reason),
            Err(reason) => reasons.push(format!("{}: {reason}", candidate.name)),
        }
    }
    Outcome::Rejected(if reasons.is_empty() {
        "no trusted signer to check it against".into()
    } else {
        reasons.join("; ")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyKind, PrivateKey};
    use crate::time::Timestamp;

    #[test]
    fn predicate_type_filters() {
        let slsa = "https://slsa.dev/provenance/v1";
        let table: &[(Option<&str>, &Want, bool)] = &[
            (None, &Want::Signatures, false),
            (Some(SIGN_PREDICATE_TYPE), &Want::Signatures, false),
            (Some(slsa), &Want::Signatures, true),
            (None, &Want::Attestations(None), false),
            (Some(SIGN_PREDICATE_TYPE), &Want::Attestations(None), true),
            (Some(slsa), &Want::Attestations(None), false),
            (
                Some(slsa),
                &Want::Attestations(Some(slsa.to_owned())),
                false,
            ),
            (
                Some("https://spdx.dev/Document"),
                &Want::Attestations(Some(slsa.to_owned())),
                true,
            ),
        ];
        for (annotated, want, skipped) in table {
            assert_eq!(
                skip_by_predicate_type(*annotated, want).is_some(),
                *skipped,
                "{annotated:?}"
            );
        }
        assert!(wrong_predicate_type(slsa, &Want::Signatures).is_some());
        assert!(wrong_predicate_type(SIGN_PREDICATE_TYPE, &Want::Signatures).is_none());
        assert!(wrong_predicate_type(SIGN_PREDICATE_TYPE, &Want::Attestations(None)).is_some());
        assert!(wrong_predicate_type(slsa, &Want::Attestations(None)).is_none());
    }

    fn digest(bytes: &[u8]) -> Digest {
        Digest::compute(Algorithm::Sha256, bytes)
    }

    #[test]
    fn signed_names_are_what_the_payload_names_the_artifact_as() {
        let image = digest(b"image");
        let other = digest(b"other");
        let statement = |subject: Value| {
            serde_json::json!({
                "_type": "https://in-toto.io/Statement/v1",
                "subject": subject,
                "predicateType": SIGN_PREDICATE_TYPE,
                "predicate": {}
            })
        };
        let subject = |name: Option<&str>, d: &Digest| match name {
            Some(n) => serde_json::json!({"name": n, "digest": {"sha256": d.hex()}}),
            None => serde_json::json!({"digest": {"sha256": d.hex()}}),
        };
        let classic = |reference: &str, d: &Digest| {
            serde_json::from_slice::<Value>(&cosign_classic::simple_signing_payload(
                reference,
                d,
                &BTreeMap::new(),
            ))
            .unwrap()
        };
        let upper = serde_json::json!([{
            "name": "prod/app",
            "digest": {"sha256": image.hex().to_ascii_uppercase()}
        }]);
        let cases: Vec<(Option<Value>, &[&str])> = vec![
            (
                Some(statement(serde_json::json!([subject(
                    Some("127.0.0.1:5000/prod/app"),
                    &image
                )]))),
                &["127.0.0.1:5000/prod/app"],
            ),
            // Only the subjects with the artifact's digest; an empty or missing name is none.
            (
                Some(statement(serde_json::json!([
                    subject(Some("dev/app"), &other),
                    subject(Some(""), &image),
                    subject(None, &image),
                    subject(Some("prod/app"), &image),
                ]))),
                &["prod/app"],
            ),
            (
                Some(statement(serde_json::json!([subject(None, &image)]))),
                &[],
            ),
            (
                Some(statement(serde_json::json!([subject(
                    Some("prod/app"),
                    &other
                )]))),
                &[],
            ),
            (Some(statement(upper)), &["prod/app"]),
            (
                Some(classic("registry.example/prod/app", &image)),
                &["registry.example/prod/app"],
            ),
            (Some(classic("registry.example/prod/app", &other)), &[]),
            (Some(serde_json::json!({"name": "prod/app"})), &[]),
            (Some(serde_json::json!("prod/app")), &[]),
            (None, &[]),
        ];
        for (payload, want) in cases {
            assert_eq!(signed_names(payload.as_ref(), &image), want, "{payload:?}");
        }
    }

    fn referrer(subject: &Digest, layers: &[(&str, &Digest)], predicate_type: &str) -> Vec<u8> {
        let layers: Vec<Value> = layers
            .iter()
            .map(|(media_type, d)| {
                serde_json::json!({"mediaType": media_type, "digest": d.as_str(), "size": 1})
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": digest(b"{}").as_str(),
                "size": 2
            },
            "layers": layers,
            "subject": {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": subject.as_str(),
                "size": 10
            },
            "annotations": {BUNDLE_PREDICATE_TYPE_ANNOTATION: predicate_type}
        }))
        .unwrap()
    }

    #[test]
    fn a_referrer_must_name_the_image_and_hold_one_bundle() {
        let image = digest(b"image");
        let bundle = digest(b"bundle");
        let bundle_type = "application/vnd.dev.sigstore.bundle.v0.3+json";
        let ok = referrer(&image, &[(bundle_type, &bundle)], SIGN_PREDICATE_TYPE);
        let layer = referrer_bundle_layer(&image, None, &ok, &Want::Signatures).unwrap();
        assert_eq!(layer.digest, bundle);

        let other = referrer(
            &digest(b"other"),
            &[(bundle_type, &bundle)],
            SIGN_PREDICATE_TYPE,
        );
        let two = referrer(
            &image,
            &[(bundle_type, &bundle), (bundle_type, &bundle)],
            SIGN_PREDICATE_TYPE,
        );
        let tar = referrer(
            &image,
            &[("application/vnd.oci.image.layer.v1.tar", &bundle)],
            SIGN_PREDICATE_TYPE,
        );
        let cases: [(&[u8], &Want, &str); 5] = [
            (&other, &Want::Signatures, "skipped: its subject is sha256:"),
            (&two, &Want::Signatures, "rejected: it has 2 layers"),
            (
                &tar,
                &Want::Signatures,
                "rejected: its layer is a application/vnd.oci",
            ),
            (
                &ok,
                &Want::Attestations(None),
                "skipped: a signature, not an attestation",
            ),
            (b"{", &Want::Signatures, "rejected: its manifest is invalid"),
        ];
        for (manifest, want, expected) in cases {
            let got = match referrer_bundle_layer(&image, None, manifest, want) {
                Ok(layer) => format!("accepted {}", layer.digest),
                Err(Outcome::Rejected(r)) => format!("rejected: {r}"),
                Err(Outcome::Skipped(r)) => format!("skipped: {r}"),
                Err(Outcome::Verified(_)) => "verified".into(),
            };
            assert!(got.starts_with(expected), "{got}");
        }
    }

    /// A key-signed bundle over the image (as `vouch sign` writes one) verifies for the
    /// candidate holding its key, whichever position it has, and for no other.
    #[test]
    fn the_candidate_whose_key_signed_is_the_one_named() {
        let image = digest(b"the image manifest");
        let signer = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
        let stranger = PrivateKey::generate(KeyKind::EcdsaP256).unwrap();
        let statement = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "img", "digest": {"sha256": image.hex()}}],
            "predicateType": SIGN_PREDICATE_TYPE,
            "predicate": {}
        });
        let payload = serde_json::to_vec(&statement).unwrap();
        let content = Content::dsse_signed(&signer, payload).unwrap();
        let bundle = Bundle::signed_with_key(&signer.public_key().unwrap(), content)
            .to_json()
            .unwrap()
            .into_bytes();
        let verifier = Verifier::new(Default::default());
        let keys: Vec<Identity> = [&stranger, &signer]
            .iter()
            .map(|k| Identity::Key(k.public_key().unwrap()))
            .collect();
        let candidates: Vec<Candidate<'_>> = keys
            .iter()
            .zip(["stranger", "signer"])
            .map(|(identity, name)| Candidate {
                name,
                identity,
                verifier: &verifier,
                has_root: false,
            })
            .collect();
        let opts = Options {
            now: Timestamp::from_unix(2_000_000_000),
            allow_no_tlog_with_key: true,
        };
        match verify_bundle(&image, &bundle, &candidates, &Want::Signatures, &opts) {
            Outcome::Verified(p) => {
                assert_eq!(p.candidate, 1);
                assert_eq!(p.predicate_type.as_deref(), Some(SIGN_PREDICATE_TYPE));
            }
            other => panic!("{other:?}"),
        }
        match verify_bundle(&image, &bundle, &candidates[..1], &Want::Signatures, &opts) {
            Outcome::Rejected(_) => {}
            other => panic!("{other:?}"),
        }
        match verify_bundle(
            &digest(b"another"),
            &bundle,
            &candidates,
            &Want::Signatures,
            &opts,
        ) {
            Outcome::Rejected(r) => assert!(r.starts_with("stranger: "), "{r}"),
            other => panic!("{other:?}"),
        }
        match verify_bundle(&image, &bundle, &[], &Want::Signatures, &opts) {
            Outcome::Rejected(r) => assert_eq!(r, "no trusted signer to check it against"),
            other => panic!("{other:?}"),
        }
    }
}
