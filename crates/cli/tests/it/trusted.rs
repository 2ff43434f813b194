//! The trusted registry end to end, with real clients: skopeo pushes as a push-role user; a
//! pull-role user's podman pull fails with DENIED and the policy's reason; `vouch sign` with
//! the trusted key admits the image and the pull succeeds; `vouch revoke` of that key denies it
//! again; `vouch trace` shows every step, each entry's inclusion proof checked against a
//! checkpoint verified with the log's key. Separately, a bundle that sigstore-js's own producer
//! signed with the trusted key, pushed with oras as a referrer, admits an image. The policy
//! binds signatures to their repository (what `vouch sign` and that statement name); the key
//! is finally rotated by replacing the policy and sending SIGHUP.

use std::process::Command;

use crate::clients::{Layout, Store, fails, random_bytes, skopeo, tempdir};
use crate::common::{Server, ServerOptions, bcrypt_hash, run, tool, vouch, write_file};
use crate::signing::{fingerprint, repo};

/// `<name>.key`, a PKCS#8 P-256 key (vouch and sigstore-js both read it), and its public half
/// `<name>.pub`, made by openssl in `tmp`.
fn p256_key_pair(tmp: &tempfile::TempDir, name: &str) {
    let key = tmp.path().join(format!("{name}.key"));
    run(Command::new(tool("openssl"))
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
        ])
        .arg(&key));
    run(Command::new(tool("openssl"))
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(tmp.path().join(format!("{name}.pub"))));
}

/// `vouch sign` of `image` with `key`, as ci.
fn vouch_sign(key: &std::path::Path, image: &str) {
    run(vouch().args(["sign", "--key"]).arg(key).args([
        "--allow-http-registry",
        "--registry-username",
        "ci",
        "--registry-password",
        "ci-pass",
        image,
    ]));
}

/// A gated server: `prod/**` needs a signature by `release.pub`; users ci (push prod/**),
/// deploy (pull) and admin.
fn gated_server(tmp: &tempfile::TempDir) -> Server {
    p256_key_pair(tmp, "release");
    write_file(
        &tmp.path().join("prod.yaml"),
        "name: prod-signed\nrepositories: [\"prod/**\"]\nbind_repository: true\nauthorities:\n  - name: release\n    key: release.pub\n",
    );
    let config = tmp.path().join("vouch.toml");
    write_file(
        &config,
        &format!(
            r#"
[[auth.users]]
name = "ci"
password = "{}"
access = [{{ repos = "prod/**", roles = ["push"] }}]

[[auth.users]]
name = "deploy"
password = "{}"
access = [{{ repos = "**", roles = ["pull"] }}]

[[auth.users]]
name = "admin"
password = "{}"
access = [{{ repos = "**", roles = ["admin"] }}]

[gate]
policies = ["prod.yaml"]
watch_interval = "0s"   # reloaded on SIGHUP only, which the test sends
"#,
            bcrypt_hash("ci-pass"),
            bcrypt_hash("deploy-pass"),
            bcrypt_hash("admin-pass"),
        ),
    );
    Server::start_with(ServerOptions {
        config: Some(config),
        ..ServerOptions::default()
    })
}

/// oras-py pushes a Sigstore bundle as a referrer of an image manifest (artifact type and
/// layer media type: the bundle's).
const ORAS_ATTACH: &str = r#"
import sys
import oras.oci, oras.provider
host, user, password, target, path, digest, size = sys.argv[1:]
bundle = "application/vnd.dev.sigstore.bundle.v0.3+json"
registry = oras.provider.Registry(hostname=host, insecure=True, auth_backend="basic")
registry.auth.set_basic_auth(user, password)
registry.push(
    target=target,
    files=[f"{path}:{bundle}"],
    disable_path_validation=True,
    manifest_config=f"{path}.absent:{bundle}",
    subject=oras.oci.Subject("application/vnd.oci.image.manifest.v1+json", digest, int(size)),
    quiet=True,
)
"#;

