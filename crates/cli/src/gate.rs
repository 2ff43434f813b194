//! The trusted registry from the command line: `vouch revoke` (an administrator revokes a key
//! or an artifact; the server records it on the ledger and decides again about everything it
//! admitted) and `vouch trace` (an artifact's history from the ledger: pushed by whom, signed
//! by whom, its provenance, every decision with its policy digest and reasons, revocations;
//! every entry's inclusion proof checked here against the checkpoint, whose signature is
//! checked with `--vkey`), and `vouch policy reload` (the server reads its policy files
//! again).

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use hyper::Method;
use serde_json::{Value, json};
use verify::checkpoint::SignedCheckpoint;
use verify::merkle;

use crate::image::{RegistryArgs, registry_client};
use crate::ledger::{
    Api, Remote, denied, load_vkey, proof_hashes, verify_checkpoint, write_stdout,
};

#[derive(Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    remote: Remote,
    /// The revoked key's SHA-256 fingerprint (sha256:<hex>, as `vouch ledger` and traces show it).
    #[arg(long, conflicts_with = "digest", required_unless_present = "digest")]
    key: Option<String>,
    /// The revoked artifact's digest.
    #[arg(long)]
    digest: Option<String>,
    /// Why: recorded on the ledger.
    #[arg(long)]
    reason: String,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Args)]
pub struct TraceArgs {
    /// The registry's base URL; by default the image's registry (https://, or http:// with
    /// --allow-http-registry). Needed with a bare digest.
    #[arg(long)]
    url: Option<String>,
    #[command(flatten)]
    registry: RegistryArgs,
    /// The log's verifier key (C2SP vkey, as `vouch ledger vkey` prints it), or a file holding
    /// it. Without it the checkpoint's signature is not checked (the proofs still are).
    #[arg(long)]
    vkey: Option<String>,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// The artifact: an image (REGISTRY/REPOSITORY[:TAG][@DIGEST], a tag resolved to the
    /// digest it names now) or a bare digest (with --url).
    target: String,
}

