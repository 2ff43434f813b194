//! `vouch generate-key-pair` and `vouch public-key`: cosign-compatible key files on disk.
//!
//! The private key is written in cosign's encrypted format (`verify::cosign_key`), mode 0600,
//! through a temporary file linked into place so that neither a crash nor a concurrent writer
//! leaves a half-written key or replaces an existing one.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Subcommand, ValueEnum};
use verify::cosign_key::{self, CosignKeyError};
use verify::keys::{KeyKind, PrivateKey};
use zeroize::Zeroizing;

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Write a new key pair: PREFIX.key (cosign's encrypted format) and PREFIX.pub.
    ///
    /// PREFIX.key is written with mode 0600 and never over an existing file. The password comes
    /// from VOUCH_PASSWORD, else COSIGN_PASSWORD, else one line of standard input; empty is
    /// allowed.
    GenerateKeyPair {
        /// Path prefix of the two files.
        #[arg(long, default_value = "cosign")]
        output_key_prefix: String,
        /// Key algorithm.
        #[arg(long, value_enum, default_value_t = Kind::EcdsaP256)]
        kind: Kind,
    },
    /// Print the PEM public key of a private key file.
    ///
    /// Reads cosign's encrypted keys (password as for generate-key-pair) and PKCS#8, SEC1 and
    /// PKCS#1 PEM keys.
    PublicKey {
        /// The private key file.
        #[arg(long)]
        key: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Kind {
    EcdsaP256,
    Ed25519,
}

impl From<Kind> for KeyKind {
    fn from(kind: Kind) -> KeyKind {
        match kind {
            Kind::EcdsaP256 => KeyKind::EcdsaP256,
            Kind::Ed25519 => KeyKind::Ed25519,
        }
    }
}

pub fn run(command: KeyCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeyCommand::GenerateKeyPair {
            output_key_prefix,
            kind,
        } => generate(&output_key_prefix, kind.into()),
        KeyCommand::PublicKey { key } => {
            let key = load(&key)?;
            print!("{}", key.public_key()?.to_pem());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn generate(prefix: &str, kind: KeyKind) -> anyhow::Result<ExitCode> {
    let key_path = PathBuf::from(format!("{prefix}.key"));
    let pub_path = PathBuf::from(format!("{prefix}.pub"));
    // Checked before asking for a password; the link below is what really refuses to replace.
    for path in [&key_path, &pub_path] {
        if fs::symlink_metadata(path).is_ok() {
            bail!(
                "{} already exists; refusing to overwrite it",
                path.display()
            );
        }
    }
    let password = password(true)?;
    let key = PrivateKey::generate(kind)?;
    let encrypted = cosign_key::encrypt_private_key(&key, password.as_bytes())?;
    let public = key.public_key()?.to_pem();
    write_new(&key_path, encrypted.as_bytes(), 0o600)?;
    if let Err(e) = write_new(&pub_path, public.as_bytes(), 0o644) {
        // Leave nothing half done: a retry must not trip over our own private key.
        let _ = fs::remove_file(&key_path);
        return Err(e);
    }
    eprintln!("Private key written to {}", key_path.display());
    eprintln!("Public key written to {}", pub_path.display());
    Ok(ExitCode::SUCCESS)
}

/// Reads a private key file, asking for the password only if the key is encrypted.
pub(crate) fn load(path: &Path) -> anyhow::Result<PrivateKey> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let context = || format!("cannot load the private key {}", path.display());
    match cosign_key::load_private_key(&text, None) {
        Err(CosignKeyError::PasswordRequired) => {
            let password = password(false)?;
            cosign_key::load_private_key(&text, Some(password.as_bytes())).with_context(context)
        }
        other => other.with_context(context),
    }
}

/// The key password: VOUCH_PASSWORD, else COSIGN_PASSWORD (so cosign users' scripts carry
/// over), else one line of standard input. On a terminal the line is read with echo off, and a
/// new password is asked for twice.
fn password(new: bool) -> anyhow::Result<Zeroizing<String>> {
    for var in ["VOUCH_PASSWORD", "COSIGN_PASSWORD"] {
        if let Some(value) = std::env::var_os(var) {
            let value = value
                .into_string()
                .map_err(|_| anyhow::anyhow!("{var} is not valid UTF-8"))?;
            return Ok(Zeroizing::new(value));
        }
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return read_line().context("cannot read the password from standard input");
    }
    let _echo = EchoOff::new();
    let first = prompt("Enter password for private key: ")?;
    if new && *prompt("Enter password for private key again: ")? != *first {
        bail!("passwords do not match");
    }
    Ok(first)
}

fn prompt(text: &str) -> anyhow::Result<Zeroizing<String>> {
    eprint!("{text}");
    let line = read_line().context("cannot read the password from the terminal")?;
    eprintln!();
    Ok(line)
}

/// One line of standard input without its line ending; end of input ends the line.
fn read_line() -> std::io::Result<Zeroizing<String>> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin().lock().read_line(&mut line)?;
    let len = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(len);
    Ok(line)
}

/// Turns terminal echo off with `stty` (no unsafe code here) and back on when dropped. If stty
/// is missing the password is echoed; reading it still works.
struct EchoOff(bool);

impl EchoOff {
    fn new() -> EchoOff {
        EchoOff(stty("-echo"))
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if self.0 {
            stty("echo");
        }
    }
}

fn stty(setting: &str) -> bool {
    std::process::Command::new("stty")
        .arg(setting)
        .stdin(std::process::Stdio::inherit())
        .status()
        .is_ok_and(|s| s.success())
}

/// Writes `bytes` to `path` with `mode`, atomically and never over an existing file: a
/// temporary file in the same directory, synced, then hard-linked into place (which fails if
/// `path` exists, unlike a rename) and the directory synced.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let (dir, tmp) = write_temp(path, bytes, mode)?;
    let result = fs::hard_link(&tmp, path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} already exists; refusing to overwrite it",
                path.display()
            )
        } else {
            anyhow::Error::new(e).context(format!("cannot create {}", path.display()))
        }
    });
    let _ = fs::remove_file(&tmp);
    result?;
    // Best effort: the file is in place either way; this makes its name durable.
    let _ = File::open(dir).and_then(|d| d.sync_all());
    Ok(())
}

/// Writes `bytes` to `path` with `mode`, atomically, replacing any file there: readers see the
/// old file or the new one, never a part. A temporary file in the same directory, synced, then
/// renamed into place and the directory synced.
pub(crate) fn write_replacing(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let (dir, tmp) = write_temp(path, bytes, mode)?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(anyhow::Error::new(e).context(format!("cannot write {}", path.display())));
    }
    let _ = File::open(dir).and_then(|d| d.sync_all());
    Ok(())
}

/// A new, synced temporary file beside `path` holding `bytes`; returns the directory and the
/// temporary file's path. Nothing is left behind if it fails.
fn write_temp(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file name", path.display()))?;
    let mut nonce = [0u8; 8];
    aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut nonce)
        .map_err(|_| anyhow::anyhow!("the OS random source failed"))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        verify::keys::hex(&nonce)
    ));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    if let Err(e) = file.write_all(bytes).and_then(|()| file.sync_all()) {
        let _ = fs::remove_file(&tmp);
        return Err(anyhow::Error::new(e).context(format!("cannot write {}", tmp.display())));
    }
    Ok((dir.to_path_buf(), tmp))
}
