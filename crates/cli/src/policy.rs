//! `vouch policy check FILE...`: loads each policy document as the registry would (keys and
//! trusted roots read relative to the document, every condition type-checked) and prints its
//! digest and the repositories it covers, or one line saying which field is wrong. Exit 0 when
//! every file is a valid policy and their names are distinct, 2 otherwise.
//!
//! `vouch policy eval --policy FILE IMAGE`: the registry's decision about an image in any
//! registry, explained: every signature and attestation found (bundle referrers, the referrers
//! tag, cosign's classic tags) is verified against each authority of the policies, and the one
//! trust decision (`verify::policy`) gives the verdict. Exit 0 admitted, 1 denied (or no policy
//! covers the repository), 2 error.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::json;
use verify::evidence::Want;
use verify::policy::{
    self, AuthorityKind, Evidence, Policy, PolicyError, PolicySet, SetVerdict, Signer,
};

use crate::gate::Output;
use crate::image::{Outcome, RegistryArgs, Trust, examine_with};

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Validate and type-check policy documents (YAML or TOML by extension): print each one's
    /// digest and the repositories it covers, or `FILE: field: problem`.
    Check {
        /// Policy files (.yaml, .yml, .toml). Key and trusted-root paths inside are relative
        /// to each file's directory.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Explain the decision the policies make about an image: each signature and attestation
    /// found, verified against each authority, then the verdict with its reasons. Revocations
    /// on a registry's ledger are not consulted here (the registry's own decision, as `vouch
    /// trace` shows it, includes them).
    Eval {
        /// A policy file (repeatable: every policy covering the repository must admit).
        #[arg(long = "policy", required = true, value_name = "FILE")]
        policies: Vec<PathBuf>,
        #[command(flatten)]
        registry: RegistryArgs,
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
        /// The image: REGISTRY/REPOSITORY[:TAG][@DIGEST].
        image: String,
    },
    /// Make a running registry read its policy files again (administrators; as SIGHUP does):
    /// changed policies take effect and every covered artifact is decided again. A file that
    /// does not load is reported and the policies in force stay.
    Reload {
        #[command(flatten)]
        remote: crate::ledger::Remote,
    },
}

pub fn run(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Check { files } => Ok(check(&files)),
        PolicyCommand::Eval {
            policies,
            registry,
            output,
            image,
        } => eval(&policies, &registry, output, &image),
        PolicyCommand::Reload { remote } => crate::gate::reload(&remote),
    }
}

fn eval(
    files: &[PathBuf],
    registry: &RegistryArgs,
    output: Output,
    image: &str,
) -> anyhow::Result<ExitCode> {
    let mut loaded = Vec::new();
    for file in files {
        let p = load_file(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        loaded.push(p);
    }
    let set = PolicySet::new(loaded)?;
    let reference = client::ImageRef::parse(image)
        .with_context(|| format!("invalid image reference {image:?}"))?;
    let repository = reference.repository().name.clone();
    let mut lines = Vec::new();
    let evidence = crate::gate::runtime()?.block_on(async {
        let mut evidence: Option<Evidence> = None;
        // The image by the digest the first examination resolved: every later one looks at
        // that manifest, whatever the tag names meanwhile, so evidence about another digest
        // never counts for this one (and the tag is resolved once).
        let mut pinned: Option<String> = None;
        for policy in set.for_repository(&repository) {
            for authority in policy.authorities() {
                let (root, root_digest) = match authority.kind() {
                    AuthorityKind::Key { .. } => (None, None),
                    AuthorityKind::Keyless(k) => (
                        Some((*k.trusted_root.root).clone()),
                        Some(k.trusted_root.digest.clone()),
                    ),
                };
                let trust = Trust::new(authority.identity(), root);
                for want in [Want::Signatures, Want::Attestations(None)] {
                    let target = pinned.as_deref().unwrap_or(image);
                    let report = examine_with(&trust, registry, target, want).await?;
                    let ev = evidence.get_or_insert_with(|| {
                        Evidence::new(report.digest.clone(), repository.clone())
                    });
                    pinned.get_or_insert_with(|| {
                        reference
                            .with_reference(oci::Reference::Digest(report.digest.clone()))
                            .to_string()
                    });
                    for f in &report.findings {
                        let Outcome::Verified {
                            signer,
                            predicate_type,
                            payload,
                        } = &f.outcome
                        else {
                            continue;
                        };
                        let signer = Signer::from_verified(
                            signer,
                            root_digest.as_ref().unwrap_or(&f.digest),
                        );
                        lines.push(format!(
                            "{} {}: verified for {}/{} ({signer})",
                            f.digest,
                            predicate_type.as_deref().unwrap_or("signature"),
                            policy.name(),
                            authority.name()
                        ));
                        ev.add_verified(
                            signer,
                            predicate_type.as_deref(),
                            payload.as_ref(),
                            f.digest.clone(),
                        );
                    }
                }
            }
        }
        anyhow::Ok(evidence)
    })?;
    let verdict = match &evidence {
        Some(e) => set.evaluate(e),
        None => SetVerdict::Uncovered {
            repository: repository.clone(),
        },
    };
    let admitted = verdict.decision() == Some(policy::Decision::Admit);
    let mut out = std::io::stdout().lock();
    match output {
        Output::Json => {
            let value = json!({
                "image": image,
                "digest": evidence.as_ref().map(|e| e.artifact.to_string()),
                "verified": lines,
                "verdict": verdict,
                "admitted": admitted,
            });
            let _ = writeln!(out, "{value:#}");
        }
        Output::Text => {
            if let Some(e) = &evidence {
                let _ = writeln!(out, "{repository}@{}", e.artifact);
            }
            for l in &lines {
                let _ = writeln!(out, "  {l}");
            }
            let _ = writeln!(out, "{verdict}");
        }
    }
    Ok(if admitted {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Loads one policy document from the filesystem.
pub fn load_file(path: &Path) -> Result<Policy, PolicyError> {
    policy::load(path, &|p: &Path| std::fs::read(p))
}

fn check(files: &[PathBuf]) -> ExitCode {
    let mut ok = true;
    let mut loaded: Vec<(&Path, Policy)> = Vec::new();
    let mut out = std::io::stdout().lock();
    for file in files {
        match load_file(file) {
            Ok(p) => {
                if let Some((first, _)) = loaded.iter().find(|(_, q)| q.name() == p.name()) {
                    eprintln!(
                        "{}: name: policy {:?} is also defined in {}",
                        file.display(),
                        p.name(),
                        first.display()
                    );
                    ok = false;
                    continue;
                }
                let covers = p
                    .repositories()
                    .iter()
                    .map(|g| g.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                // A closed standard output is not worth an error of its own.
                let _ = writeln!(
                    out,
                    "{}: ok {} policy {} ({}) covers {covers}",
                    file.display(),
                    p.digest(),
                    p.name(),
                    p.mode().as_str(),
                );
                loaded.push((file, p));
            }
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
