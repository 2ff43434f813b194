//! What the registry writes on the ledger, and when. Every manifest stored is an
//! `artifact.pushed`; one that signs or attests another manifest of its repository (an OCI 1.1
//! referrer of a signature or attestation type, or cosign's classic `sha256-<hex>.sig` and
//! `.att` tags) is also a `signature.attached` or `attestation.attached`; a manifest deleted by
//! digest is an `artifact.deleted`. The events are signed with the node key and recorded after
//! the metadata commit and before the client is answered, so that what a client saw
//! acknowledged is on the ledger. A ledger that stopped fails the request (503): nothing is
//! acknowledged off the record. An event about an artifact the ledger never saw pushed (pushed
//! before the ledger existed) is left out with a warning; the request still succeeds.

use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ledger::{Event, EventType, Rejection, SubmitError};
use oci::{Digest, Manifest, ManifestKind, Reference, RepoName, Tag, base_media_type, media_type};
use serde_json::Value;
use verify::time::Timestamp;

use crate::App;
use crate::auth::Principal;
use crate::error::{ApiError, ErrorCode};
use crate::metrics::LedgerSource;

/// The predicate type of the statement cosign 3 signs for `cosign sign`: a bundle about it is
/// a signature, a bundle about any other predicate type an attestation.
const SIGN_PREDICATE_TYPE: &str = "https://sigstore.dev/cosign/sign/v1";
/// What every Sigstore bundle media type contains (`application/vnd.dev.sigstore.bundle...`).
const BUNDLE_TYPE_MARK: &str = "sigstore.bundle";
/// The manifest annotation cosign 3 puts on a bundle referrer.
const BUNDLE_PREDICATE_TYPE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";
/// The layer annotation BuildKit puts on in-toto layers.
const BUILDKIT_PREDICATE_TYPE_ANNOTATION: &str = "in-toto.io/predicate-type";
/// Longer predicate types are recorded as unknown: an annotation is the pusher's to fill, an
/// entry is at most `ledger::event::MAX_ENTRY_BYTES`.
const MAX_PREDICATE_TYPE_LEN: usize = 1024;

/// How a manifest relates to the one it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Attachment {
    Signature,
    Attestation { predicate_type: String },
}

/// The events of one manifest push, made before the metadata commit (the manifest moves into
/// it) and recorded after it, in order.
pub(crate) struct PushEvents {
    pushed: Event,
    attached: Option<Event>,
}