/// A one-layer image (`file`: a name and that many random bytes) made with umoci in
/// `tmp/<layout>` and pushed to `image` by skopeo as ci; its manifest's digest and bytes.
fn push_as_ci(
    tmp: &tempfile::TempDir,
    layout: &str,
    (file, size): (&str, usize),
    image: &str,
) -> (String, Vec<u8>) {
    let src = Layout::create(tmp.path().join(layout));
    src.image("v1", "amd64", &[(file, random_bytes(size))]);
    src.gc();
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--preserve-digests",
        "--dest-creds",
        "ci:ci-pass",
        &src.reference("v1"),
        &format!("docker://{image}"),
    ]);
    src.manifest("v1")
}

fn podman_pull(store: &Store, image: &str) -> Command {
    let mut cmd = store.podman();
    cmd.args([
        "pull",
        "-q",
        "--tls-verify=false",
        "--creds",
        "deploy:deploy-pass",
        image,
    ]);
    cmd
}

#[test]
fn skopeo_push_podman_denied_vouch_sign_admits_revoke_denies_trace_proves() {
    let tmp = tempdir();
    let server = gated_server(&tmp);
    let host = server.host();
    let image = format!("{host}/prod/app:1.0");

    let (digest, _) = push_as_ci(&tmp, "layout", ("data.bin", 256 * 1024), &image);

    // Quarantined: podman as a pull-only user is denied, with the policy's reason.
    let denied = fails(&mut podman_pull(&Store::new(), &image));
    assert!(
        denied.contains("denied") && denied.contains("not admitted"),
        "podman's error: {denied}"
    );
    assert!(
        denied.contains("release"),
        "the reason names the missing signer: {denied}"
    );

    // `vouch policy eval` gives the registry's verdict from the outside, as a pull-only user.
    let eval = |image: &str| {
        vouch()
            .args(["policy", "eval", "--policy"])
            .arg(tmp.path().join("prod.yaml"))
            .args([
                "--allow-http-registry",
                "--registry-username",
                "deploy",
                "--registry-password",
                "deploy-pass",
                image,
            ])
            .output()
            .expect("vouch policy eval runs")
    };
    let before = eval(&image);
    assert_eq!(before.status.code(), Some(1), "{before:?}");
    assert!(String::from_utf8_lossy(&before.stdout).contains("denied by policy prod-signed"));

    // Signed with the trusted key: admitted, and podman pulls it.
    vouch_sign(&tmp.path().join("release.key"), &image);
    let store = Store::new();
    run(&mut podman_pull(&store, &image));
    let (pulled, _) = store.podman_image(&image);
    assert_eq!(pulled, digest);
    let after = eval(&image);
    assert_eq!(after.status.code(), Some(0), "{after:?}");
    assert!(String::from_utf8_lossy(&after.stdout).contains("admitted by policy prod-signed"));

    // A bundle sigstore-js made, pushed with oras as a referrer, admits another image.
    let model = format!("{host}/prod/model:1.0");
    let (model_digest, model_manifest) =
        push_as_ci(&tmp, "model", ("weights.bin", 64 * 1024), &model);
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "prod/model", "digest": {"sha256": model_digest.trim_start_matches("sha256:")}}],
        "predicateType": "https://sigstore.dev/cosign/sign/v1",
        "predicate": {},
    });
    let statement_file = tmp.path().join("statement.json");
    std::fs::write(&statement_file, statement.to_string()).unwrap();
    let producer = repo().join(".peers/sigstore-sign");
    assert!(
        producer.join("node_modules/@sigstore/sign").is_dir(),
        "sigstore-js's producer is not installed in {}; run .ci/install",
        producer.display()
    );
    let bundle = run(Command::new(tool("node"))
        .arg(producer.join("sigstore-sign.js"))
        .arg(tmp.path().join("release.key"))
        .arg(&statement_file)
        .arg("application/vnd.in-toto+json"));
    let bundle_file = tmp.path().join("model.sigstore.json");
    std::fs::write(&bundle_file, &bundle).unwrap();
    assert!(fails(&mut podman_pull(&Store::new(), &model)).contains("not admitted"));
    run(Command::new(tool("python3"))
        .env("HOME", tmp.path())
        .args(["-c", ORAS_ATTACH, &host, "ci", "ci-pass"])
        .arg(format!("{host}/prod/model:sigstore-js"))
        .arg(&bundle_file)
        .args([&model_digest, &model_manifest.len().to_string()]));
    run(&mut podman_pull(&Store::new(), &model));

    // The key revoked: denied again.
    let fingerprint = fingerprint(&tmp.path().join("release.pub"));
    let url = format!("http://{host}");
    let refused = fails(vouch().args([
        "revoke",
        "--url",
        &url,
        "--registry-username",
        "deploy",
        "--registry-password",
        "deploy-pass",
        "--key",
        &fingerprint,
        "--reason",
        "not an administrator",
    ]));
    assert!(refused.contains("403"), "{refused}");
    run(vouch().args([
        "revoke",
        "--url",
        &url,
        "--registry-username",
        "admin",
        "--registry-password",
        "admin-pass",
        "--key",
        &fingerprint,
        "--reason",
        "the release key leaked",
    ]));
    let again = fails(&mut podman_pull(&Store::new(), &image));
    assert!(again.contains("revoked"), "podman's error: {again}");

    // The trace: every step, each proven against a checkpoint verified with the log's key.
    let vkey = run(vouch().args(["ledger", "vkey", "--data"]).arg(&server.data));
    // By digest, and by the image's tag (resolved at the image's registry).
    let by_digest = run(vouch().args([
        "trace",
        "--url",
        &url,
        "--registry-username",
        "deploy",
        "--registry-password",
        "deploy-pass",
        "--vkey",
        vkey.trim(),
        &digest,
    ]));
    let trace = run(vouch().args([
        "trace",
        "--allow-http-registry",
        "--registry-username",
        "deploy",
        "--registry-password",
        "deploy-pass",
        "--vkey",
        vkey.trim(),
        &image,
    ]));
    assert_eq!(trace, by_digest);
    for step in [
        "artifact.pushed",
        "artifact.denied",
        "signature.attached",
        "artifact.admitted",
        "attestation.attached",
        "key.revoked",
        "policy.updated",
        "checkpoint signature verified",
        "signed by key sha256:",
        "the release key leaked",
    ] {
        assert!(trace.contains(step), "no {step:?} in the trace:\n{trace}");
    }
    assert!(!trace.contains("UNPROVEN"), "{trace}");
    assert!(trace.contains("quarantined"), "{trace}");

    // The leaked key replaced without a restart: the policy now names a new key, SIGHUP makes
    // the server read it, and the image signed with the new key is admitted again.
    p256_key_pair(&tmp, "next");
    write_file(
        &tmp.path().join("prod.yaml"),
        "name: prod-signed\nrepositories: [\"prod/**\"]\nbind_repository: true\nauthorities:\n  - name: next\n    key: next.pub\n",
    );
    run(Command::new("kill").args(["-HUP", &server.pid().to_string()]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !server.log().contains("policies reloaded") {
        assert!(
            std::time::Instant::now() < deadline,
            "no reload after SIGHUP:\n{}",
            server.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let still = fails(&mut podman_pull(&Store::new(), &image));
    assert!(
        still.contains("next"),
        "the reason names the new signer: {still}"
    );
    vouch_sign(&tmp.path().join("next.key"), &image);
    run(&mut podman_pull(&Store::new(), &image));

    // `vouch policy reload` asks the same: only administrators; the files are unchanged now.
    let reload = |user: &str, password: &str| {
        vouch()
            .args([
                "policy",
                "reload",
                "--url",
                &url,
                "--registry-username",
                user,
            ])
            .args(["--registry-password", password])
            .output()
            .expect("vouch policy reload runs")
    };
    let refused = reload("deploy", "deploy-pass");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("403"),
        "{refused:?}"
    );
    let unchanged = reload("admin", "admin-pass");
    assert!(unchanged.status.success(), "{unchanged:?}");
    assert!(String::from_utf8_lossy(&unchanged.stderr).contains("unchanged"));
    let in_force = String::from_utf8_lossy(&unchanged.stdout).into_owned();
    assert!(
        in_force.starts_with("prod-signed sha256:") && in_force.contains("(enforce)"),
        "{in_force}"
    );
}
