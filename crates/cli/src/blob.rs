//! Signatures over files: `verify-blob` (and, as they land, `sign-blob` and `attest-blob`),
//! with cosign's flags so that users' scripts carry over. Verification is offline: the trusted
//! root comes from a file.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand, ValueEnum};
use verify::bundle::Bundle;
use verify::keys::{HashAlg, PublicKey};
use verify::sigstore::{Artifact, Identity, Matcher, Options, Verified, VerifiedSigner, Verifier};
use verify::time::Timestamp;
use verify::trust_root::TrustedRoot;

#[derive(Subcommand)]
pub enum BlobCommand {
    /// Verify a Sigstore bundle over a file, offline.
    VerifyBlob(VerifyBlobArgs),
}

#[derive(Args)]
pub struct VerifyBlobArgs {
    /// The Sigstore bundle (any version, v0.1 to v0.3).
    #[arg(long)]
    bundle: PathBuf,
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
    /// authorities. Needed for certificates and for bundles with log entries.
    #[arg(long)]
    trusted_root: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// The signed file (for attestations: the statement's subject). `-` reads standard input.
    artifact: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

pub fn run(command: BlobCommand) -> anyhow::Result<ExitCode> {
    match command {
        BlobCommand::VerifyBlob(args) => verify_blob(args),
    }
}

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the {what} {}", path.display()))
}

/// Files up to this size are read whole (every scheme can verify them); larger ones are hashed
/// as a stream.
const IN_MEMORY: u64 = 256 * 1024 * 1024;

fn read_artifact(path: &Path) -> anyhow::Result<Artifact> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read the artifact from standard input")?;
        return Ok(Artifact::from_bytes(bytes));
    }
    let mut file = std::fs::File::open(path)
        .with_context(|| format!("cannot read the artifact {}", path.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len <= IN_MEMORY {
        let mut bytes = Vec::with_capacity(len as usize);
        file.read_to_end(&mut bytes)
            .with_context(|| format!("cannot read the artifact {}", path.display()))?;
        return Ok(Artifact::from_bytes(bytes));
    }
    let algs = [
        &aws_lc_rs::digest::SHA256,
        &aws_lc_rs::digest::SHA384,
        &aws_lc_rs::digest::SHA512,
    ];
    let mut contexts: Vec<_> = algs
        .iter()
        .map(|a| aws_lc_rs::digest::Context::new(a))
        .collect();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read the artifact {}", path.display()))?;
        if n == 0 {
            break;
        }
        for c in &mut contexts {
            c.update(&buf[..n]);
        }
    }
    let digests = [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512]
        .into_iter()
        .zip(contexts)
        .map(|(h, c)| (h, c.finish().as_ref().to_vec()))
        .collect();
    Ok(Artifact::from_digests(digests))
}

fn verify_blob(args: VerifyBlobArgs) -> anyhow::Result<ExitCode> {
    let bundle_bytes = read(&args.bundle, "bundle")?;
    let identity = match &args.key {
        Some(path) => {
            let text = String::from_utf8(read(path, "key")?).context("the key is not PEM text")?;
            Identity::Key(
                PublicKey::from_pem(&text)
                    .with_context(|| format!("cannot use the key {}", path.display()))?,
            )
        }
        None => {
            let identity = match (
                &args.certificate_identity,
                &args.certificate_identity_regexp,
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
                &args.certificate_oidc_issuer,
                &args.certificate_oidc_issuer_regexp,
            ) {
                (Some(s), None) => Matcher::Exact(s.clone()),
                (None, Some(re)) => {
                    Matcher::pattern(re).context("invalid --certificate-oidc-issuer-regexp")?
                }
                _ => bail!("a certificate identity needs --certificate-oidc-issuer (or -regexp)"),
            };
            Identity::Certificate { identity, issuer }
        }
    };
    let root = match &args.trusted_root {
        Some(path) => TrustedRoot::from_json(&read(path, "trusted root")?)
            .with_context(|| format!("cannot use the trusted root {}", path.display()))?,
        None => {
            if matches!(identity, Identity::Certificate { .. }) {
                bail!("verifying a certificate needs --trusted-root (vouch verifies offline)");
            }
            TrustedRoot::default()
        }
    };
    let artifact = read_artifact(&args.artifact)?;
    // A bundle that does not parse is not verified (exit 1), like any other failed check.
    let bundle = match Bundle::from_json(&bundle_bytes) {
        Ok(b) => b,
        Err(e) => return Ok(denied(&format!("the bundle is invalid: {e}"))),
    };
    if !bundle.tlog_entries.is_empty() && args.trusted_root.is_none() {
        bail!("the bundle has transparency log entries: pass --trusted-root to check them");
    }
    let verifier = Verifier::new(root);
    let options = Options {
        now: Timestamp::from_system_time(std::time::SystemTime::now()),
        allow_no_tlog_with_key: true,
    };
    match verifier.verify(&bundle, &artifact, &identity, &options) {
        Ok(verified) => {
            report(&verified, args.output);
            Ok(ExitCode::SUCCESS)
        }
        Err(failure) => Ok(denied(&failure.to_string())),
    }
}

/// Exit code 1 with a one-line reason: the bundle was examined and does not verify.
fn denied(reason: &str) -> ExitCode {
    eprintln!("vouch: not verified: {reason}");
    ExitCode::from(1)
}

fn report(v: &Verified, output: Output) {
    match output {
        Output::Text => {
            let who = match &v.signer {
                VerifiedSigner::Key(fp) => format!("key sha256:{fp}"),
                VerifiedSigner::Certificate { identity, issuer } => {
                    format!("{identity} (issuer {issuer})")
                }
            };
            eprintln!("Verified OK: signed by {who}");
            match v.times.first() {
                Some((t, _)) => eprintln!("signed at {t}"),
                None => eprintln!(
                    "no transparency log entry or timestamp: nothing proves when it was signed"
                ),
            }
        }
        Output::Json => {
            let signer = match &v.signer {
                VerifiedSigner::Key(fp) => serde_json::json!({ "key": format!("sha256:{fp}") }),
                VerifiedSigner::Certificate { identity, issuer } => {
                    serde_json::json!({ "identity": identity, "issuer": issuer })
                }
            };
            let times: Vec<String> = v.times.iter().map(|(t, _)| t.to_rfc3339()).collect();
            let logs: Vec<serde_json::Value> = v
                .log_entries
                .iter()
                .map(|(url, i)| serde_json::json!({ "log": url, "index": i }))
                .collect();
            let doc = serde_json::json!({
                "verified": true,
                "signer": signer,
                "signedAt": times,
                "logEntries": logs,
                "predicateType": v.statement.as_ref().map(|s| s.predicate_type.clone()),
            });
            println!("{doc}");
        }
    }
}
