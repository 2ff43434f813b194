//! In-process timing of keyless Sigstore bundle verification: prepares a trusted root once
//! (`sigstore::Verifier`), then verifies real conformance bundles many times and prints the
//! median and p99 per verification: with every signature checked (the signature memo off: what
//! a bundle never seen before costs) on one thread, the same with the certificate checks
//! overlapped on a second thread (the default), the same with parsing the bundle's JSON, and
//! with the default memo (the same bundle again, as a server re-verifying it sees).
//!
//! ```text
//! cargo run --release -p verify --example verify_bench -- [-n ITERATIONS] [CASE_DIR...]
//! ```
//! A case directory holds `bundle.sigstore.json` and optionally `artifact`, `identity`,
//! `issuer` and `trusted_root.json`, as the Sigstore conformance cases do; the defaults are
//! those of `../shared/peers/sigstore-conformance.sh`. Without case directories it runs
//! `happy-path-v0.3` (Rekor v1) and `rekor2-happy-path` (Rekor v2, RFC 3161 timestamp).
//! Exits non-zero if a bundle does not verify: a timing of a failure would mean nothing.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use verify::bundle::Bundle;
use verify::keys::{KeyKind, PrivateKey};
use verify::sigstore::{Artifact, Config, Identity, Matcher, Options, Verifier};
use verify::time::Timestamp;
use verify::trust_root::TrustedRoot;

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";
const DEFAULT_CASES: [&str; 2] = ["happy-path-v0.3", "rekor2-happy-path"];

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/signing/sigstore-conformance/bundle-verify")
}

fn public_good_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/signing/trust/public-good-trusted_root.json")
}

/// One conformance case, read from disk once.
struct Case {
    name: String,
    bundle_json: Vec<u8>,
    artifact: Artifact,
    identity: Identity,
    root: TrustedRoot,
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn read_text_or(path: &Path, default: &str) -> Result<String, String> {
    if path.exists() {
        Ok(String::from_utf8(read(path)?)
            .map_err(|_| format!("{}: not UTF-8", path.display()))?
            .trim_end()
            .to_owned())
    } else {
        Ok(default.to_owned())
    }
}

fn load(dir: &Path) -> Result<Case, String> {
    let name = dir
        .file_name()
        .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into());
    if dir.join("key.pub").exists() {
        return Err(format!(
            "{name}: a key-based case; this measures keyless bundles"
        ));
    }
    let artifact_path = match dir.join("artifact") {
        p if p.exists() => p,
        _ => dir.with_file_name("a.txt"),
    };
    let root_path = match dir.join("trusted_root.json") {
        p if p.exists() => p,
        _ => public_good_root(),
    };
    let root = TrustedRoot::from_json(&read(&root_path)?)
        .map_err(|e| format!("{}: {e}", root_path.display()))?;
    Ok(Case {
        bundle_json: read(&dir.join("bundle.sigstore.json"))?,
        artifact: Artifact::from_bytes(read(&artifact_path)?),
        identity: Identity::Certificate {
            identity: Matcher::Exact(read_text_or(&dir.join("identity"), DEFAULT_IDENTITY)?),
            issuer: Matcher::Exact(read_text_or(&dir.join("issuer"), DEFAULT_ISSUER)?),
        },
        root,
        name,
    })
}

