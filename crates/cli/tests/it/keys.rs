//! `vouch generate-key-pair` and `vouch public-key`: the files, their modes and labels,
//! passwords from the environment and standard input, refusal to overwrite, and interop with
//! Python's `cryptography` (public key, signatures) and PyNaCl (an independent decryption of
//! the encrypted private key).

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use verify::cosign_key;

use crate::common::*;

/// `vouch ARGS` in `dir` with no password variables set unless given, `stdin` as its input.
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Output {
    let mut cmd = vouch();
    cmd.current_dir(dir)
        .args(args)
        .env_remove("VOUCH_PASSWORD")
        .env_remove("COSIGN_PASSWORD")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn vouch");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("wait for vouch")
}

fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Exit code 2 and one line on standard error, which is returned.
fn assert_error(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    err
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/signing/sigstore-rs/keys")
        .join(name)
}

#[test]
fn generate_key_pair_writes_a_cosign_key_and_its_public_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["generate-key-pair", "--output-key-prefix", "signer"],
        &[("VOUCH_PASSWORD", "hunter2")],
        b"",
    );
    assert_ok(&out);
    assert_eq!(names(dir.path()), ["signer.key", "signer.pub"]);
    let key_path = dir.path().join("signer.key");
    let pub_path = dir.path().join("signer.pub");
    assert_eq!(mode(&key_path), 0o600);
    assert_eq!(mode(&pub_path) & 0o622, 0o600, "{:o}", mode(&pub_path));
    let key_text = read(&key_path);
    let pub_text = read(&pub_path);
    assert!(key_text.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
    assert!(key_text.ends_with("-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
    assert!(pub_text.starts_with("-----BEGIN PUBLIC KEY-----\n"));

    // The key decrypts with the password, to the key in signer.pub, and not without it.
    let key = cosign_key::load_private_key(&key_text, Some(b"hunter2")).unwrap();
    assert_eq!(key.kind(), verify::keys::KeyKind::EcdsaP256);
    assert_eq!(key.public_key().unwrap().to_pem(), pub_text);
    assert!(matches!(
        cosign_key::load_private_key(&key_text, Some(b"hunter3")),
        Err(cosign_key::CosignKeyError::WrongPassword)
    ));
    assert!(matches!(
        cosign_key::load_private_key(&key_text, None),
        Err(cosign_key::CosignKeyError::PasswordRequired)
    ));

    // public-key prints signer.pub, given the password; a wrong one is a one-line error.
    let out = run(
        dir.path(),
        &["public-key", "--key", "signer.key"],
        &[("VOUCH_PASSWORD", "hunter2")],
        b"",
    );
    assert_ok(&out);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), pub_text);
    let out = run(
        dir.path(),
        &["public-key", "--key", "signer.key"],
        &[("VOUCH_PASSWORD", "hunter3")],
        b"",
    );
    let err = assert_error(&out);
    assert!(err.contains("wrong password"), "{err}");
    assert!(out.stdout.is_empty());
    // No variable and empty standard input is the empty password, which is not this one.
    let err = assert_error(&run(
        dir.path(),
        &["public-key", "--key", "signer.key"],
        &[],
        b"",
    ));
    assert!(err.contains("wrong password"), "{err}");
}

#[test]
fn refuses_to_overwrite_either_file() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("VOUCH_PASSWORD", "pw")];
    assert_ok(&run(dir.path(), &["generate-key-pair"], &env, b""));
    // The default prefix is cosign's.
    assert_eq!(names(dir.path()), ["cosign.key", "cosign.pub"]);
    let key_before = read(&dir.path().join("cosign.key"));
    let pub_before = read(&dir.path().join("cosign.pub"));
    let err = assert_error(&run(dir.path(), &["generate-key-pair"], &env, b""));
    assert!(err.contains("cosign.key already exists"), "{err}");
    assert_eq!(read(&dir.path().join("cosign.key")), key_before);
    assert_eq!(read(&dir.path().join("cosign.pub")), pub_before);

    // A public key alone is enough to refuse, and no private key is left behind.
    std::fs::write(dir.path().join("other.pub"), "mine").unwrap();
    let err = assert_error(&run(
        dir.path(),
        &["generate-key-pair", "--output-key-prefix", "other"],
        &env,
        b"",
    ));
    assert!(err.contains("other.pub already exists"), "{err}");
    assert_eq!(read(&dir.path().join("other.pub")), "mine");
    assert_eq!(names(dir.path()), ["cosign.key", "cosign.pub", "other.pub"]);
}

