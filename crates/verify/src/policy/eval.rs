//! The trust decision: a policy and the verified evidence in, a [`Verdict`] out. Fails closed
//! at every step: nothing counts for being present, an empty set satisfies nothing, a
//! condition that errs is not true, and no policy covering a repository is not an admission.

use std::collections::BTreeSet;
use std::fmt;

use oci::{Digest, RepoName};
use serde::{Serialize, Serializer};
use serde_json::Value as Json;

use super::cel::EvalError;
use super::evidence::{Evidence, Signer, VerifiedAttestation, VerifiedSignature, short};
use super::{Mode, Policy};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Admit,
    Deny,
}

/// One policy's decision about one artifact.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub decision: Decision,
    pub policy: String,
    /// The digest of the policy the decision was made under.
    pub policy_digest: Digest,
    pub mode: Mode,
    /// Why it denied, in the order checked; empty when it admits.
    pub reasons: Vec<Reason>,
    /// The evidence that satisfied the policy's requirements (the signatures of the
    /// authorities that counted, the attestations that met the conditions), sorted.
    pub evidence: Vec<Digest>,
}

impl Verdict {
    pub fn admitted(&self) -> bool {
        self.decision == Decision::Admit
    }

    /// Whether a gate must refuse: denied under an enforcing policy. A `warn` policy's denial
    /// is reported and recorded, not enforced.
    pub fn blocks(&self) -> bool {
        self.decision == Decision::Deny && self.mode == Mode::Enforce
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.decision {
            Decision::Admit => "admitted",
            Decision::Deny => "denied",
        };
        write!(
            f,
            "{verb} by policy {} ({})",
            self.policy, self.policy_digest
        )?;
        if self.mode == Mode::Warn {
            f.write_str(" in warn mode")?;
        }
        for (i, r) in self.reasons.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// Why a policy denied.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// The artifact's digest is revoked.
    ArtifactRevoked { digest: Digest },
    /// Fewer distinct authorities signed than the threshold; each authority that did not
    /// count follows as an [`Reason::Authority`].
    Threshold {
        required: usize,
        satisfied: Vec<String>,
    },
    Authority {
        authority: String,
        finding: AuthorityFinding,
    },
    /// No attestation of a required type met the policy; what each one of that type lacked.
    Attestation {
        predicate_type: String,
        findings: Vec<AttestationFinding>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthorityFinding {
    /// No verified signature by this authority; `others` signed instead.
    NoSignature { others: Vec<Signer> },
    /// Its key signed, but the key is revoked.
    Revoked { signer: Signer },
    /// Its signers already count for other authorities (one signer counts once).
    CountedElsewhere { signers: Vec<Signer> },
    /// It signed, but the policy binds signatures to `repository` and none of its signatures
    /// names it: `evidence` is the first of them, `names` what it names (empty: nothing).
    Unbound {
        signer: Signer,
        evidence: Digest,
        names: Vec<String>,
        #[serde(serialize_with = "display")]
        repository: RepoName,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AttestationFinding {
    /// Signed by someone who is none of the policy's authorities.
    UntrustedSigner {
        evidence: Digest,
        signer: Signer,
    },
    RevokedSigner {
        evidence: Digest,
        signer: Signer,
    },
    /// The policy binds attestations to `repository`, and no subject with the artifact's
    /// digest names it: `names` is what those subjects name (empty: nothing).
    Unbound {
        evidence: Digest,
        names: Vec<String>,
        #[serde(serialize_with = "display")]
        repository: RepoName,
    },
    /// Condition `index` (0-based) evaluated to false.
    ConditionFalse {
        evidence: Digest,
        index: usize,
        condition: String,
    },
    /// Condition `index` (0-based) could not be evaluated.
    ConditionError {
        evidence: Digest,
        index: usize,
        condition: String,
        #[serde(serialize_with = "display")]
        error: EvalError,
    },
}

fn display<S: Serializer, T: fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// At most this many signers are named in a message; the structured form has them all.
const SHOWN: usize = 5;

fn signer_list(f: &mut fmt::Formatter<'_>, signers: &[Signer]) -> fmt::Result {
    for (i, s) in signers.iter().take(SHOWN).enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{s}")?;
    }
    if signers.len() > SHOWN {
        write!(f, " and {} more", signers.len() - SHOWN)?;
    }
    Ok(())
}

/// Characters of one name shown in a message; a longer name is cut.
const NAME_SHOWN: usize = 128;

/// What a signature or attestation names, and the repository the policy binds it to:
/// `names dev/app (the policy binds signatures to prod/app)`. Names are shown as signed
/// (escaped, at most [`SHOWN`] of them and [`NAME_SHOWN`] characters of each).
fn binding(
    f: &mut fmt::Formatter<'_>,
    names: &[String],
    what: &str,
    repository: &RepoName,
) -> fmt::Result {
    if names.is_empty() {
        f.write_str("names no repository")?;
    } else {
        f.write_str("names ")?;
        for (i, name) in names.iter().take(SHOWN).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match name.char_indices().nth(NAME_SHOWN) {
                Some((cut, _)) => write!(f, "{}…", name[..cut].escape_debug())?,
                None => write!(f, "{}", name.escape_debug())?,
            }
        }
        if names.len() > SHOWN {
            write!(f, " and {} more", names.len() - SHOWN)?;
        }
    }
    write!(f, " (the policy binds {what} to {})", repository.as_str())
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::ArtifactRevoked { digest } => write!(f, "artifact {digest} is revoked"),
            Reason::Threshold {
                required,
                satisfied,
            } => {
                write!(
                    f,
                    "{} of {required} required authorities signed",
                    satisfied.len()
                )?;
                if !satisfied.is_empty() {
                    write!(f, " ({})", satisfied.join(", "))?;
                }
                Ok(())
            }
            Reason::Authority { authority, finding } => {
                write!(f, "signature by {authority}: ")?;
                match finding {
                    AuthorityFinding::NoSignature { others } if others.is_empty() => {
                        f.write_str("none (no verified signatures)")
                    }
                    AuthorityFinding::NoSignature { others } => {
                        let n = others.len();
                        write!(
                            f,
                            "none ({n} other signer{}: ",
                            if n == 1 { "" } else { "s" }
                        )?;
                        signer_list(f, others)?;
                        f.write_str(")")
                    }
                    AuthorityFinding::Revoked { signer } => write!(f, "{signer} is revoked"),
                    AuthorityFinding::CountedElsewhere { signers } => {
                        f.write_str("its only signers (")?;
                        signer_list(f, signers)?;
                        f.write_str(") already count for other authorities")
                    }
                    AuthorityFinding::Unbound {
                        signer,
                        evidence,
                        names,
                        repository,
                    } => {
                        write!(f, "{} by {signer} ", short(evidence.as_str()))?;
                        binding(f, names, "signatures", repository)
                    }
                }
            }
            Reason::Attestation {
                predicate_type,
                findings,
            } => {
                write!(f, "attestation {predicate_type}: ")?;
                if findings.is_empty() {
                    return f.write_str("none");
                }
                for (i, finding) in findings.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{finding}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for AttestationFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttestationFinding::UntrustedSigner { evidence, signer } => write!(
                f,
                "{} is signed by {signer}, none of the policy's authorities",
                short(evidence.as_str())
            ),
            AttestationFinding::RevokedSigner { evidence, signer } => write!(
                f,
                "{} is signed by {signer}, which is revoked",
                short(evidence.as_str())
            ),
            AttestationFinding::Unbound {
                evidence,
                names,
                repository,
            } => {
                write!(f, "{} ", short(evidence.as_str()))?;
                binding(f, names, "attestations", repository)
            }
            AttestationFinding::ConditionFalse {
                evidence,
                index,
                condition,
            } => write!(
                f,
                "{}: condition {} `{condition}` is false",
                short(evidence.as_str()),
                index + 1
            ),
            AttestationFinding::ConditionError {
                evidence,
                index,
                condition,
                error,
            } => write!(
                f,
                "{}: condition {} `{condition}`: {error}",
                short(evidence.as_str()),
                index + 1
            ),
        }
    }
}

/// The decision of one policy about the evidence's artifact. It does not check that the
/// policy covers the repository: [`evaluate_set`] and [`super::PolicySet::evaluate`] do.
pub fn evaluate(policy: &Policy, evidence: &Evidence) -> Verdict {
    let mut reasons = Vec::new();
    let mut used = BTreeSet::new();

    if evidence.revoked_artifacts.contains(&evidence.artifact) {
        reasons.push(Reason::ArtifactRevoked {
            digest: evidence.artifact.clone(),
        });
    }

    signatures(policy, evidence, &mut reasons, &mut used);

    for rule in policy.attestations() {
        let mut findings = Vec::new();
        let mut satisfied = false;
        for att in evidence
            .attestations
            .iter()
            .filter(|a| a.predicate_type == rule.predicate_type())
        {
            match check_attestation(policy, evidence, rule.conditions(), att) {
                None => {
                    used.insert(att.evidence.clone());
                    satisfied = true;
                    break;
                }
                Some(finding) => findings.push(finding),
            }
        }
        if !satisfied {
            reasons.push(Reason::Attestation {
                predicate_type: rule.predicate_type().to_owned(),
                findings,
            });
        }
    }

    Verdict {
        decision: if reasons.is_empty() {
            Decision::Admit
        } else {
            Decision::Deny
        },
        policy: policy.name().to_owned(),
        policy_digest: policy.digest().clone(),
        mode: policy.mode(),
        reasons,
        evidence: used.into_iter().collect(),
    }
}

/// Matches authorities to distinct signers (a maximum bipartite matching, so that the
/// threshold counts signers, not signatures, and no signer counts twice), and explains the
/// authorities left out when the threshold is not met.
fn signatures(
    policy: &Policy,
    evidence: &Evidence,
    reasons: &mut Vec<Reason>,
    used: &mut BTreeSet<Digest>,
) {
    // Whether a signature counts here: always, or, when the policy binds signatures to the
    // repository, if what it signed names the repository.
    let bound = |sig: &VerifiedSignature| {
        !policy.bind_repository() || evidence.names_repository(sig.names.iter().map(String::as_str))
    };
    // Distinct signers of signatures that count, in order of appearance, each with the first
    // evidence that carried it; and every distinct signer, for the reasons.
    let mut signers: Vec<(Signer, &Digest)> = Vec::new();
    let mut everyone: Vec<Signer> = Vec::new();
    for sig in &evidence.signatures {
        let signer = sig.signer.normalized();
        if !everyone.contains(&signer) {
            everyone.push(signer.clone());
        }
        if bound(sig) && !signers.iter().any(|(s, _)| *s == signer) {
            signers.push((signer, &sig.evidence));
        }
    }
    let authorities = policy.authorities();
    // edges[a]: the signers (indices) that authority a may count through.
    let edges: Vec<Vec<usize>> = authorities
        .iter()
        .map(|a| {
            signers
                .iter()
                .enumerate()
                .filter(|(_, (s, _))| a.matches(s) && !evidence.key_revoked(s))
                .map(|(j, _)| j)
                .collect()
        })
        .collect();
    // One signature is one signer, however many ways it verified (one key in two encodings,
    // one certificate under two trusted roots): signers that share a signature are one.
    let group = signer_groups(evidence, &signers, bound);
    let groups = group.iter().copied().max().map_or(0, |g| g + 1);
    let group_edges: Vec<Vec<usize>> = edges
        .iter()
        .map(|js| {
            let mut gs: Vec<usize> = js.iter().map(|&j| group[j]).collect();
            gs.sort_unstable();
            gs.dedup();
            gs
        })
        .collect();
    let matched = max_matching(&group_edges, groups);

    let satisfied: Vec<usize> = (0..authorities.len())
        .filter(|&a| matched[a].is_some())
        .collect();
    for &a in &satisfied {
        if let Some(g) = matched[a]
            && let Some(&j) = edges[a].iter().find(|&&j| group[j] == g)
        {
            used.insert(signers[j].1.clone());
        }
    }
    if satisfied.len() >= policy.threshold() {
        return;
    }
    reasons.push(Reason::Threshold {
        required: policy.threshold(),
        satisfied: satisfied
            .iter()
            .map(|&a| authorities[a].name().to_owned())
            .collect(),
    });
    for (a, authority) in authorities.iter().enumerate() {
        if matched[a].is_some() {
            continue;
        }
        // Its signers that do not count here are revoked, or (under a binding policy) signed
        // only what names another repository or none.
        let unbound = || {
            evidence
                .signatures
                .iter()
                .find(|sig| !bound(sig) && authority.matches(&sig.signer.normalized()))
        };
        let finding = if !edges[a].is_empty() {
            AuthorityFinding::CountedElsewhere {
                signers: edges[a].iter().map(|&j| signers[j].0.clone()).collect(),
            }
        } else if let Some(revoked) = everyone
            .iter()
            .find(|s| authority.matches(s) && evidence.key_revoked(s))
        {
            AuthorityFinding::Revoked {
                signer: revoked.clone(),
            }
        } else if let Some(sig) = unbound() {
            AuthorityFinding::Unbound {
                signer: sig.signer.normalized(),
                evidence: sig.evidence.clone(),
                names: sig.names.clone(),
                repository: evidence.repository.clone(),
            }
        } else {
            AuthorityFinding::NoSignature {
                others: everyone.clone(),
            }
        };
        reasons.push(Reason::Authority {
            authority: authority.name().to_owned(),
            finding,
        });
    }
}

/// For each of `signers` (distinct, in order), the group it counts in: signers that signed
/// one same signature (the same evidence digest, among the signatures that count) share a
/// group, numbered from 0 in order of first appearance.
fn signer_groups(
    evidence: &Evidence,
    signers: &[(Signer, &Digest)],
    counts: impl Fn(&VerifiedSignature) -> bool,
) -> Vec<usize> {
    // Union-find over signer indices, joined through each signature's evidence digest.
    let mut parent: Vec<usize> = (0..signers.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut first_signer: Vec<(&Digest, usize)> = Vec::new();
    for sig in evidence.signatures.iter().filter(|s| counts(s)) {
        let signer = sig.signer.normalized();
        let Some(j) = signers.iter().position(|(s, _)| *s == signer) else {
            continue;
        };
        match first_signer.iter().find(|(d, _)| *d == &sig.evidence) {
            Some(&(_, k)) => {
                let (a, b) = (root(&mut parent, j), root(&mut parent, k));
                parent[a.max(b)] = a.min(b);
            }
            None => first_signer.push((&sig.evidence, j)),
        }
    }
    let mut numbers: Vec<usize> = Vec::new();
    (0..signers.len())
        .map(|j| {
            let r = root(&mut parent, j);
            match numbers.iter().position(|&n| n == r) {
                Some(g) => g,
                None => {
                    numbers.push(r);
                    numbers.len() - 1
                }
            }
        })
        .collect()
}

/// A maximum matching of left vertices (authorities) to right vertices (signers) by
/// augmenting paths (Kuhn's algorithm); `result[a]` is the signer matched to authority `a`.
/// Iterative, so deep augmenting paths cannot exhaust the stack.
fn max_matching(edges: &[Vec<usize>], right: usize) -> Vec<Option<usize>> {
    let mut left_match: Vec<Option<usize>> = vec![None; edges.len()];
    let mut right_match: Vec<Option<usize>> = vec![None; right];
    for start in 0..edges.len() {
        let mut visited = vec![false; right];
        // A depth-first search for an augmenting path: (left vertex, next edge to try).
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        // parent[j]: the left vertex from which right vertex j was reached.
        let mut parent: Vec<Option<usize>> = vec![None; right];
        let mut found: Option<usize> = None;
        while let Some(top) = stack.last_mut() {
            let a = top.0;
            let Some(&j) = edges[a].get(top.1) else {
                stack.pop();
                continue;
            };
            top.1 += 1;
            if visited[j] {
                continue;
            }
            visited[j] = true;
            parent[j] = Some(a);
            match right_match[j] {
                None => {
                    found = Some(j);
                    break;
                }
                Some(b) => stack.push((b, 0)),
            }
        }
        // Flip the path: each right vertex on it goes to the left vertex that reached it.
        let mut j = found;
        while let Some(jj) = j {
            let Some(a) = parent[jj] else { break };
            let previous = left_match[a];
            left_match[a] = Some(jj);
            right_match[jj] = Some(a);
            j = previous;
        }
    }
    left_match
}

/// Why an attestation does not satisfy a rule, or `None` when it does.
fn check_attestation(
    policy: &Policy,
    evidence: &Evidence,
    conditions: &[super::cel::Program],
    att: &VerifiedAttestation,
) -> Option<AttestationFinding> {
    let signer = att.signer.normalized();
    if evidence.key_revoked(&signer) {
        return Some(AttestationFinding::RevokedSigner {
            evidence: att.evidence.clone(),
            signer,
        });
    }
    if !policy.authorities().iter().any(|a| a.matches(&signer)) {
        return Some(AttestationFinding::UntrustedSigner {
            evidence: att.evidence.clone(),
            signer,
        });
    }
    if policy.bind_repository() && !evidence.names_repository(att.names_for(&evidence.artifact)) {
        return Some(AttestationFinding::Unbound {
            evidence: att.evidence.clone(),
            names: att
                .names_for(&evidence.artifact)
                .map(str::to_owned)
                .collect(),
            repository: evidence.repository.clone(),
        });
    }
    // Conditions run only over attestations a trusted authority signed (and, under a
    // binding policy, for this repository).
    let predicate_type = Json::String(att.predicate_type.clone());
    let subject = att.subject_json();
    for (index, program) in conditions.iter().enumerate() {
        match program.eval_bool(&[&att.predicate, &predicate_type, &subject]) {
            Ok(true) => {}
            Ok(false) => {
                return Some(AttestationFinding::ConditionFalse {
                    evidence: att.evidence.clone(),
                    index,
                    condition: program.source().to_owned(),
                });
            }
            Err(error) => {
                return Some(AttestationFinding::ConditionError {
                    evidence: att.evidence.clone(),
                    index,
                    condition: program.source().to_owned(),
                    error,
                });
            }
        }
    }
    None
}

/// The decision of several policies: every one covering the repository must admit.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SetVerdict {
    /// No policy covers the repository. Not an admission: the caller decides (a gate that
    /// must fail closed denies).
    Uncovered {
        #[serde(serialize_with = "display")]
        repository: RepoName,
    },
    /// The verdict of each covering policy, in the set's order.
    Covered { verdicts: Vec<Verdict> },
}

impl SetVerdict {
    /// Admit when every covering policy admitted; `None` when none covers the repository.
    /// `Covered` with no verdicts (which [`evaluate_set`] never builds) admits nothing.
    pub fn decision(&self) -> Option<Decision> {
        match self {
            SetVerdict::Uncovered { .. } => None,
            SetVerdict::Covered { verdicts } => Some(
                if !verdicts.is_empty() && verdicts.iter().all(Verdict::admitted) {
                    Decision::Admit
                } else {
                    Decision::Deny
                },
            ),
        }
    }

    /// Whether some enforcing policy denied; `None` when none covers the repository.
    /// `Covered` with no verdicts blocks.
    pub fn blocks(&self) -> Option<bool> {
        match self {
            SetVerdict::Uncovered { .. } => None,
            SetVerdict::Covered { verdicts } => {
                Some(verdicts.is_empty() || verdicts.iter().any(Verdict::blocks))
            }
        }
    }

    pub fn verdicts(&self) -> &[Verdict] {
        match self {
            SetVerdict::Uncovered { .. } => &[],
            SetVerdict::Covered { verdicts } => verdicts,
        }
    }
}

impl fmt::Display for SetVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetVerdict::Uncovered { repository } => {
                write!(f, "no policy covers repository {}", repository.as_str())
            }
            SetVerdict::Covered { verdicts } => {
                for (i, v) in verdicts.iter().enumerate() {
                    if i > 0 {
                        f.write_str("\n")?;
                    }
                    write!(f, "{v}")?;
                }
                Ok(())
            }
        }
    }
}

/// The decision of every policy among `policies` that covers the evidence's repository.
pub fn evaluate_set<'p>(
    policies: impl IntoIterator<Item = &'p Policy>,
    evidence: &Evidence,
) -> SetVerdict {
    let verdicts: Vec<Verdict> = policies
        .into_iter()
        .filter(|p| p.covers(&evidence.repository))
        .map(|p| evaluate(p, evidence))
        .collect();
    if verdicts.is_empty() {
        SetVerdict::Uncovered {
            repository: evidence.repository.clone(),
        }
    } else {
        SetVerdict::Covered { verdicts }
    }
}
