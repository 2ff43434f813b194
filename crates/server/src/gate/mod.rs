//! The gate: what makes the registry a trusted one. A manifest pushed to a repository that a
//! policy covers is quarantined; when evidence about it arrives (a bundle referrer, a cosign
//! classic `.sig` or `.att` image) the registry gathers everything stored about it, verifies
//! each piece itself ([`collect`]), and asks the one trust decision
//! ([`verify::policy::evaluate_set`]) whether it is admitted. The decision is stored, recorded
//! on the ledger under the policy's digest, and, on admission, counter-signed by the registry
//! ([`countersign`]). Readers with only the pull role get `403 DENIED` with the reasons for
//! anything not admitted; pushers and administrators read everything; signatures and
//! attestations stay readable (a signer must find what it signs).
//!
//! Fails closed throughout: a manifest without a stored decision is quarantined, an error while
//! deciding leaves the previous decision (or the quarantine) in place, and only what verifies
//! counts.

pub(crate) mod collect;
pub(crate) mod countersign;
pub mod reload;

use std::fmt::Write as _;
use std::sync::Arc;

use oci::{Digest, Manifest, ManifestKind, Reference, RepoName};
use serde_json::json;
use verify::evidence::{Candidate, Outcome};
use verify::keys::PrivateKey;
use verify::policy::{AuthorityKind, Evidence, IndexChildren, PolicySet, SetVerdict, Signer};
use verify::sigstore::{Identity, Options, Verifier};
use verify::time::Timestamp;

use crate::App;
use crate::auth::{Action, Principal};
use crate::error::ApiError;
use crate::store::StoreError;
use crate::store::meta::Admission;
use collect::Found;
pub use reload::{GateCell, Reloaded, reload};