#[test]
fn passwords_from_each_source_including_empty() {
    let dir = tempfile::tempdir().unwrap();
    /// Where the password comes from, and what it then is.
    struct Case {
        prefix: &'static str,
        env: &'static [(&'static str, &'static str)],
        stdin: &'static [u8],
        password: &'static [u8],
    }
    let cases = [
        Case {
            prefix: "empty",
            env: &[("VOUCH_PASSWORD", "")],
            stdin: b"ignored\n",
            password: b"",
        },
        Case {
            prefix: "cosign-env",
            env: &[("COSIGN_PASSWORD", "from cosign")],
            stdin: b"",
            password: b"from cosign",
        },
        Case {
            prefix: "both-env",
            env: &[("VOUCH_PASSWORD", "vouch wins"), ("COSIGN_PASSWORD", "no")],
            stdin: b"",
            password: b"vouch wins",
        },
        Case {
            prefix: "stdin",
            env: &[],
            stdin: b"typed in\nsecond line\n",
            password: b"typed in",
        },
    ];
    for Case {
        prefix,
        env,
        stdin,
        password,
    } in cases
    {
        let out = run(
            dir.path(),
            &["generate-key-pair", "--output-key-prefix", prefix],
            env,
            stdin,
        );
        assert_ok(&out);
        let text = read(&dir.path().join(format!("{prefix}.key")));
        let key = cosign_key::load_private_key(&text, Some(password))
            .unwrap_or_else(|e| panic!("{prefix}: {e}"));
        assert_eq!(
            key.public_key().unwrap().to_pem(),
            read(&dir.path().join(format!("{prefix}.pub"))),
            "{prefix}"
        );
    }
    // The empty-password key reads back through the binary with an empty standard input.
    let out = run(dir.path(), &["public-key", "--key", "empty.key"], &[], b"");
    assert_ok(&out);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        read(&dir.path().join("empty.pub"))
    );
    let err = assert_error(&run(
        dir.path(),
        &["public-key", "--key", "empty.key"],
        &[("VOUCH_PASSWORD", "x")],
        b"",
    ));
    assert!(err.contains("wrong password"), "{err}");
}

#[test]
fn public_key_reads_cosign_and_plaintext_keys() {
    let dir = tempfile::tempdir().unwrap();
    for (name, password) in [
        ("ecdsa_encrypted_private.key", Some("123")),
        ("ed25519_encrypted_private.key", Some("123")),
        ("rsa_encrypted_private.key", Some("123")),
        ("cosign_generated_encrypted_empty_private.key", Some("")),
        ("ecdsa_private.key", None),
        ("ed25519_private.key", None),
        ("rsa_private.key", None),
    ] {
        let path = fixture(name);
        let env: Vec<(&str, &str)> = password
            .map(|p| ("VOUCH_PASSWORD", p))
            .into_iter()
            .collect();
        let out = run(
            dir.path(),
            &["public-key", "--key", path.to_str().unwrap()],
            &env,
            b"",
        );
        assert_ok(&out);
        let printed = String::from_utf8(out.stdout).unwrap();
        let expected = cosign_key::load_private_key(&read(&path), password.map(str::as_bytes))
            .unwrap()
            .public_key()
            .unwrap()
            .to_pem();
        assert_eq!(printed, expected, "{name}");
    }
    let err = assert_error(&run(
        dir.path(),
        &["public-key", "--key", "no-such.key"],
        &[],
        b"",
    ));
    assert!(err.contains("no-such.key"), "{err}");
}

#[test]
fn unknown_kind_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["generate-key-pair", "--kind", "rsa-512"],
        &[("VOUCH_PASSWORD", "")],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(names(dir.path()).is_empty());
}

