//! Shared harness: start `vouch serve` on a free loopback port, talk HTTP without extra
//! dependencies, find required tools.

#![allow(dead_code)] // each test module uses a different part of the harness

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn vouch() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vouch"))
}

/// The path of a tool the test needs. Tests never skip: a missing tool is a failure that says
/// how to install it.
pub fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("{name} is not installed; run .ci/install (it installs every tool the tests use)");
}

/// A running `vouch serve`, stopped when dropped.
pub struct Server {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub data: PathBuf,
    log: Arc<Mutex<String>>,
    _dir: Option<tempfile::TempDir>,
}

#[derive(Default)]
pub struct ServerOptions {
    /// A configuration file to pass with --config.
    pub config: Option<PathBuf>,
    /// Reuse a data directory (to test restarts); otherwise a fresh temporary one.
    pub data: Option<PathBuf>,
    pub extra_args: Vec<String>,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(ServerOptions::default())
    }

    pub fn start_with(opts: ServerOptions) -> Server {
        let (dir, data) = match opts.data {
            Some(d) => (None, d),
            None => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let data = dir.path().join("data");
                (Some(dir), data)
            }
        };
        let mut cmd = vouch();
        cmd.args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--data",
        ])
        .arg(&data)
        .args(&opts.extra_args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        if let Some(c) = &opts.config {
            cmd.arg("--config").arg(c);
        }
        let mut child = cmd.spawn().expect("spawn vouch serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                let mut sent = false;
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if !sent
                        && line.contains("vouch registry listening")
                        && let Some(addr) = json_field(&line, "addr")
                    {
                        let _ = tx.send(addr);
                        sent = true;
                    }
                    let mut l = log.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a.parse().expect("listen address"),
            Err(_) => {
                let _ = child.kill();
                panic!("vouch serve did not start:\n{}", log.lock().unwrap());
            }
        };
        Server {
            child: Some(child),
            addr,
            data,
            log,
            _dir: dir,
        }
    }

    /// `127.0.0.1:PORT`, as clients want the registry host.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then wait for a graceful exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut c = self.child.take().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = c.try_wait().expect("wait") {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "vouch did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The value of a string field in one JSON log line (the harness needs no JSON parser for it).
fn json_field(line: &str, key: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    v.get("fields")?.get(key)?.as_str().map(str::to_owned)
}

/// A response as the tests need it.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`).
pub fn http(
    method: &str,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || matches!(method, "PUT" | "POST" | "PATCH") {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let body = if method == "HEAD" {
        Vec::new()
    } else {
        raw[split + 4..].to_vec()
    };
    Response {
        status,
        headers,
        body,
    }
}

/// Runs a command, failing the test with its output if it does not succeed.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A bcrypt hash of `password` made by the binary itself (`vouch hash-password`), cost 4 to
/// keep tests fast.
pub fn bcrypt_hash(password: &str) -> String {
    let out = vouch()
        .args(["hash-password", "--cost", "4"])
        .env("VOUCH_PASSWORD", password)
        .output()
        .expect("run vouch hash-password");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

pub fn write_file(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------------------------------------
// CNCF Distribution

#[derive(Default)]
pub struct DistOptions {
    /// (certificate, key) to serve HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// (realm, rootcertbundle) for token auth.
    pub token: Option<(String, PathBuf)>,
}

/// A running `docker-registry serve`, killed when dropped.
pub struct Distribution {
    child: Child,
    pub host: String,
    _dir: tempfile::TempDir,
}

impl Distribution {
    pub fn start(opts: DistOptions) -> Distribution {
        let binary = tool("docker-registry");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n",
            dir.path().join("data").display()
        );
        if let Some((cert, key)) = &opts.tls {
            yaml.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            ));
        }
        if let Some((realm, bundle)) = &opts.token {
            yaml.push_str(&format!(
                "auth:\n  token:\n    realm: {realm}\n    service: vouch-test-registry\n    issuer: vouch-test-issuer\n    rootcertbundle: {}\n",
                bundle.display()
            ));
        }
        let config = dir.path().join("config.yml");
        write_file(&config, &yaml);
        let log = dir.path().join("registry.log");
        let mut child = Command::new(binary)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn docker-registry");
        let addr: SocketAddr = host.parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(addr).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "docker-registry exited ({status}):\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen on {host}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Distribution {
            child,
            host,
            _dir: dir,
        }
    }
}

impl Drop for Distribution {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
