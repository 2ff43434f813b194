//! Signatures and attestations over files: `sign-blob`, `attest-blob`, `verify-blob` and
//! `verify-blob-attestation`, with cosign's flags so that users' scripts carry over. Signing is
//! offline, with a key: the bundle has no transparency log entry, so nothing in it proves when
//! it was signed. Verification is offline too: the trusted root comes from a file.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;
use verify::bundle::{Bundle, Content, MessageDigest};
use verify::intoto::{self, Statement};
use verify::keys::{HashAlg, PrivateKey, Scheme};
use verify::sigstore::{Artifact, Identity, Options, Verified, VerifiedSigner, Verifier};
use verify::slsa::{self, BuilderId, Expectations, ProvenanceFacts, SourceRepo};
use verify::time::Timestamp;
use verify::trust_root::TrustedRoot;

use crate::trust::TrustArgs;
use crate::{keygen, provenance};

#[derive(Subcommand)]
pub enum BlobCommand {
    /// Sign a file with a key: a Sigstore bundle v0.3 holding a message signature.
    ///
    /// The bundle names the key by a hint only: whoever verifies it must be given the public
    /// key. It has no transparency log entry. An encrypted key's password comes from
    /// VOUCH_PASSWORD, else COSIGN_PASSWORD, else standard input.
    SignBlob(SignBlobArgs),
    /// Attest to a file with a key: a Sigstore bundle v0.3 holding a DSSE-signed in-toto
    /// Statement v1 whose subject is the file and whose predicate is the given JSON.
    ///
    /// Keys and passwords as for sign-blob.
    AttestBlob(AttestBlobArgs),
    /// Verify a Sigstore bundle over a file, offline.
    VerifyBlob(VerifyBlobArgs),
    /// Verify an attestation (a bundle holding a DSSE-signed in-toto statement) about a file or
    /// a digest, offline.
    ///
    /// The bundle is verified exactly as verify-blob verifies it (one of the statement's
    /// subjects must be the artifact); then the statement must have the --type given, and with
    /// --builder-id and --source-uri it must be SLSA provenance that passes slsa-verifier's
    /// checks.
    VerifyBlobAttestation(VerifyBlobAttestationArgs),
}

/// The key to sign with and where the bundle goes.
#[derive(Args)]
pub struct Signing {
    /// The private key: cosign's encrypted format, or PKCS#8, SEC1 or PKCS#1 PEM.
    #[arg(long)]
    key: PathBuf,
    /// Where to write the bundle; an existing file is replaced atomically.
    #[arg(long)]
    bundle: PathBuf,
}

#[derive(Args)]
pub struct SignBlobArgs {
    #[command(flatten)]
    signing: Signing,
    /// The file to sign.
    file: PathBuf,
}

#[derive(Args)]
pub struct AttestBlobArgs {
    #[command(flatten)]
    signing: Signing,
    /// The predicate: a file holding a JSON object.
    #[arg(long)]
    predicate: PathBuf,
    /// The predicate type: a URI, or one of cosign's shortcuts (slsaprovenance,
    /// slsaprovenance02, slsaprovenance1, spdx, spdxjson, cyclonedx, link, vuln, openvex,
    /// custom).
    #[arg(long = "type", value_name = "TYPE")]
    predicate_type: String,
    /// The file the statement is about: its name and SHA-256 become the subject.
    file: PathBuf,
}

/// What a bundle is verified against: who must have signed, and the trusted root.
#[derive(Args)]
pub struct Verification {
    /// The Sigstore bundle (any version, v0.1 to v0.3).
    #[arg(long)]
    bundle: PathBuf,
    #[command(flatten)]
    trust: TrustArgs,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Args)]
pub struct VerifyBlobArgs {
    #[command(flatten)]
    verification: Verification,
    #[command(flatten)]
    artifact: ArtifactArgs,
}

/// The artifact: a file, or only its digest.
#[derive(Args)]
pub struct ArtifactArgs {
    /// The artifact's digest instead of the file: for a file not at hand (a release whose
    /// checksum is published, a model, a package known by its registry digest). Pure Ed25519
    /// signatures cover the file itself and cannot be verified this way.
    #[arg(
        long,
        value_name = "ALG:HEX",
        conflicts_with = "artifact",
        required_unless_present = "artifact"
    )]
    digest: Option<String>,
    /// The signed file (for attestations: a subject of the statement). `-` reads standard
    /// input.
    artifact: Option<PathBuf>,
}