pub fn revoke(args: RevokeArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let api = Api::new(&args.remote)?;
        if args.reason.trim().is_empty() {
            bail!("--reason must say why");
        }
        let body = match (&args.key, &args.digest) {
            (Some(key), None) => json!({"key": key, "reason": args.reason}),
            (None, Some(digest)) => {
                oci::Digest::parse(digest)
                    .with_context(|| format!("--digest {digest:?} is not a digest"))?;
                json!({"digest": digest, "reason": args.reason})
            }
            _ => bail!("name exactly one of --key and --digest"),
        };
        let answer = api
            .send(
                Method::POST,
                "/api/v1/revocations",
                Some(body.to_string().into_bytes()),
            )
            .await?;
        if answer.status != 201 {
            bail!(
                "POST {}/api/v1/revocations: {}",
                args.remote.url,
                answer.describe()
            );
        }
        let index = serde_json::from_slice::<Value>(&answer.body)
            .ok()
            .and_then(|v| v["index"].as_u64());
        match index {
            Some(i) => eprintln!("Revoked; recorded as ledger entry {i}"),
            None => eprintln!("Revoked"),
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `vouch policy reload`: `POST /api/v1/policies/reload`, then what is in force.
pub fn reload(remote: &Remote) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let api = Api::new(remote)?;
        let answer = api
            .send(Method::POST, "/api/v1/policies/reload", None)
            .await?;
        if answer.status != 200 {
            bail!(
                "POST {}/api/v1/policies/reload: {}",
                remote.url,
                answer.describe()
            );
        }
        let body: Value =
            serde_json::from_slice(&answer.body).context("the registry's answer is not JSON")?;
        let policies = body["policies"].as_array().cloned().unwrap_or_default();
        if body["changed"] == true {
            eprintln!(
                "Policies reloaded; {} artifacts decided again",
                body["evaluated"].as_u64().unwrap_or(0)
            );
        } else {
            eprintln!("The policy files are unchanged");
        }
        for p in policies {
            println!(
                "{} {} ({})",
                p["name"].as_str().unwrap_or("?"),
                p["digest"].as_str().unwrap_or("?"),
                p["mode"].as_str().unwrap_or("?")
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// The digest a trace is about and the registry's base URL: from a bare digest and --url, or
/// from an image (its tag resolved there).
async fn target(args: &TraceArgs) -> anyhow::Result<(oci::Digest, String)> {
    if let Ok(digest) = oci::Digest::parse(&args.target) {
        let url = args
            .url
            .clone()
            .context("a bare digest needs --url, the registry's base URL")?;
        return Ok((digest, url));
    }
    let image = client::ImageRef::parse(&args.target)
        .with_context(|| format!("{:?} is neither a digest nor an image", args.target))?;
    let url = match &args.url {
        Some(u) => u.clone(),
        None if args.registry.allow_http_registry => format!("http://{}", image.registry()),
        None => format!("https://{}", image.registry()),
    };
    if let Some(d) = image.digest() {
        return Ok((d.clone(), url));
    }
    let registry = registry_client(&image, &args.registry)?;
    let found = registry
        .resolve(image.repository(), &image.reference())
        .await
        .with_context(|| format!("cannot resolve {image}"))?;
    eprintln!("{image} resolves to {}", found.digest);
    Ok((found.digest, url))
}

pub fn trace(args: TraceArgs) -> anyhow::Result<ExitCode> {
    let log = args.vkey.as_deref().map(load_vkey).transpose()?;
    runtime()?.block_on(async {
        let (digest, url) = target(&args).await?;
        let api = Api::new(&Remote {
            url,
            registry_username: args.registry.registry_username.clone(),
            registry_password: args.registry.registry_password.clone(),
        })?;
        let trace = api.get_json(&format!("/api/v1/trace/{digest}")).await?;
        let text = trace["checkpoint"]
            .as_str()
            .context("the trace has no checkpoint")?;
        let signed = SignedCheckpoint::parse(text.as_bytes())
            .context("the trace's checkpoint is not a signed checkpoint")?;
        let checkpoint = match &log {
            Some(log) => match verify_checkpoint(&signed, log) {
                Ok(c) => c.checkpoint().clone(),
                Err(e) => return Ok(denied(&format!("the trace's checkpoint: {e}"))),
            },
            None => signed.checkpoint().clone(),
        };
        let related = related_names(&trace, digest.as_str());
        let mut rows = Vec::new();
        let mut problems = Vec::new();
        for e in trace["entries"].as_array().into_iter().flatten() {
            let (Some(index), Some(entry)) = (e["index"].as_u64(), e["entry"].as_str()) else {
                problems.push("an entry without index or text".to_owned());
                continue;
            };
            let proven = proof_hashes(e).is_ok_and(|p| {
                merkle::verify_inclusion(
                    index,
                    checkpoint.size(),
                    &merkle::leaf_hash(entry.as_bytes()),
                    &p,
                    checkpoint.root(),
                )
                .is_ok()
            });
            if !proven {
                problems.push(format!("entry {index}: its inclusion proof does not hold"));
            }
            let parsed: Value = serde_json::from_str(entry).unwrap_or(Value::Null);
            let text = parsed.to_string();
            if !related.iter().any(|r| text.contains(r.as_str())) {
                problems.push(format!("entry {index}: unrelated to {digest}"));
            }
            rows.push((index, parsed, proven));
        }
        match args.output {
            Output::Json => {
                let out = json!({
                    "digest": digest.as_str(),
                    "checkpoint": {"origin": checkpoint.origin(), "size": checkpoint.size(), "signatureChecked": log.is_some()},
                    "state": trace["state"],
                    "entries": rows.iter().map(|(i, e, p)| json!({"index": i, "entry": e, "proven": p})).collect::<Vec<_>>(),
                    "problems": problems,
                });
                write_stdout(format!("{out:#}\n").as_bytes())?;
            }
            Output::Text => {
                let mut out = String::new();
                for s in trace["state"].as_array().into_iter().flatten() {
                    let state = match s["admitted"].as_bool() {
                        _ if s["gated"] == false => "not gated".to_owned(),
                        Some(true) => "admitted".to_owned(),
                        _ => "quarantined".to_owned(),
                    };
                    out.push_str(&format!("{}@{digest}: {state}\n", s["repository"].as_str().unwrap_or("?")));
                    for r in s["reasons"].as_array().into_iter().flatten() {
                        out.push_str(&format!("  {}\n", r.as_str().unwrap_or_default()));
                    }
                }
                out.push_str(&format!(
                    "ledger {} at size {}{}\n",
                    checkpoint.origin(),
                    checkpoint.size(),
                    if log.is_some() { ", checkpoint signature verified" } else { ", checkpoint signature NOT checked (no --vkey)" }
                ));
                for (index, entry, proven) in &rows {
                    out.push_str(&format!(
                        "{:>6} {} {}\n",
                        index,
                        if *proven { "proven" } else { "UNPROVEN" },
                        describe(entry)
                    ));
                }
                write_stdout(out.as_bytes())?;
            }
        }
        if rows.is_empty() {
            return Ok(denied(&format!("the ledger holds no entry about {digest}")));
        }
        if !problems.is_empty() {
            return Ok(denied(&problems.join("; ")));
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// What a traced entry may name to be about the artifact: its digest, and what the entries
/// that name it name (their evidence, their policies, their signers' keys). Gathered once:
/// every entry is checked against the same list.
fn related_names(trace: &Value, digest: &str) -> Vec<String> {
    let mut related = vec![digest.to_owned()];
    for e in trace["entries"].as_array().into_iter().flatten() {
        let Some(t) = e["entry"].as_str() else {
            continue;
        };
        if !t.contains(digest) {
            continue;
        }
        let v: Value = serde_json::from_str(t).unwrap_or(Value::Null);
        for d in v["event"]["evidence"].as_array().into_iter().flatten() {
            if let Some(d) = d.as_str() {
                related.push(d.to_owned());
            }
        }
        if let Some(p) = v["event"]["details"]["policy"].as_str() {
            related.push(p.to_owned());
        }
        for s in v["event"]["details"]["signers"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(fp) = s["who"]["fingerprint"].as_str() {
                related.push(format!("sha256:{fp}"));
            }
        }
    }
    related.sort_unstable();
    related.dedup();
    related
}

/// One line about an entry: time, type, actor, and what matters for its type.
fn describe(entry: &Value) -> String {
    let e = &entry["event"];
    let s = |v: &Value| v.as_str().unwrap_or("").to_owned();
    let subject = &e["subject"];
    let mut line = format!(
        "{} {:<20} by {}",
        s(&e["time"]),
        s(&e["type"]),
        s(&e["actor"])
    );
    let about = match (
        subject["repository"].as_str(),
        subject["digest"].as_str(),
        subject["key"].as_str(),
    ) {
        (_, _, Some(key)) => format!(" key {key}"),
        (Some(r), Some(d), _) => format!(" {r}@{d}"),
        (None, Some(d), _) => format!(" {d}"),
        _ => String::new(),
    };
    line.push_str(&about);
    if let Some(t) = subject["tag"].as_str() {
        line.push_str(&format!(" tag {t}"));
    }
    let d = &e["details"];
    if let Some(p) = d["policyName"].as_str() {
        line.push_str(&format!("; policy {p} ({})", s(&d["policy"])));
    }
    for signer in d["signers"].as_array().into_iter().flatten() {
        line.push_str(&format!("; signed by {}", s(&signer["signer"])));
    }
    for p in d["provenance"].as_array().into_iter().flatten() {
        line.push_str(&format!(
            "; built by {} from {} at {}",
            s(&p["builder"]),
            s(&p["source"]),
            s(&p["commit"])
        ));
    }
    for r in d["reasons"].as_array().into_iter().flatten() {
        line.push_str(&format!("; {}", r.as_str().unwrap_or_default()));
    }
    if let Some(r) = d["reason"].as_str() {
        line.push_str(&format!("; reason: {r}"));
    }
    for ev in e["evidence"].as_array().into_iter().flatten() {
        line.push_str(&format!("; evidence {}", ev.as_str().unwrap_or_default()));
    }
    line
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