impl PushEvents {
    pub fn new(
        who: &Principal,
        repo: &RepoName,
        digest: &Digest,
        manifest: &Manifest,
        reference: &Reference,
        param_tags: &[Tag],
    ) -> PushEvents {
        let mut tags: Vec<&Tag> = Vec::new();
        if let Reference::Tag(t) = reference {
            tags.push(t);
        }
        for t in param_tags {
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        let time = now();
        let actor = actor(who);
        let mut pushed = Event::new(EventType::ArtifactPushed, time, actor.clone());
        pushed.subject.repository = Some(repo.as_str().to_owned());
        pushed.subject.digest = Some(digest.clone());
        pushed.subject.config = match manifest.kind {
            // An artifact's empty config names nothing worth looking up.
            ManifestKind::Image => manifest
                .config
                .as_ref()
                .filter(|c| c.media_type != media_type::OCI_EMPTY)
                .map(|c| c.digest.clone()),
            ManifestKind::Index => None,
        };
        pushed.subject.tag = tags.first().map(|t| t.as_str().to_owned());
        if tags.len() > 1 {
            let all = tags.iter().map(|t| Value::from(t.as_str())).collect();
            pushed.details.insert("tags".into(), Value::Array(all));
        }
        let attached = attachment(manifest, &tags).map(|(signed, how)| {
            let kind = match how {
                Attachment::Signature => EventType::SignatureAttached,
                Attachment::Attestation { .. } => EventType::AttestationAttached,
            };
            let mut event = Event::new(kind, time, actor);
            event.subject.repository = Some(repo.as_str().to_owned());
            event.subject.digest = Some(signed);
            event.evidence = vec![digest.clone()];
            if let Attachment::Attestation { predicate_type } = how {
                event
                    .details
                    .insert("predicateType".into(), predicate_type.into());
            }
            event
        });
        PushEvents { pushed, attached }
    }
}

/// Records a push's events: the artifact first, then what it signs or attests (the ledger
/// accepts an attachment only as evidence it has seen pushed).
pub(crate) async fn push(app: &Arc<App>, events: PushEvents) -> Result<(), ApiError> {
    finish(app, move |app| async move {
        record(&app, events.pushed).await?;
        if let Some(attached) = events.attached {
            record(&app, attached).await?;
        }
        Ok(())
    })
    .await
}

/// Records the deletion of a manifest (and with it its tags).
pub(crate) async fn deleted(
    app: &Arc<App>,
    who: &Principal,
    repo: &RepoName,
    digest: &Digest,
) -> Result<(), ApiError> {
    let mut event = Event::new(EventType::ArtifactDeleted, now(), actor(who));
    event.subject.repository = Some(repo.as_str().to_owned());
    event.subject.digest = Some(digest.clone());
    finish(app, move |app| async move {
        record(&app, event).await.map(drop)
    })
    .await
}

/// Runs `work` to its end even if the request is dropped meanwhile (its client gone): the
/// metadata commit happened, so its events must not stop halfway (an artifact recorded as
/// pushed but its signature never attached).
async fn finish<F, Fut>(app: &Arc<App>, work: F) -> Result<(), ApiError>
where
    F: FnOnce(Arc<App>) -> Fut,
    Fut: Future<Output = Result<(), ApiError>> + Send + 'static,
{
    if app.ledger.is_none() {
        return Ok(());
    }
    tokio::spawn(work(Arc::clone(app))).await?
}

/// Signs and records one event, and waits until it is durable.
pub(crate) async fn record(app: &App, event: Event) -> Result<Option<u64>, ApiError> {
    let Some(ledger) = &app.ledger else {
        return Ok(None);
    };
    let kind = event.kind;
    let about = event
        .subject
        .digest
        .as_ref()
        .map(|d| format!("{}@{d}", event.subject.repository.as_deref().unwrap_or("")))
        .unwrap_or_default();
    match ledger.record(event).await {
        Ok(receipt) => {
            app.metrics.ledger_appended(
                LedgerSource::Registry,
                receipt.duplicate,
                receipt.checkpoint.checkpoint().size(),
            );
            Ok(Some(receipt.index))
        }
        Err(SubmitError::Rejected(rejection)) => {
            app.metrics.ledger_rejected(rejection.code());
            match rejection {
                // Deletes and attachments name an earlier push; artifact.pushed is never refused
                // for this.
                Rejection::UnknownArtifact { .. } => {
                    tracing::warn!(
                        event = %kind,
                        artifact = about,
                        reason = %rejection,
                        "left off the ledger: it names an artifact the ledger has not seen pushed (pushed before the ledger existed, or not yet)"
                    );
                    Ok(None)
                }
                other => Err(ApiError::internal(format!(
                    "the ledger refused the registry's {kind} event about {about}: {other}"
                ))),
            }
        }
        Err(SubmitError::Ledger(e)) => {
            app.metrics.ledger_rejected("UNAVAILABLE");
            Err(ApiError::unavailable(
                ErrorCode::Unknown,
                format!("cannot record {kind} about {about}: {e}"),
            ))
        }
    }
}

pub(crate) fn now() -> Timestamp {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Timestamp::from_unix(i64::try_from(secs).unwrap_or(i64::MAX))
}

pub(crate) fn actor(who: &Principal) -> String {
    match who {
        Principal::Anonymous => "anonymous".to_owned(),
        Principal::User(name) => name.to_string(),
    }
}

/// The manifest a pushed manifest signs or attests (its digest), and how; `None` if it is
/// neither a signature nor an attestation. A referrer says so by its `subject`, a classic
/// cosign image by its tag (`tags` are those the push set).
pub(crate) fn attachment(manifest: &Manifest, tags: &[&Tag]) -> Option<(Digest, Attachment)> {
    if let Some(subject) = &manifest.subject {
        return referrer_kind(manifest).map(|how| (subject.digest.clone(), how));
    }
    tags.iter().find_map(|t| {
        let (signed, signature) = cosign_tag(t.as_str())?;
        let how = if signature {
            Attachment::Signature
        } else {
            Attachment::Attestation {
                predicate_type: predicate_type(manifest).unwrap_or("unknown").to_owned(),
            }
        };
        Some((signed, how))
    })
}

/// What a referrer is, by its type (`artifactType`, else the config's media type) and its
/// layers' media types.
fn referrer_kind(manifest: &Manifest) -> Option<Attachment> {
    let kinds: Vec<&str> = manifest
        .referrer_artifact_type()
        .into_iter()
        .chain(manifest.layers.iter().map(|l| l.media_type.as_str()))
        .map(base_media_type)
        .collect();
    let predicate = predicate_type(manifest);
    let attestation = || Attachment::Attestation {
        predicate_type: predicate.unwrap_or("unknown").to_owned(),
    };
    if kinds.iter().any(|t| t.contains(BUNDLE_TYPE_MARK)) {
        // A bundle about the signing predicate (cosign 3's signatures), or about nothing (a
        // message signature), is a signature.
        return Some(match predicate {
            None | Some(SIGN_PREDICATE_TYPE) => Attachment::Signature,
            Some(_) => attestation(),
        });
    }
    if kinds.iter().any(|t| {
        *t == verify::intoto::PAYLOAD_TYPE || *t == verify::cosign_classic::DSSE_MEDIA_TYPE
    }) {
        return Some(attestation());
    }
    if kinds.contains(&verify::cosign_classic::SIMPLE_SIGNING_MEDIA_TYPE) {
        return Some(Attachment::Signature);
    }
    None
}

/// The predicate type a signature image announces: its newest layer's `predicateType` (cosign's
/// classic `.att` layers) or `in-toto.io/predicate-type` (BuildKit), else the manifest's
/// `dev.sigstore.bundle.predicateType` (cosign 3's bundle referrers).
fn predicate_type(manifest: &Manifest) -> Option<&str> {
    let from_layers = manifest.layers.iter().rev().find_map(|l| {
        let a = l.annotations.as_ref()?;
        a.get(verify::cosign_classic::PREDICATE_TYPE_ANNOTATION)
            .or_else(|| a.get(BUILDKIT_PREDICATE_TYPE_ANNOTATION))
    });
    let from_manifest = || {
        manifest
            .annotations
            .as_ref()?
            .get(BUNDLE_PREDICATE_TYPE_ANNOTATION)
    };
    let p = from_layers.or_else(from_manifest)?;
    let usable = !p.is_empty() && p.len() <= MAX_PREDICATE_TYPE_LEN;
    usable.then_some(p.as_str())
}

/// `sha256-<hex>.sig` (a signature) or `sha256-<hex>.att` (an attestation): the digest
/// `sha256:<hex>` signed, and whether it is a signature.
fn cosign_tag(tag: &str) -> Option<(Digest, bool)> {
    let (rest, signature) = match (tag.strip_suffix(".sig"), tag.strip_suffix(".att")) {
        (Some(rest), _) => (rest, true),
        (_, Some(rest)) => (rest, false),
        _ => return None,
    };
    let hex = rest.strip_prefix("sha256-")?;
    let digest = Digest::parse(&format!("sha256:{hex}")).ok()?;
    Some((digest, signature))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HEX: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    fn manifest(doc: Value) -> Manifest {
        let bytes = serde_json::to_vec(&doc).unwrap();
        Manifest::parse(None, &bytes).unwrap()
    }

    fn descriptor(media_type: &str, c: char, annotations: Option<Value>) -> Value {
        let mut d = json!({
            "mediaType": media_type,
            "digest": format!("sha256:{}", c.to_string().repeat(64)),
            "size": 2,
        });
        if let Some(a) = annotations {
            d["annotations"] = a;
        }
        d
    }

    /// A referrer of `HEX` with the given artifact type, layer and manifest annotations.
    fn referrer(artifact_type: Option<&str>, layer: Value, annotations: Option<Value>) -> Manifest {
        let mut doc = json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_MANIFEST,
            "config": descriptor(media_type::OCI_EMPTY, 'c', None),
            "layers": [layer],
            "subject": descriptor(media_type::OCI_MANIFEST, 'a', None),
        });
        if let Some(t) = artifact_type {
            doc["artifactType"] = json!(t);
        }
        if let Some(a) = annotations {
            doc["annotations"] = a;
        }
        manifest(doc)
    }

    fn attestation(p: &str) -> Option<Attachment> {
        Some(Attachment::Attestation {
            predicate_type: p.into(),
        })
    }

    /// One row per layout a signer writes, and the answer.
    #[test]
    fn referrers_are_classified_by_type_and_predicate() {
        let bundle = "application/vnd.dev.sigstore.bundle.v0.3+json";
        let slsa = "https://slsa.dev/provenance/v1";
        let rows: Vec<(Manifest, Option<Attachment>)> = vec![
            // cosign 3 sign: a DSSE bundle about the signing predicate.
            (
                referrer(
                    Some(bundle),
                    descriptor(bundle, 'b', None),
                    Some(json!({ BUNDLE_PREDICATE_TYPE_ANNOTATION: SIGN_PREDICATE_TYPE })),
                ),
                Some(Attachment::Signature),
            ),
            // A bundle about nothing in particular (a message signature).
            (
                referrer(Some(bundle), descriptor(bundle, 'b', None), None),
                Some(Attachment::Signature),
            ),
            // cosign 3 attest.
            (
                referrer(
                    Some(bundle),
                    descriptor(bundle, 'b', None),
                    Some(json!({ BUNDLE_PREDICATE_TYPE_ANNOTATION: slsa })),
                ),
                attestation(slsa),
            ),
            // The bundle type only on the layer, with parameters.
            (
                referrer(
                    Some("application/vnd.example+json"),
                    descriptor(&format!("{bundle}; version=0.3"), 'b', None),
                    None,
                ),
                Some(Attachment::Signature),
            ),
            // in-toto and DSSE types: attestations, with or without a predicate type.
            (
                referrer(
                    Some("application/vnd.in-toto+json"),
                    descriptor(
                        "application/vnd.in-toto+json",
                        'b',
                        Some(json!({ BUILDKIT_PREDICATE_TYPE_ANNOTATION: slsa })),
                    ),
                    None,
                ),
                attestation(slsa),
            ),
            (
                referrer(
                    None,
                    descriptor("application/vnd.dsse.envelope.v1+json", 'b', None),
                    None,
                ),
                attestation("unknown"),
            ),
            // Simple signing: a signature.
            (
                referrer(
                    None,
                    descriptor(
                        "application/vnd.dev.cosign.simplesigning.v1+json",
                        'b',
                        None,
                    ),
                    None,
                ),
                Some(Attachment::Signature),
            ),
            // Anything else (an SBOM, an example artifact): neither.
            (
                referrer(
                    Some("application/spdx+json"),
                    descriptor("application/spdx+json", 'b', None),
                    None,
                ),
                None,
            ),
        ];
        for (i, (m, want)) in rows.into_iter().enumerate() {
            let got = attachment(&m, &[]);
            assert_eq!(got.as_ref().map(|(_, a)| a), want.as_ref(), "row {i}");
            if let Some((signed, _)) = got {
                assert_eq!(signed.hex(), HEX, "row {i}");
            }
        }
    }

    #[test]
    fn cosign_classic_tags() {
        let image = |layer_annotations: Option<Value>| {
            manifest(json!({
                "schemaVersion": 2,
                "mediaType": media_type::OCI_MANIFEST,
                "config": descriptor("application/vnd.oci.image.config.v1+json", 'c', None),
                "layers": [descriptor("application/vnd.dsse.envelope.v1+json", 'b', layer_annotations)],
            }))
        };
        let tag = |t: &str| Tag::parse(t).unwrap();
        let plain = image(None);
        let sig = tag(&format!("sha256-{HEX}.sig"));
        let att = tag(&format!("sha256-{HEX}.att"));
        let got = attachment(&plain, &[&tag("latest"), &sig]).unwrap();
        assert_eq!(got.0.to_string(), format!("sha256:{HEX}"));
        assert_eq!(got.1, Attachment::Signature);
        let predicate = image(Some(
            json!({ "predicateType": "https://spdx.dev/Document" }),
        ));
        assert_eq!(
            attachment(&predicate, &[&att]).map(|(_, a)| a),
            attestation("https://spdx.dev/Document")
        );
        assert_eq!(
            attachment(&plain, &[&att]).map(|(_, a)| a),
            attestation("unknown")
        );
        for not_cosign in [
            "sha256-abc.sig",
            "sha512-aaaa.sig",
            "v1.sig",
            &format!("sha256-{HEX}"),
            &format!("sha256-{HEX}.sbom"),
            &format!("sha256-{}.sig", HEX.to_uppercase()),
        ] {
            assert_eq!(cosign_tag(not_cosign), None, "{not_cosign}");
        }
        assert_eq!(attachment(&plain, &[&tag("latest")]), None);
    }

    #[test]
    fn push_events_name_what_was_pushed() {
        let m = referrer(
            Some("application/vnd.dev.sigstore.bundle.v0.3+json"),
            descriptor("application/vnd.dev.sigstore.bundle.v0.3+json", 'b', None),
            Some(json!({ BUNDLE_PREDICATE_TYPE_ANNOTATION: "https://slsa.dev/provenance/v1" })),
        );
        let repo = RepoName::parse("team/app").unwrap();
        let digest = Digest::parse(&format!("sha256:{}", "d".repeat(64))).unwrap();
        let who = Principal::User("ci".into());
        let reference = Reference::Tag(Tag::parse("v1").unwrap());
        let params = [Tag::parse("v1").unwrap(), Tag::parse("stable").unwrap()];
        let events = PushEvents::new(&who, &repo, &digest, &m, &reference, &params);
        let p = &events.pushed;
        assert_eq!(p.kind, EventType::ArtifactPushed);
        assert_eq!(p.actor, "ci");
        assert_eq!(p.subject.repository.as_deref(), Some("team/app"));
        assert_eq!(p.subject.digest.as_ref(), Some(&digest));
        assert_eq!(p.subject.config, None, "an empty config is not named");
        assert_eq!(p.subject.tag.as_deref(), Some("v1"));
        assert_eq!(p.details["tags"], json!(["v1", "stable"]));
        assert_eq!(p.time.nanos(), 0);
        let a = events.attached.as_ref().unwrap();
        assert_eq!(a.kind, EventType::AttestationAttached);
        assert_eq!(a.subject.digest.as_ref().unwrap().hex(), HEX);
        assert_eq!(a.evidence, std::slice::from_ref(&digest));
        assert_eq!(
            a.detail_str("predicateType"),
            Some("https://slsa.dev/provenance/v1")
        );
        let anonymous = PushEvents::new(
            &Principal::Anonymous,
            &repo,
            &digest,
            &m,
            &Reference::Digest(digest.clone()),
            &[],
        );
        assert_eq!(anonymous.pushed.actor, "anonymous");
        assert_eq!(anonymous.pushed.subject.tag, None);
        assert!(anonymous.pushed.details.is_empty());
    }
}