impl ArtifactArgs {
    /// Checks the flags without reading anything: a malformed digest is a usage error.
    fn parse(&self) -> anyhow::Result<ArtifactSource> {
        match (&self.digest, &self.artifact) {
            (Some(digest), None) => Ok(ArtifactSource::Digest(artifact_of_digest(digest)?)),
            (None, Some(path)) => Ok(ArtifactSource::File(path.clone())),
            _ => bail!("give the artifact as FILE or as --digest, not both"),
        }
    }
}

enum ArtifactSource {
    File(PathBuf),
    Digest(Artifact),
}

impl ArtifactSource {
    fn read(self) -> anyhow::Result<Artifact> {
        match self {
            ArtifactSource::File(path) => read_artifact(&path),
            ArtifactSource::Digest(artifact) => Ok(artifact),
        }
    }
}

#[derive(Args)]
pub struct VerifyBlobAttestationArgs {
    #[command(flatten)]
    verification: Verification,
    /// The predicate type the statement must have: a URI or one of cosign's shortcuts (as
    /// attest-blob takes them).
    #[arg(long = "type", value_name = "TYPE")]
    predicate_type: Option<String>,
    /// The builder that must have built the artifact, NAME or NAME@VERSION (as slsa-verifier
    /// takes it). Requires --source-uri: together they require SLSA provenance.
    #[arg(long, requires = "source_uri")]
    builder_id: Option<String>,
    /// The source repository the artifact must have been built from, e.g.
    /// github.com/org/repo. Requires --builder-id.
    #[arg(long, requires = "builder_id")]
    source_uri: Option<String>,
    #[command(flatten)]
    artifact: ArtifactArgs,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

pub fn run(command: BlobCommand) -> anyhow::Result<ExitCode> {
    match command {
        BlobCommand::SignBlob(args) => sign_blob(args),
        BlobCommand::AttestBlob(args) => attest_blob(args),
        BlobCommand::VerifyBlob(args) => verify_blob(args),
        BlobCommand::VerifyBlobAttestation(args) => verify_blob_attestation(args),
    }
}

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the {what} {}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// Signing

fn sign_blob(args: SignBlobArgs) -> anyhow::Result<ExitCode> {
    let key = keygen::load(&args.signing.key)?;
    let content = match key.scheme() {
        // Pure Ed25519 signs the message itself, so the file is read whole.
        Scheme::Ed25519 => {
            let bytes = read(&args.file, "file")?;
            let signature = key.sign(&bytes).context("cannot sign the file")?;
            Content::MessageSignature {
                digest: Some(MessageDigest {
                    algorithm: HashAlg::Sha256,
                    digest: HashAlg::Sha256.digest(&bytes),
                }),
                signature,
            }
        }
        // ECDSA and RSA sign the digest, so the file is hashed as a stream, never loaded.
        Scheme::Ecdsa(hash) | Scheme::RsaPkcs1(hash) => {
            let digest = hash_file(&args.file, &[hash])?.remove(0).1;
            let signature = key.sign_digest(&digest).context("cannot sign the file")?;
            Content::MessageSignature {
                digest: Some(MessageDigest {
                    algorithm: hash,
                    digest,
                }),
                signature,
            }
        }
        other => bail!("cannot sign a file with {other}"),
    };
    write_bundle(&args.signing, &key, content)
}

fn attest_blob(args: AttestBlobArgs) -> anyhow::Result<ExitCode> {
    let predicate_type = predicate_type(&args.predicate_type)?;
    let path = &args.predicate;
    let predicate = match serde_json::from_slice(&read(path, "predicate")?) {
        Ok(Value::Object(map)) => map,
        Ok(_) => bail!("the predicate {} is not a JSON object", path.display()),
        Err(e) => {
            return Err(anyhow!(e).context(format!("the predicate {} is not JSON", path.display())));
        }
    };
    let key = keygen::load(&args.signing.key)?;
    let subject = provenance::subject(&args.file)?;
    let statement = Statement::new(vec![subject], predicate_type, predicate);
    let content = Content::dsse_signed(&key, statement.to_json().into_bytes())
        .context("cannot sign the statement")?;
    write_bundle(&args.signing, &key, content)
}

/// Writes a key-signed v0.3 bundle of `content` where `signing` says.
fn write_bundle(signing: &Signing, key: &PrivateKey, content: Content) -> anyhow::Result<ExitCode> {
    let public = key
        .public_key()
        .context("cannot derive the public key of the signing key")?;
    let json = Bundle::signed_with_key(&public, content)
        .to_json()
        .context("cannot serialize the bundle")?;
    keygen::write_replacing(&signing.bundle, json.as_bytes(), 0o644)?;
    eprintln!("Bundle written to {}", signing.bundle.display());
    Ok(ExitCode::SUCCESS)
}

/// The predicate type a `--type` value stands for.
fn predicate_type(value: &str) -> anyhow::Result<String> {
    intoto::predicate_type(value).ok_or_else(|| {
        let names: Vec<&str> = intoto::PREDICATE_TYPE_SHORTCUTS
            .iter()
            .map(|(name, _)| *name)
            .collect();
        anyhow!(
            "--type {value:?} is neither a URI nor one of {}",
            names.join(", ")
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Reading artifacts

/// Files up to this size are read whole (every scheme can verify them); larger ones are hashed
/// as a stream.
const IN_MEMORY: u64 = 256 * 1024 * 1024;

/// The file's digests under `algs`, hashed as a stream.
fn hash_file(path: &Path, algs: &[HashAlg]) -> anyhow::Result<Vec<(HashAlg, Vec<u8>)>> {
    let context = || format!("cannot read the file {}", path.display());
    let mut file = std::fs::File::open(path).with_context(context)?;
    let backend = |h: HashAlg| match h {
        HashAlg::Sha256 => &aws_lc_rs::digest::SHA256,
        HashAlg::Sha384 => &aws_lc_rs::digest::SHA384,
        HashAlg::Sha512 => &aws_lc_rs::digest::SHA512,
    };
    let mut contexts: Vec<_> = algs
        .iter()
        .map(|&h| aws_lc_rs::digest::Context::new(backend(h)))
        .collect();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).with_context(context)?;
        if n == 0 {
            break;
        }
        for c in &mut contexts {
            c.update(&buf[..n]);
        }
    }
    Ok(algs
        .iter()
        .zip(contexts)
        .map(|(&h, c)| (h, c.finish().as_ref().to_vec()))
        .collect())
}

fn read_artifact(path: &Path) -> anyhow::Result<Artifact> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("cannot read the artifact from standard input")?;
        return Ok(Artifact::from_bytes(bytes));
    }
    let len = std::fs::metadata(path)
        .with_context(|| format!("cannot read the artifact {}", path.display()))?
        .len();
    if len <= IN_MEMORY {
        return Ok(Artifact::from_bytes(read(path, "artifact")?));
    }
    let all = [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];
    Ok(Artifact::from_digests(hash_file(path, &all)?))
}

/// `--digest ALG:HEX` as an artifact known only by that digest.
fn artifact_of_digest(text: &str) -> anyhow::Result<Artifact> {
    let digest = oci::Digest::parse(text).with_context(|| format!("--digest {text:?}"))?;
    let alg = match digest.algorithm() {
        oci::Algorithm::Sha256 => HashAlg::Sha256,
        oci::Algorithm::Sha512 => HashAlg::Sha512,
    };
    // A parsed digest's hex has the algorithm's length and only hex digits.
    let bytes = (0..digest.hex().len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digest.hex()[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .with_context(|| format!("--digest {text:?} is not hex"))?;
    Ok(Artifact::from_digests(vec![(alg, bytes)]))
}

/// The artifact's digests as in-toto subjects name them.
fn subject_digests(artifact: &Artifact) -> Vec<oci::Digest> {
    [
        (HashAlg::Sha256, oci::Algorithm::Sha256),
        (HashAlg::Sha512, oci::Algorithm::Sha512),
    ]
    .into_iter()
    .filter_map(|(h, a)| {
        let hex = verify::keys::hex(artifact.digest(h)?);
        oci::Digest::parse(&format!("{a}:{hex}")).ok()
    })
    .collect()
}

// ---------------------------------------------------------------------------------------------
// Verification

/// A bundle ready to be examined: read, with who must have signed it and the root to trust.
struct Examiner {
    bundle_bytes: Vec<u8>,
    identity: Identity,
    root: Option<TrustedRoot>,
}

impl Examiner {
    /// Reads what `v` names. Usage and I/O errors are errors; nothing is judged yet.
    fn new(v: &Verification) -> anyhow::Result<Examiner> {
        let bundle_bytes = read(&v.bundle, "bundle")?;
        let (identity, root) = v.trust.load()?;
        Ok(Examiner {
            bundle_bytes,
            identity,
            root,
        })
    }

    /// Whether the bundle proves that the identity signed `artifact`: the verified facts, or
    /// why not (one line).
    fn examine(self, artifact: &Artifact) -> anyhow::Result<Result<Verified, String>> {
        // A bundle that does not parse is not verified (exit 1), like any other failed check.
        let bundle = match Bundle::from_json(&self.bundle_bytes) {
            Ok(b) => b,
            Err(e) => return Ok(Err(format!("the bundle is invalid: {e}"))),
        };
        if !bundle.tlog_entries.is_empty() && self.root.is_none() {
            bail!("the bundle has transparency log entries: pass --trusted-root to check them");
        }
        let verifier = Verifier::new(self.root.unwrap_or_default());
        let options = Options {
            now: Timestamp::from_system_time(std::time::SystemTime::now()),
            allow_no_tlog_with_key: true,
        };
        Ok(verifier
            .verify(&bundle, artifact, &self.identity, &options)
            .map_err(|failure| failure.to_string()))
    }
}

fn verify_blob(args: VerifyBlobArgs) -> anyhow::Result<ExitCode> {
    let source = args.artifact.parse()?;
    let examiner = Examiner::new(&args.verification)?;
    let artifact = source.read()?;
    match examiner.examine(&artifact)? {
        Ok(verified) => {
            report(&verified, None, args.verification.output);
            Ok(ExitCode::SUCCESS)
        }
        Err(reason) => Ok(denied(&reason)),
    }
}

fn verify_blob_attestation(args: VerifyBlobAttestationArgs) -> anyhow::Result<ExitCode> {
    // Every flag is checked before anything is read: a malformed one is a usage error.
    let want_type = args
        .predicate_type
        .as_deref()
        .map(predicate_type)
        .transpose()?;
    let provenance = match (&args.builder_id, &args.source_uri) {
        (Some(builder), Some(source)) => Some((
            BuilderId::parse(builder).context("--builder-id")?,
            SourceRepo::parse(source).context("--source-uri")?,
        )),
        (None, None) => None,
        _ => bail!("--builder-id and --source-uri go together"),
    };
    let source = args.artifact.parse()?;
    let examiner = Examiner::new(&args.verification)?;
    let artifact = source.read()?;
    let verified = match examiner.examine(&artifact)? {
        Ok(v) => v,
        Err(reason) => return Ok(denied(&reason)),
    };
    let Some(statement) = &verified.statement else {
        return Ok(denied(
            "the bundle holds a message signature, not an attestation",
        ));
    };
    if let Some(want) = &want_type
        && statement.predicate_type != *want
    {
        return Ok(denied(&format!(
            "the statement's predicate type is {:?}, not {want:?}",
            statement.predicate_type
        )));
    }
    let facts = match provenance {
        None => None,
        Some((builder_id, source)) => {
            // The verifier found a subject that is the artifact; provenance is checked for it.
            let Some(digest) = subject_digests(&artifact)
                .into_iter()
                .find(|d| statement.subject_for(d).is_some())
            else {
                return Ok(denied(
                    "no subject of the in-toto statement is the artifact",
                ));
            };
            let expect = Expectations {
                digest,
                builder_id,
                source,
            };
            match slsa::check_provenance(statement, &expect) {
                Ok(facts) => Some(facts),
                Err(reason) => return Ok(denied(&format!("provenance: {reason}"))),
            }
        }
    };
    report(&verified, facts.as_ref(), args.verification.output);
    Ok(ExitCode::SUCCESS)
}

/// Exit code 1 with a one-line reason: the bundle was examined and does not verify.
fn denied(reason: &str) -> ExitCode {
    eprintln!("vouch: not verified: {reason}");
    ExitCode::from(1)
}

fn report(v: &Verified, provenance: Option<&ProvenanceFacts>, output: Output) {
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
            if let Some(statement) = &v.statement {
                eprintln!("predicate type {}", statement.predicate_type);
            }
            if let Some(p) = provenance {
                eprintln!("built by {} from {}", p.builder_id, p.source_uri);
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
            let logs: Vec<Value> = v
                .log_entries
                .iter()
                .map(|(url, i)| serde_json::json!({ "log": url, "index": i }))
                .collect();
            let mut doc = serde_json::json!({
                "verified": true,
                "signer": signer,
                "signedAt": times,
                "logEntries": logs,
                "predicateType": v.statement.as_ref().map(|s| s.predicate_type.clone()),
            });
            if let Some(p) = provenance {
                doc["provenance"] = serde_json::json!({
                    "subject": p.subject_name,
                    "builderId": p.builder_id,
                    "buildType": p.build_type,
                    "sourceUri": p.source_uri,
                    "sourceDigest": p.source_digest,
                    "triggerUri": p.trigger_uri,
                    "invocationId": p.invocation_id,
                });
            }
            println!("{doc}");
        }
    }
}