/// Python checks our files with libraries that share no code with vouch: `cryptography`
/// loads P.pub and verifies a signature our key made; `hashlib.scrypt` and PyNaCl's
/// `SecretBox` decrypt P.key to a PKCS#8 key whose public half is P.pub.
const PYTHON_CHECK: &str = r#"
import base64, hashlib, json, sys
from nacl.secret import SecretBox
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

key_path, pub_path, message_path, signature_path, password = sys.argv[1:6]
public = serialization.load_pem_public_key(open(pub_path, "rb").read())
message = open(message_path, "rb").read()
signature = open(signature_path, "rb").read()
if isinstance(public, ec.EllipticCurvePublicKey):
    assert public.curve.name == "secp256r1", public.curve.name
    public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    kind = "ecdsa-p256"
else:
    assert isinstance(public, ed25519.Ed25519PublicKey), type(public)
    public.verify(signature, message)
    kind = "ed25519"

lines = open(key_path).read().strip().splitlines()
assert lines[0] == "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----", lines[0]
assert lines[-1] == "-----END ENCRYPTED SIGSTORE PRIVATE KEY-----", lines[-1]
body = json.loads(base64.b64decode("".join(lines[1:-1])))
assert body["kdf"]["name"] == "scrypt" and body["cipher"]["name"] == "nacl/secretbox", body
params = body["kdf"]["params"]
key = hashlib.scrypt(
    password.encode(),
    salt=base64.b64decode(body["kdf"]["salt"]),
    n=params["N"], r=params["r"], p=params["p"],
    maxmem=512 * 1024 * 1024, dklen=32,
)
der = SecretBox(key).decrypt(
    base64.b64decode(body["ciphertext"]), base64.b64decode(body["cipher"]["nonce"])
)
private = serialization.load_der_private_key(der, password=None)
spki = serialization.PublicFormat.SubjectPublicKeyInfo
encoding = serialization.Encoding.DER
assert private.public_key().public_bytes(encoding, spki) == public.public_bytes(encoding, spki)
print(kind, "ok")
"#;

#[test]
fn python_cryptography_verifies_our_signature_and_pynacl_decrypts_our_key() {
    let python = tool("python3");
    let dir = tempfile::tempdir().unwrap();
    let password = "pässword with spaces";
    for kind in ["ecdsa-p256", "ed25519"] {
        let out = run(
            dir.path(),
            &[
                "generate-key-pair",
                "--output-key-prefix",
                kind,
                "--kind",
                kind,
            ],
            &[("VOUCH_PASSWORD", password)],
            b"",
        );
        assert_ok(&out);
        let key_path = dir.path().join(format!("{kind}.key"));
        let key =
            cosign_key::load_private_key(&read(&key_path), Some(password.as_bytes())).unwrap();
        let message = format!("bytes signed by a {kind} key made by vouch\n");
        let message_path = dir.path().join(format!("{kind}.txt"));
        let signature_path = dir.path().join(format!("{kind}.sig"));
        std::fs::write(&message_path, &message).unwrap();
        std::fs::write(&signature_path, key.sign(message.as_bytes()).unwrap()).unwrap();
        let out = Command::new(&python)
            .arg("-c")
            .arg(PYTHON_CHECK)
            .arg(&key_path)
            .arg(dir.path().join(format!("{kind}.pub")))
            .arg(&message_path)
            .arg(&signature_path)
            .arg(password)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("ModuleNotFoundError"),
            "a Python package is missing; run .ci/install (it installs cryptography and pynacl): {stderr}"
        );
        assert!(out.status.success(), "{kind}: {stderr}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("{kind} ok")
        );

        // And the check has teeth: a signature over other bytes fails in Python.
        std::fs::write(&message_path, "other bytes").unwrap();
        let out = Command::new(&python)
            .arg("-c")
            .arg(PYTHON_CHECK)
            .arg(&key_path)
            .arg(dir.path().join(format!("{kind}.pub")))
            .arg(&message_path)
            .arg(&signature_path)
            .arg(password)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{kind}: a bad signature verified");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("InvalidSignature"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
