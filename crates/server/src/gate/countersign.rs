//! What the gate writes about a decision: an `artifact.admitted` or `artifact.denied` entry
//! per policy on the ledger (naming the policy's digest, the evidence that counted and the
//! reasons), and, on admission, the registry's counter-signature: an in-toto statement of
//! [`ADMISSION_PREDICATE_TYPE`] (policies, evidence, time, ledger entries) DSSE-signed with
//! the registry's key, in a Sigstore bundle attached to the artifact as an OCI 1.1 referrer,
//! as cosign 3 attaches attestations (`vouch verify-attestation --key` reads it).

use std::sync::Arc;

use ledger::{Event, EventType};
use oci::{Digest, Manifest, RepoName, media_type};
use serde_json::{Value, json};
use verify::bundle::{Bundle, Content, MEDIA_TYPE_V0_3};

use super::{ADMISSION_PREDICATE_TYPE, Decision};
use crate::App;
use crate::error::ApiError;
use crate::registry::record;

/// The actor of the gate's own entries.
const ACTOR: &str = "vouch-gate";

/// Records one entry per covering policy's verdict; returns the indices of those recorded.
pub(crate) async fn record_decision(
    app: &Arc<App>,
    repo: &RepoName,
    digest: &Digest,
    decision: &Decision,
) -> Result<Vec<u64>, ApiError> {
    let mut events = Vec::new();
    let time = record::now();
    for verdict in decision.verdict.verdicts() {
        // Admitted by the policy, or through an admitted index the policy lets it inherit from.
        let admitted =
            decision.admission.admitted && (verdict.admitted() || decision.through.is_some());
        let kind = if admitted {
            EventType::ArtifactAdmitted
        } else {
            EventType::ArtifactDenied
        };
        let mut event = Event::new(kind, time, ACTOR);
        event.subject.repository = Some(repo.as_str().to_owned());
        event.subject.digest = Some(digest.clone());
        event.evidence = verdict.evidence.clone();
        event
            .details
            .insert("policy".into(), verdict.policy_digest.to_string().into());
        event
            .details
            .insert("policyName".into(), verdict.policy.clone().into());
        event
            .details
            .insert("mode".into(), verdict.mode.as_str().into());
        if let Some(index) = &decision.through {
            event
                .details
                .insert("throughIndex".into(), index.to_string().into());
        }
        if !decision.signers.is_empty() {
            event
                .details
                .insert("signers".into(), Value::Array(decision.signers.clone()));
        }
        if !decision.provenance.is_empty() {
            event.details.insert(
                "provenance".into(),
                Value::Array(decision.provenance.clone()),
            );
        }
        if !admitted {
            let mut reasons: Vec<Value> = verdict
                .reasons
                .iter()
                .map(|r| Value::from(r.to_string()))
                .collect();
            if reasons.is_empty() {
                // The policy admitted; the gate did not (an index's child is not admitted).
                reasons = decision
                    .admission
                    .reasons
                    .iter()
                    .map(|r| Value::from(r.as_str()))
                    .collect();
            }
            if reasons.is_empty() {
                reasons.push("not admitted".into());
            }
            event
                .details
                .insert("reasons".into(), Value::Array(reasons));
        }
        events.push(event);
    }
    // No request waits on this task: `gate::evaluate` runs it to its end.
    let mut indices = Vec::new();
    for event in events {
        if let Some(i) = record::record(app, event).await? {
            indices.push(i);
        }
    }
    Ok(indices)
}