/// The registry's counter-signing key, `<data>/gate/countersign.key` (PKCS#8 PEM, ECDSA
/// P-256), created the first time with its public half in `countersign.pub`: the key
/// `vouch verify-attestation --key` checks counter-signatures with.
pub fn countersigning_key(data_dir: &std::path::Path) -> Result<PrivateKey, StoreError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = data_dir.join("gate");
    let path = dir.join("countersign.key");
    let corrupt =
        |e: &dyn std::fmt::Display| StoreError::Corrupt(format!("{}: {e}", path.display()));
    match std::fs::read_to_string(&path) {
        Ok(text) => return PrivateKey::from_pem(&text).map_err(|e| corrupt(&e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(StoreError::io("read", &path)(e)),
    }
    std::fs::create_dir_all(&dir).map_err(StoreError::io("create", &dir))?;
    let key = PrivateKey::generate(verify::keys::KeyKind::EcdsaP256).map_err(|e| corrupt(&e))?;
    let der = key.to_pkcs8_der().map_err(|e| corrupt(&e))?;
    let public = key.public_key().map_err(|e| corrupt(&e))?;
    let pub_path = dir.join("countersign.pub");
    std::fs::write(&pub_path, public.to_pem()).map_err(StoreError::io("write", &pub_path))?;
    // Written whole under a temporary name, then renamed: a crash never leaves half a key.
    let temp = dir.join("countersign.key.new");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temp)
        .map_err(StoreError::io("create", &temp))?;
    file.write_all(verify::pem::encode("PRIVATE KEY", &der).as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(StoreError::io("write", &temp))?;
    std::fs::rename(&temp, &path).map_err(StoreError::io("rename", &path))?;
    crate::store::blobs::sync_dir(&dir)?;
    Ok(key)
}

/// The predicate type of the registry's counter-signatures.
pub const ADMISSION_PREDICATE_TYPE: &str = "https://vouch.dev/attestations/admission/v1";

/// Layer media types that make a manifest a signature or an attestation, not content: Sigstore
/// bundles (any version), DSSE envelopes, in-toto statements and cosign's simple signing.
fn is_evidence_layer(media_type: &str) -> bool {
    let base = oci::base_media_type(media_type);
    base.starts_with(verify::evidence::BUNDLE_LAYER_PREFIX)
        || base == verify::cosign_classic::DSSE_MEDIA_TYPE
        || base == verify::cosign_classic::SIMPLE_SIGNING_MEDIA_TYPE
        || base == verify::intoto::PAYLOAD_TYPE
}

/// Whether a manifest is a signature or an attestation (which stay readable): an image
/// manifest whose every layer, and at least one, is evidence. A label on the manifest
/// (`artifactType`, `subject`) does not suffice: any image can carry one.
pub(crate) fn is_evidence(manifest: &Manifest) -> bool {
    manifest.kind == ManifestKind::Image
        && !manifest.layers.is_empty()
        && manifest
            .layers
            .iter()
            .all(|l| is_evidence_layer(&l.media_type))
}

/// One authority of one policy, ready to verify with.
struct Prepared {
    name: String,
    identity: Identity,
    /// The index in [`Gate::roots`] of its trusted root; `None` for a key.
    root: Option<usize>,
}

/// The policies, prepared: every authority's identity and every trusted root's verifier. One
/// version of the policies: a reload replaces it whole (see [`GateCell`]).
pub struct Gate {
    policies: PolicySet,
    /// Per policy, its authorities.
    authorities: Vec<Vec<Prepared>>,
    /// The trusted roots keyless authorities name: their digest and prepared verifier.
    roots: Vec<(Digest, Verifier)>,
    /// The verifier for key authorities: no trusted root (a key-signed bundle with log
    /// entries is refused rather than accepted unchecked).
    keys: Verifier,
}

impl Gate {
    pub fn new(policies: PolicySet) -> Gate {
        let mut roots: Vec<(Digest, Verifier)> = Vec::new();
        let mut authorities = Vec::new();
        for policy in policies.policies() {
            let mut prepared = Vec::new();
            for authority in policy.authorities() {
                let root = match authority.kind() {
                    AuthorityKind::Key { .. } => None,
                    AuthorityKind::Keyless(k) => {
                        let digest = &k.trusted_root.digest;
                        Some(match roots.iter().position(|(d, _)| d == digest) {
                            Some(i) => i,
                            None => {
                                let root = (*k.trusted_root.root).clone();
                                roots.push((digest.clone(), Verifier::new(root)));
                                roots.len() - 1
                            }
                        })
                    }
                };
                prepared.push(Prepared {
                    name: format!("{}/{}", policy.name(), authority.name()),
                    identity: authority.identity(),
                    root,
                });
            }
            authorities.push(prepared);
        }
        Gate {
            policies,
            authorities,
            roots,
            keys: Verifier::new(Default::default()),
        }
    }

    pub fn policies(&self) -> &PolicySet {
        &self.policies
    }

    /// Whether any policy covers the repository (only those are gated).
    pub fn covers(&self, repo: &RepoName) -> bool {
        self.policies.policies().iter().any(|p| p.covers(repo))
    }

    /// The digests of the policies covering `repo`, in order: what a decision made under this
    /// version of the policies names ([`Admission::policies`]).
    pub(crate) fn policy_digests(&self, repo: &RepoName) -> Vec<String> {
        self.policies
            .for_repository(repo)
            .iter()
            .map(|p| p.digest().to_string())
            .collect()
    }

    /// The authorities of every policy covering `repo`, as candidates, with where each
    /// came from: (policy index, authority index).
    fn candidates(&self, repo: &RepoName) -> (Vec<Candidate<'_>>, Vec<&Prepared>) {
        let mut candidates = Vec::new();
        let mut prepared = Vec::new();
        for (policy, authorities) in self.policies.policies().iter().zip(&self.authorities) {
            if !policy.covers(repo) {
                continue;
            }
            for a in authorities {
                let verifier = match a.root {
                    Some(i) => &self.roots[i].1,
                    None => &self.keys,
                };
                candidates.push(Candidate {
                    name: &a.name,
                    identity: &a.identity,
                    verifier,
                    has_root: a.root.is_some(),
                });
                prepared.push(a);
            }
        }
        (candidates, prepared)
    }

    /// Gathers, verifies and evaluates everything about `digest` in `repo`. Blocking.
    pub(crate) fn decide(
        &self,
        app: &App,
        repo: &RepoName,
        digest: &Digest,
    ) -> Result<Option<Decision>, StoreError> {
        if !self.covers(repo) {
            return Ok(None);
        }
        let Some(found_manifest) =
            app.meta
                .manifest(repo, &Reference::Digest(digest.clone()), true)?
        else {
            return Ok(None);
        };
        let manifest = found_manifest
            .content
            .as_deref()
            .and_then(|c| Manifest::parse(Some(&found_manifest.head.media_type), c).ok());
        if manifest.as_ref().is_some_and(is_evidence) {
            // Signatures and attestations are not themselves admitted: they stay readable.
            return Ok(None);
        }
        let (candidates, prepared) = self.candidates(repo);
        let options = Options {
            now: Timestamp::from_system_time(std::time::SystemTime::now()),
            allow_no_tlog_with_key: true,
        };
        let found = collect::collect(&app.meta, &app.blobs, repo, digest, &candidates, &options)?;
        let mut evidence = Evidence::new(digest.clone(), repo.clone());
        for f in &found {
            let Outcome::Verified(p) = &f.outcome else {
                continue;
            };
            let Some(authority) = prepared.get(p.candidate) else {
                continue;
            };
            let signer = match authority.root {
                Some(i) => Signer::from_verified(&p.signer, &self.roots[i].0),
                None => Signer::from_verified(&p.signer, digest),
            };
            evidence.add_verified(
                signer,
                p.predicate_type.as_deref(),
                p.payload.as_ref(),
                f.digest.clone(),
            );
        }
        if let Some(ledger) = &app.ledger {
            if ledger.digest_revoked_at(digest.as_str()).is_some() {
                evidence.revoked_artifacts.insert(digest.clone());
            }
            for policy in self.policies.policies() {
                for authority in policy.authorities() {
                    if let AuthorityKind::Key { key, fingerprint } = authority.kind()
                        && ledger.revoked_at(&key.fingerprint()).is_some()
                    {
                        evidence.revoked_keys.insert(fingerprint.clone());
                    }
                }
            }
        }
        let verdict = self.policies.evaluate(&evidence);
        // Children are admitted through their index only if every covering policy says so.
        let inherit = self
            .policies
            .for_repository(repo)
            .iter()
            .all(|p| p.index_children() == IndexChildren::Inherit);
        let mut gate_reasons = Vec::new();
        let mut through_index = None;
        let is_index = manifest
            .as_ref()
            .is_some_and(|m| m.kind == ManifestKind::Index);
        // A revoked child stays out whatever index holds it.
        let revoked = evidence.revoked_artifacts.contains(digest);
        if !is_index && inherit && !revoked && verdict.blocks() == Some(true) {
            through_index = admitted_index_holding(app, repo, digest, &self.policy_digests(repo))?;
        }
        // An index is admitted as a whole: each child must be admitted too, unless the
        // policies let children inherit the index's admission.
        if let Some(m) = manifest.as_ref().filter(|_| is_index && !inherit) {
            for child in m.required_manifests() {
                // Admitted under these policies: one stored under others is being decided again.
                let own = self.policy_digests(repo);
                let admitted = app
                    .meta
                    .admission(repo, child)?
                    .is_some_and(|a| a.admitted && a.policies == own);
                if !admitted {
                    gate_reasons.push(format!(
                        "the index's child {child} is not admitted on its own"
                    ));
                }
            }
        }
        let mut decision = Decision::new(verdict, found, gate_reasons);
        if let Some(index) = through_index {
            decision.admission.admitted = true;
            decision.admission.reasons.clear();
            decision.admission.evidence = format!("{}+{index}", decision.admission.evidence);
            decision.through = Some(index);
        }
        decision.signers = evidence
            .signatures
            .iter()
            // An entry is at most 64 KiB: the first 64 of each are recorded.
            .take(64)
            .map(|s| {
                json!({
                    "evidence": s.evidence.as_str(),
                    "signer": s.signer.to_string(),
                    "who": serde_json::to_value(&s.signer).unwrap_or_default(),
                })
            })
            .collect();
        decision.provenance = evidence
            .attestations
            .iter()
            .filter_map(|a| provenance_summary(&a.predicate_type, &a.predicate, &a.evidence))
            .take(64)
            .collect();
        Ok(Some(decision))
    }
}

/// The builder, source repository and commit a verified SLSA provenance (v1 or v0.2) states,
/// for the ledger and traces; `None` for other predicates.
fn provenance_summary(
    predicate_type: &str,
    predicate: &serde_json::Value,
    evidence: &Digest,
) -> Option<serde_json::Value> {
    let text = |pointer: &str| predicate.pointer(pointer).and_then(|v| v.as_str());
    let (builder, source, commit) = match predicate_type {
        "https://slsa.dev/provenance/v1" => (
            text("/runDetails/builder/id"),
            text("/buildDefinition/resolvedDependencies/0/uri")
                .or_else(|| text("/buildDefinition/externalParameters/workflow/repository")),
            text("/buildDefinition/resolvedDependencies/0/digest/gitCommit")
                .or_else(|| text("/buildDefinition/resolvedDependencies/0/digest/sha1")),
        ),
        "https://slsa.dev/provenance/v0.2" => (
            text("/builder/id"),
            text("/invocation/configSource/uri"),
            text("/invocation/configSource/digest/sha1"),
        ),
        _ => return None,
    };
    Some(json!({
        "evidence": evidence.as_str(),
        "predicateType": predicate_type,
        "builder": builder,
        "source": source,
        "commit": commit,
    }))
}

/// An index of `repo` admitted under `policies` (digests) that holds the manifest `digest`.
fn admitted_index_holding(
    app: &App,
    repo: &RepoName,
    digest: &Digest,
    policies: &[String],
) -> Result<Option<Digest>, StoreError> {
    for (d, media_type, content) in app.meta.manifests_referring_to(repo, digest, 64)? {
        let is_index = Manifest::parse(Some(&media_type), &content)
            .is_ok_and(|m| m.kind == ManifestKind::Index);
        let Ok(d) = Digest::parse(&d) else { continue };
        if is_index
            && app
                .meta
                .admission(repo, &d)?
                .is_some_and(|a| a.admitted && a.reasons.is_empty() && a.policies == policies)
        {
            return Ok(Some(d));
        }
    }
    Ok(None)
}

/// A decision about one manifest, and what it was made on.
pub(crate) struct Decision {
    pub verdict: SetVerdict,
    pub admission: Admission,
    /// Every verified signature: its evidence digest and signer, as the ledger records them.
    pub signers: Vec<serde_json::Value>,
    /// What every verified SLSA provenance says: builder, source repository, commit.
    pub provenance: Vec<serde_json::Value>,
    /// The admitted index it was admitted through, when the policies let children inherit.
    pub through: Option<Digest>,
}

impl Decision {
    fn new(verdict: SetVerdict, found: Vec<Found>, gate_reasons: Vec<String>) -> Decision {
        let blocks = verdict.blocks().unwrap_or(true) || !gate_reasons.is_empty();
        let mut reasons: Vec<String> = Vec::new();
        for v in verdict.verdicts() {
            if !v.admitted() {
                let mut line = format!("policy {} ({})", v.policy, v.policy_digest);
                for (i, r) in v.reasons.iter().enumerate() {
                    let _ = write!(line, "{}{r}", if i == 0 { ": " } else { "; " });
                }
                reasons.push(line);
            }
        }
        reasons.extend(gate_reasons);
        if blocks || !reasons.is_empty() {
            // What was found and did not count: the first thing a signer wants to know.
            for f in &found {
                if let Outcome::Rejected(why) = &f.outcome {
                    reasons.push(format!("{} does not count: {why}", f.what));
                }
            }
        }
        let mut lines: Vec<String> = found
            .iter()
            .map(|f| {
                let state = match &f.outcome {
                    Outcome::Verified(p) => format!("verified {}", p.candidate),
                    Outcome::Rejected(_) => "rejected".into(),
                    Outcome::Skipped(_) => "skipped".into(),
                };
                format!("{} {state}", f.digest)
            })
            .collect();
        lines.sort();
        let evidence = Digest::compute(oci::Algorithm::Sha256, lines.join("\n").as_bytes());
        let admission = Admission {
            admitted: !blocks,
            policies: verdict
                .verdicts()
                .iter()
                .map(|v| v.policy_digest.to_string())
                .collect(),
            reasons,
            evidence: evidence.to_string(),
            decided: crate::store::now_secs(),
        };
        Decision {
            verdict,
            admission,
            signers: Vec::new(),
            provenance: Vec::new(),
            through: None,
        }
    }
}

/// Evaluates `digest` in `repo` again, stores the decision and, when it changed, records it on
/// the ledger (and counter-signs an admission). Nothing happens for repositories no policy
/// covers or for signatures themselves. Runs to its end even if the request that asked is
/// dropped (its client gone): a decision half made (recorded, not stored; the indexes holding
/// it not decided again) must not be left behind.
pub(crate) async fn evaluate(
    app: &Arc<App>,
    repo: &RepoName,
    digest: &Digest,
) -> Result<(), ApiError> {
    let (app, repo, digest) = (Arc::clone(app), repo.clone(), digest.clone());
    tokio::spawn(async move { evaluate_here(&app, &repo, &digest).await }).await?
}

/// [`evaluate`], on the caller's task.
async fn evaluate_here(app: &Arc<App>, repo: &RepoName, digest: &Digest) -> Result<(), ApiError> {
    if !app.gate.as_ref().is_some_and(|g| g.current().covers(repo)) {
        return Ok(());
    }
    if !decide_and_record(app, repo, digest).await? {
        return Ok(());
    }
    // A changed decision can change others': an index's depends on its children's, and a
    // child admitted through its index on the index's. Each is decided again; a decision that
    // does not change stops there, so this ends.
    let (r, d) = (repo.clone(), digest.clone());
    let related = app
        .blocking(move |app| {
            let mut related = Vec::new();
            for (digest, media_type, content) in app.meta.manifests_referring_to(&r, &d, 64)? {
                if Manifest::parse(Some(&media_type), &content)
                    .is_ok_and(|m| m.kind == ManifestKind::Index)
                    && let Ok(parent) = Digest::parse(&digest)
                {
                    related.push(parent);
                }
            }
            let own = app.meta.manifest(&r, &Reference::Digest(d.clone()), true)?;
            if let Some(m) = own
                .and_then(|m| Manifest::parse(Some(&m.head.media_type), m.content.as_deref()?).ok())
                && m.kind == ManifestKind::Index
            {
                related.extend(m.required_manifests().cloned());
            }
            Ok(related)
        })
        .await?;
    for other in related {
        Box::pin(evaluate_here(app, repo, &other)).await?;
    }
    Ok(())
}

/// One decision, under the gate's lock: decided; if it changed, recorded on the ledger, then
/// stored (a decision the ledger refused is not enforced: the previous one stays), and
/// counter-signed if it newly admits.
async fn decide_and_record(
    app: &Arc<App>,
    repo: &RepoName,
    digest: &Digest,
) -> Result<bool, ApiError> {
    let Some(cell) = &app.gate else {
        return Ok(false);
    };
    let _one_at_a_time = cell.deciding.lock().await;
    let (r, d) = (repo.clone(), digest.clone());
    let decided = app
        .blocking(move |app| {
            // The gate in force once the lock is held: a reload's re-evaluation waits for
            // this decision, and this one never uses policies replaced before it began.
            let Some(gate) = app.gate.as_ref().map(GateCell::current) else {
                return Ok(None);
            };
            let Some(decision) = gate.decide(app, &r, &d)? else {
                return Ok(None);
            };
            let before = app.meta.admission(&r, &d)?;
            let changed = before.as_ref().is_none_or(|b| {
                b.admitted != decision.admission.admitted
                    || b.policies != decision.admission.policies
                    || b.evidence != decision.admission.evidence
                    || b.reasons != decision.admission.reasons
            });
            let newly_admitted =
                decision.admission.admitted && !before.as_ref().is_some_and(|b| b.admitted);
            Ok(changed.then_some((decision, newly_admitted)))
        })
        .await?;
    let Some((decision, newly_admitted)) = decided else {
        return Ok(false);
    };
    let indices = countersign::record_decision(app, repo, digest, &decision).await?;
    let (r, d, admission) = (repo.clone(), digest.clone(), decision.admission.clone());
    if !app
        .blocking(move |app| app.meta.set_admission(&r, &d, &admission))
        .await?
    {
        // Deleted meanwhile: nothing left to decide about (the entry stays as history).
        return Ok(false);
    }
    if newly_admitted {
        countersign::attach(app, repo, digest, &decision, &indices).await?;
    }
    Ok(true)
}

/// What a reader may see.
pub(crate) enum ReadCheck {
    Allow,
    /// Served, with this warning (a `warn` policy denied it).
    Warn(String),
    Deny(ApiError),
}

/// A `Warning` header value (RFC 9111's 299, "miscellaneous persistent warning") for content
/// a `warn` policy denied: served, and said so. Quotes and control characters are dropped.
pub(crate) fn warning(why: &str) -> String {
    let text: String = why
        .chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .take(1024)
        .collect();
    format!("299 vouch \"not admitted (warn mode): {text}\"")
}

/// The gate in force, if a reader who is neither a pusher of `repo` nor an administrator is
/// gated there.
fn gated(app: &App, who: &Principal, repo: &RepoName) -> Option<Arc<Gate>> {
    let gate = app.gate.as_ref()?.current();
    (gate.covers(repo) && !app.auth.can(who, repo, Action::Push) && !app.auth.is_admin(who))
        .then_some(gate)
}

/// The decision about `digest` that the policies in force made: the stored one, unless it was
/// made under other policies (a reload whose re-evaluation has not reached it yet); then
/// decided afresh, and not stored (the re-evaluation stores it). Blocking.
fn current_admission(
    app: &App,
    gate: &Gate,
    repo: &RepoName,
    digest: &Digest,
) -> Result<Option<Admission>, StoreError> {
    match app.meta.admission(repo, digest)? {
        Some(a) if a.policies != gate.policy_digests(repo) => {
            Ok(gate.decide(app, repo, digest)?.map(|d| d.admission))
        }
        stored => Ok(stored),
    }
}

fn denied(repo: &RepoName, digest: &Digest, admission: Option<&Admission>) -> ApiError {
    let (reasons, policies) = match admission {
        Some(a) => (a.reasons.clone(), a.policies.clone()),
        None => (
            vec!["quarantined: no decision has admitted it yet".to_owned()],
            Vec::new(),
        ),
    };
    let first = reasons.first().cloned().unwrap_or_default();
    ApiError::denied(format!("{repo}@{digest} is not admitted: {first}")).with_detail(json!({
        "digest": digest.as_str(),
        "reasons": reasons,
        "policies": policies,
    }))
}

fn admitted_check(repo: &RepoName, digest: &Digest, admission: Option<Admission>) -> ReadCheck {
    match admission {
        Some(a) if a.admitted && a.reasons.is_empty() => ReadCheck::Allow,
        Some(a) if a.admitted => ReadCheck::Warn(a.reasons.join("; ")),
        other => ReadCheck::Deny(denied(repo, digest, other.as_ref())),
    }
}

/// May `who` read the manifest `digest` (its bytes `content`)? Blocking.
pub(crate) fn check_manifest(
    app: &App,
    who: &Principal,
    repo: &RepoName,
    digest: &Digest,
    media_type: &str,
    content: &[u8],
) -> Result<ReadCheck, StoreError> {
    let Some(gate) = gated(app, who, repo) else {
        return Ok(ReadCheck::Allow);
    };
    // The stored decision first: an admitted image (the common read) is not parsed again.
    let check = admitted_check(repo, digest, current_admission(app, &gate, repo, digest)?);
    if matches!(check, ReadCheck::Deny(_))
        && Manifest::parse(Some(media_type), content).is_ok_and(|m| is_evidence(&m))
    {
        return Ok(ReadCheck::Allow);
    }
    Ok(check)
}

/// May `who` read the blob `digest`? Only as part of an admitted manifest, or of a signature
/// that no quarantined manifest shares it with. Blocking.
pub(crate) fn check_blob(
    app: &App,
    who: &Principal,
    repo: &RepoName,
    digest: &Digest,
) -> Result<ReadCheck, StoreError> {
    let Some(gate) = gated(app, who, repo) else {
        return Ok(ReadCheck::Allow);
    };
    if app
        .meta
        .admitted_referrer_of(repo, digest, &gate.policy_digests(repo))?
    {
        return Ok(ReadCheck::Allow);
    }
    const LOOKED_AT: usize = 64;
    let no_admitted_holder = || {
        ApiError::denied(format!(
            "blob {digest} of {repo} belongs to no admitted manifest"
        ))
        .with_detail(json!({ "digest": digest.as_str() }))
    };
    let holding = app.meta.manifests_referring_to(repo, digest, LOOKED_AT)?;
    // With more holders than were looked at, a quarantined one may be among the rest: only an
    // admitted holder (found above) may then serve it.
    let mut evidence_only = false;
    let mut quarantined = (holding.len() >= LOOKED_AT).then(no_admitted_holder);
    for (d, media_type, content) in holding {
        let Ok(manifest_digest) = Digest::parse(&d) else {
            continue;
        };
        if Manifest::parse(Some(&media_type), &content).is_ok_and(|m| is_evidence(&m)) {
            evidence_only = true;
        } else {
            let admission = current_admission(app, &gate, repo, &manifest_digest)?;
            match admitted_check(repo, &manifest_digest, admission) {
                ReadCheck::Allow => return Ok(ReadCheck::Allow),
                ReadCheck::Warn(w) => return Ok(ReadCheck::Warn(w)),
                ReadCheck::Deny(e) => quarantined = quarantined.or(Some(e)),
            }
        }
    }
    if let Some(e) = quarantined {
        return Ok(ReadCheck::Deny(e));
    }
    Ok(if evidence_only {
        ReadCheck::Allow
    } else {
        ReadCheck::Deny(no_admitted_holder())
    })
}

/// Before serving: records each policy not yet on the ledger (`policy.updated`, with its
/// canonical form), then evaluates every manifest of every covered repository again, so that a
/// changed policy (or trusted key) takes effect at once; only changed decisions are recorded.
pub async fn start(app: &Arc<App>) -> Result<(), ApiError> {
    let Some(cell) = &app.gate else {
        return Ok(());
    };
    let ledger = app.ledger.clone();
    let known = move |digest: &Digest| {
        ledger
            .as_ref()
            .is_none_or(|l| !l.entries_about(digest.as_str()).is_empty())
    };
    record_policies(app, cell.current().policies(), &known, &[]).await?;
    let evaluated = reevaluate_all(app).await?;
    tracing::info!(
        policies = cell.current().policies().policies().len(),
        evaluated,
        "gate ready"
    );
    Ok(())
}

/// Records `policy.updated` (with the canonical form) for each policy of `set` whose digest
/// `known` does not already account for; one that replaces a policy of the same name in
/// `previous` (name, digest) says so (`replaces`).
pub(crate) async fn record_policies(
    app: &Arc<App>,
    set: &PolicySet,
    known: &(dyn Fn(&Digest) -> bool + Send + Sync),
    previous: &[(String, String)],
) -> Result<(), ApiError> {
    for policy in set.policies() {
        let digest = policy.digest().clone();
        if known(&digest) {
            continue;
        }
        let mut event = ledger::Event::new(
            ledger::EventType::PolicyUpdated,
            crate::registry::record::now(),
            "vouch-gate",
        );
        event.subject.digest = Some(digest);
        event.subject.name = Some(policy.name().to_owned());
        if let Ok(document) = serde_json::from_slice(policy.canonical_json()) {
            event.details.insert("document".into(), document);
        }
        event
            .details
            .insert("mode".into(), policy.mode().as_str().into());
        if let Some((_, replaced)) = previous.iter().find(|(n, _)| n == policy.name()) {
            event
                .details
                .insert("replaces".into(), replaced.clone().into());
        }
        crate::registry::record::record(app, event).await?;
    }
    Ok(())
}

/// Decides again about every manifest of every covered repository (after a policy change or a
/// revocation); returns how many. Only changed decisions are recorded.
pub async fn reevaluate_all(app: &Arc<App>) -> Result<usize, ApiError> {
    // To its end, even if the request that asked (a revocation) is dropped: a revoked key's
    // artifacts must not stay admitted for want of a client waiting.
    let app = Arc::clone(app);
    tokio::spawn(async move { reevaluate_all_here(&app).await }).await?
}

async fn reevaluate_all_here(app: &Arc<App>) -> Result<usize, ApiError> {
    let Some(cell) = &app.gate else {
        return Ok(0);
    };
    let manifests = app.blocking(|app| app.meta.all_manifests()).await?;
    let mut evaluated = 0usize;
    for (repo, digest) in manifests {
        let (Ok(repo), Ok(digest)) = (RepoName::parse(&repo), Digest::parse(&digest)) else {
            continue;
        };
        if cell.current().covers(&repo) {
            // With propagation: a child decided before its index changed (admitted through
            // it, say) is decided again once the index's decision changes.
            evaluate_here(app, &repo, &digest).await?;
            evaluated += 1;
        }
    }
    Ok(evaluated)
}