/// The sample at quantile `q` (0..=1) of sorted durations, in microseconds.
fn quantile_us(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

fn run(args: &[String]) -> Result<(), String> {
    let mut iterations = 2000usize;
    let mut dirs = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-n" => {
                iterations = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("-n needs a positive count")?;
            }
            other => dirs.push(PathBuf::from(other)),
        }
    }
    if dirs.is_empty() {
        dirs = DEFAULT_CASES
            .iter()
            .map(|c| conformance_dir().join(c))
            .collect();
    }
    let options = Options {
        now: Timestamp::from_system_time(SystemTime::now()),
        allow_no_tlog_with_key: false,
    };
    println!(
        "{:<20} {:>8} {:>17} {:>17} {:>17} {:>17}",
        "in process, µs", "root", "verify, 1 thread", "verify", "parse+verify", "again (memo)"
    );
    println!(
        "{:<20} {:>8} {:>17} {:>17} {:>17} {:>17}",
        "", "", "median / p99", "median / p99", "median / p99", "median / p99"
    );
    let cold = Config {
        signature_memo: 0,
        ..Config::default()
    };
    let one_thread = Config {
        signature_memo: 0,
        overlap_certificate_checks: false,
    };
    for dir in &dirs {
        let case = load(dir)?;
        let started = Instant::now();
        let verifier = Verifier::with_config(case.root.clone(), cold.clone());
        let prepare = started.elapsed();
        let sequential = Verifier::with_config(case.root.clone(), one_thread.clone());
        let remembering = Verifier::with_config(case.root.clone(), Config::default());
        let bundle =
            Bundle::from_json(&case.bundle_json).map_err(|e| format!("{}: {e}", case.name))?;
        let verify = |v: &Verifier, b: &Bundle| {
            v.verify(b, &case.artifact, &case.identity, &options)
                .map(drop)
                .map_err(|e| format!("{}: not verified: {e}", case.name))
        };
        // Once untimed each: the bundle must verify (and the memo learns it).
        verify(&verifier, &bundle)?;
        verify(&sequential, &bundle)?;
        verify(&remembering, &bundle)?;
        let mut one_thread = Vec::with_capacity(iterations);
        let mut every_check = Vec::with_capacity(iterations);
        let mut with_parse = Vec::with_capacity(iterations);
        let mut again = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let t = Instant::now();
            let r = verify(&sequential, &bundle);
            one_thread.push(t.elapsed());
            r?;

            let t = Instant::now();
            let r = verify(&verifier, &bundle);
            every_check.push(t.elapsed());
            r?;

            let t = Instant::now();
            let r = Bundle::from_json(&case.bundle_json)
                .map_err(|e| format!("{}: {e}", case.name))
                .and_then(|b| verify(&verifier, &b));
            with_parse.push(t.elapsed());
            r?;

            let t = Instant::now();
            let r = verify(&remembering, &bundle);
            again.push(t.elapsed());
            r?;
        }
        let cell = |times: &mut Vec<Duration>| {
            times.sort_unstable();
            format!(
                "{:>7.0} / {:>6.0}",
                quantile_us(times, 0.5),
                quantile_us(times, 0.99)
            )
        };
        println!(
            "{:<20} {:>8.0} {:>17} {:>17} {:>17} {:>17}",
            case.name,
            prepare.as_secs_f64() * 1e6,
            cell(&mut one_thread),
            cell(&mut every_check),
            cell(&mut with_parse),
            cell(&mut again),
        );
    }
    println!("({iterations} verifications per case, after one untimed)");
    primitives(iterations)
}

/// The floor: one signature verification of each kind a keyless bundle needs, timed alone.
fn primitives(iterations: usize) -> Result<(), String> {
    let message = b"the floor under a bundle verification";
    let mut line = Vec::new();
    for (name, kind) in [
        ("ECDSA P-256", KeyKind::EcdsaP256),
        ("ECDSA P-384", KeyKind::EcdsaP384),
        ("Ed25519", KeyKind::Ed25519),
    ] {
        let key = PrivateKey::generate(kind).map_err(|e| e.to_string())?;
        let public = key.public_key().map_err(|e| e.to_string())?;
        let signature = key.sign(message).map_err(|e| e.to_string())?;
        let mut times = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let t = Instant::now();
            let r = public.verify(key.scheme(), message, &signature);
            times.push(t.elapsed());
            r.map_err(|e| format!("{name}: {e}"))?;
        }
        times.sort_unstable();
        line.push(format!("{name} {:.0}", quantile_us(&times, 0.5)));
    }
    println!("one signature verification, median µs: {}", line.join(", "));
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("verify_bench: {e}");
            ExitCode::from(2)
        }
    }
}