/// Attaches the registry's counter-signature of an admission to the artifact, and records it.
pub(crate) async fn attach(
    app: &Arc<App>,
    repo: &RepoName,
    digest: &Digest,
    decision: &Decision,
    ledger_entries: &[u64],
) -> Result<(), ApiError> {
    let Some(cell) = &app.gate else {
        return Ok(());
    };
    let time = record::now();
    let mut evidence: Vec<String> = decision
        .verdict
        .verdicts()
        .iter()
        .flat_map(|v| v.evidence.iter().map(ToString::to_string))
        .collect();
    evidence.sort();
    evidence.dedup();
    let policies: Vec<Value> = decision
        .verdict
        .verdicts()
        .iter()
        .map(|v| json!({"name": v.policy, "digest": v.policy_digest.as_str(), "mode": v.mode.as_str()}))
        .collect();
    let mut predicate = json!({
        "policies": policies,
        "evidence": evidence,
        "time": time.to_string(),
    });
    if let Some(ledger) = &app.ledger {
        predicate["ledger"] = json!({"origin": ledger.origin(), "entries": ledger_entries});
    }
    let statement = json!({
        "_type": verify::intoto::STATEMENT_V1,
        "subject": [{"name": repo.as_str(), "digest": {digest.algorithm().as_str(): digest.hex()}}],
        "predicateType": ADMISSION_PREDICATE_TYPE,
        "predicate": predicate,
    });
    let key = cell.countersigner();
    let payload = serde_json::to_vec(&statement).map_err(ApiError::internal)?;
    let public = key.public_key().map_err(ApiError::internal)?;
    let content = Content::dsse_signed(key, payload).map_err(ApiError::internal)?;
    let bundle = Bundle::signed_with_key(&public, content)
        .to_json()
        .map_err(ApiError::internal)?
        .into_bytes();

    let (r, d, t) = (repo.clone(), digest.clone(), time.to_string());
    let referrer = app
        .blocking(move |app| {
            let subject = app
                .meta
                .manifest(&r, &oci::Reference::Digest(d.clone()), false)?
                .map(|m| m.head);
            let Some(subject) = subject else {
                return Ok(None);
            };
            let mut digests = Vec::new();
            for bytes in [b"{}".as_slice(), &bundle] {
                let (temp, blob) = app.blobs.write_temp(bytes)?;
                app.meta.commit_blob(&r, &blob, bytes.len() as u64, || {
                    app.blobs.install(&temp, &blob)
                })?;
                digests.push((blob, bytes.len()));
            }
            let manifest = json!({
                "schemaVersion": 2,
                "mediaType": media_type::OCI_MANIFEST,
                "artifactType": MEDIA_TYPE_V0_3,
                "config": {"mediaType": media_type::OCI_EMPTY, "digest": digests[0].0.as_str(), "size": digests[0].1},
                "layers": [{"mediaType": MEDIA_TYPE_V0_3, "digest": digests[1].0.as_str(), "size": digests[1].1}],
                "subject": {"mediaType": subject.media_type, "digest": subject.digest.as_str(), "size": subject.size},
                "annotations": {
                    "dev.sigstore.bundle.content": "dsse-envelope",
                    "dev.sigstore.bundle.predicateType": ADMISSION_PREDICATE_TYPE,
                    "org.opencontainers.image.created": t,
                },
            });
            let bytes = serde_json::to_vec(&manifest)
                .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
            let parsed = Manifest::parse(Some(media_type::OCI_MANIFEST), &bytes)
                .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
            let referrer = Digest::compute(oci::Algorithm::Sha256, &bytes);
            app.meta.put_manifest(&r, &referrer, &parsed, &bytes, &[])?;
            Ok(Some(referrer))
        })
        .await?;
    let Some(referrer) = referrer else {
        return Ok(());
    };
    let mut pushed = Event::new(EventType::ArtifactPushed, time, ACTOR);
    pushed.subject.repository = Some(repo.as_str().to_owned());
    pushed.subject.digest = Some(referrer.clone());
    let mut attached = Event::new(EventType::AttestationAttached, time, ACTOR);
    attached.subject.repository = Some(repo.as_str().to_owned());
    attached.subject.digest = Some(digest.clone());
    attached.evidence = vec![referrer];
    attached
        .details
        .insert("predicateType".into(), ADMISSION_PREDICATE_TYPE.into());
    record::record(app, pushed).await?;
    record::record(app, attached).await?;
    Ok(())
}
