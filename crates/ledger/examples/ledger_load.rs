//! A load generator for `vouch serve`'s `POST /ledger/add`: signed 512-byte `build.recorded`
//! entries from concurrent keep-alive HTTP/1.1 connections, one request in flight on each;
//! prints acknowledged entries per second and latency to the `200` (the entry durable and in a
//! signed checkpoint). It starts nothing itself: `bench/ledger.sh` runs the server.
//!
//! ```text
//! ledger_load keygen DIR        # DIR/ci.key (PKCS#8 PEM) and DIR/ci.pub (SPKI PEM, for vouch.toml)
//! ledger_load run --addr 127.0.0.1:PORT --key DIR/ci.key [--connections 64,256]
//!                 [--seconds 5] [--entries 250000] [--server-pid PID]
//! ```
//! The entries are signed before any timing, on 2 threads, and are distinct across levels and
//! runs (the log answers the same bytes twice as a cheap duplicate). All connections are open
//! before a level starts. The client is deliberately small: a single-threaded tokio runtime and
//! a minimal HTTP/1.1 exchange written for this (the ledger crate has no HTTP client, and the
//! generator shares the machine's cores with the server, so it should cost little); its CPU
//! time is printed, and with `--server-pid` the server's too.
//! Exits non-zero on any answer but `200` with a JSON `index`: a timing of failures would mean
//! nothing.

mod support;

use std::collections::HashSet;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use support::{Latencies, ms, rate};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use verify::keys::{KeyKind, PrivateKey};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("keygen") if args.len() == 2 => keygen(Path::new(&args[1])),
        Some("run") => parse_run(&args[1..]).and_then(|a| run(&a)),
        _ => Err("usage: ledger_load keygen DIR | ledger_load run --addr HOST:PORT --key FILE [--connections 64,256] [--seconds 5] [--entries N] [--server-pid PID]".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ledger_load: {e}");
            ExitCode::FAILURE
        }
    }
}

fn keygen(dir: &Path) -> Result<(), String> {
    let key = PrivateKey::generate(KeyKind::Ed25519).map_err(|e| e.to_string())?;
    let der = key.to_pkcs8_der().map_err(|e| e.to_string())?;
    let public = key.public_key().map_err(|e| e.to_string())?;
    let write = |name: &str, text: &str, mode: u32| {
        let path = dir.join(name);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .map_err(|e| format!("{}: {e}", path.display()))
    };
    write("ci.key", &verify::pem::encode("PRIVATE KEY", &der), 0o600)?;
    write("ci.pub", &public.to_pem(), 0o644)
}

struct RunArgs {
    addr: String,
    key: PathBuf,
    connections: Vec<usize>,
    seconds: f64,
    entries: usize,
    server_pid: Option<u32>,
}

fn parse_run(args: &[String]) -> Result<RunArgs, String> {
    let mut out = RunArgs {
        addr: String::new(),
        key: PathBuf::new(),
        connections: vec![64, 256],
        seconds: 5.0,
        entries: 250_000,
        server_pid: None,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = || format!("{flag}: {value:?}");
        match flag.as_str() {
            "--addr" => out.addr = value.clone(),
            "--key" => out.key = PathBuf::from(value),
            "--seconds" => out.seconds = value.parse().map_err(|_| bad())?,
            "--entries" => out.entries = value.parse().map_err(|_| bad())?,
            "--server-pid" => out.server_pid = Some(value.parse().map_err(|_| bad())?),
            "--connections" => {
                out.connections = value
                    .split(',')
                    .map(|c| c.trim().parse().map_err(|_| bad()))
                    .collect::<Result<_, _>>()?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if out.addr.is_empty() || out.key.as_os_str().is_empty() {
        return Err("run needs --addr and --key".into());
    }
    if out.entries == 0 || out.connections.contains(&0) {
        return Err("--entries and every --connections must be positive".into());
    }
    Ok(out)
}

fn run(args: &RunArgs) -> Result<(), String> {
    let pem =
        std::fs::read_to_string(&args.key).map_err(|e| format!("{}: {e}", args.key.display()))?;
    let key = PrivateKey::from_pem(&pem).map_err(|e| format!("{}: {e}", args.key.display()))?;
    // Distinct from every earlier run against the same ledger.
    let run_id = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let started = Instant::now();
    let entries = Arc::new(support::sign_entries(&key, run_id, args.entries, 2));
    println!(
        "signed {} entries of {} bytes in {:.2} s on 2 threads, before any timing",
        entries.len(),
        support::ENTRY_BYTES,
        started.elapsed().as_secs_f64()
    );
    let public = key.public_key().map_err(|e| e.to_string())?;
    let ed25519 = support::ed25519_verify_rate(&entries, &public, Duration::from_secs(1));
    println!(
        "Ed25519 verifications on one core: {}/s (the 2-core ceiling: {}/s)",
        rate(ed25519),
        rate(2.0 * ed25519)
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let next = Arc::new(AtomicUsize::new(0));
    let mut results = Vec::new();
    for &connections in &args.connections {
        let before = sched(args.server_pid);
        let level = runtime.block_on(level(
            &args.addr,
            &entries,
            &next,
            connections,
            Duration::from_secs_f64(args.seconds),
        ))?;
        let secs = level.elapsed.as_secs_f64();
        let after = sched(args.server_pid);
        let client = after.0 - before.0;
        let server = after.1.zip(before.1).map(|(a, b)| a - b);
        let n = level.latencies.len();
        println!(
            "{connections:>5} connections: {n} acknowledged in {secs:.2} s{} = {}/s; latency {}",
            if level.exhausted {
                " (all signed entries used)"
            } else {
                ""
            },
            rate(n as f64 / secs),
            level.latencies.summary()
        );
        let per_entry = |cpu: f64| 1e6 * cpu / n.max(1) as f64;
        if let Some(s) = server {
            println!(
                "        CPU: server {:.0}% of a core ({:.1} µs an entry; runnable but waiting for a CPU {:.0}% of the run, summed over its threads)",
                100.0 * s.cpu / secs,
                per_entry(s.cpu),
                100.0 * s.waiting / secs
            );
        }
        println!(
            "        CPU: load generator {:.0}% of a core ({:.1} µs an entry)",
            100.0 * client.cpu / secs,
            per_entry(client.cpu)
        );
        results.push((connections, n as f64 / secs, level.latencies));
    }
    println!();
    println!("summary (over HTTP, keep-alive, durable: every 200 waited for fdatasync):");
    println!(
        "  {:>11} {:>12} {:>10} {:>10} {:>10} {:>20}",
        "connections", "entries/s", "p50", "p99", "max", "of 2-core Ed25519"
    );
    for (c, r, l) in &results {
        println!(
            "  {:>11} {:>12} {:>10} {:>10} {:>10} {:>19.1}%",
            c,
            format!("{r:.0}"),
            ms(l.percentile(50.0)),
            ms(l.percentile(99.0)),
            ms(l.max()),
            100.0 * r / (2.0 * ed25519)
        );
    }
    let total: usize = results.iter().map(|(_, _, l)| l.len()).sum();
    println!("  {total} entries acknowledged in all");
    if let Some((c, r, l)) = results.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
        let p99 = l.percentile(99.0);
        println!(
            "  goal: >= 5000 entries/s over HTTP: {r:.0}/s (best, {c} connections): {}",
            if *r >= 5000.0 { "ok" } else { "MISSED" }
        );
        println!(
            "  goal: p99 < 60 ms: {} at {c} connections: {}",
            ms(p99),
            if p99 < 60_000 { "ok" } else { "MISSED" }
        );
    }
    Ok(())
}

struct LevelResult {
    latencies: Latencies,
    elapsed: Duration,
    exhausted: bool,
}

/// Submits from `connections` connections, taking entries at `next`, for `duration` or until
/// the entries run out.
async fn level(
    addr: &str,
    entries: &Arc<Vec<Vec<u8>>>,
    next: &Arc<AtomicUsize>,
    connections: usize,
    duration: Duration,
) -> Result<LevelResult, String> {
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        conns.push(Conn::open(addr).await?);
    }
    let start = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let entries = Arc::clone(entries);
            let next = Arc::clone(next);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut indexes = Vec::new();
                loop {
                    if start.elapsed() >= duration {
                        return Ok::<_, String>((latencies, indexes));
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(entry) = entries.get(i) else {
                        return Ok((latencies, indexes));
                    };
                    let t0 = Instant::now();
                    let (status, body) = conn.post("/ledger/add", entry).await?;
                    latencies.push(t0.elapsed().as_micros() as u64);
                    let index = (status == 200)
                        .then(|| serde_json::from_slice::<serde_json::Value>(&body).ok())
                        .flatten()
                        .and_then(|v| v.get("index").and_then(serde_json::Value::as_u64));
                    match index {
                        Some(index) => indexes.push(index),
                        None => {
                            return Err(format!(
                                "entry {i}: {status} {}",
                                String::from_utf8_lossy(&body[..body.len().min(300)])
                            ));
                        }
                    }
                }
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut seen = HashSet::new();
    for t in tasks {
        let (l, indexes) = t.await.map_err(|e| e.to_string())??;
        latencies.extend(l);
        for i in indexes {
            if !seen.insert(i) {
                return Err(format!("index {i} was acknowledged twice"));
            }
        }
    }
    let elapsed = start.elapsed();
    Ok(LevelResult {
        latencies: Latencies::new(latencies),
        elapsed,
        exhausted: next.load(Ordering::Relaxed) >= entries.len(),
    })
}

/// One keep-alive HTTP/1.1 connection, one request at a time.
struct Conn {
    stream: TcpStream,
    host: String,
    /// Bytes read and not yet consumed.
    buf: Vec<u8>,
    request: Vec<u8>,
}

/// The longest response head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// The longest response body accepted.
const MAX_BODY: usize = 1 << 20;

impl Conn {
    async fn open(addr: &str) -> Result<Conn, String> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        // Each request is one write; without this, Nagle would hold the next one back.
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Conn {
            stream,
            host: addr.to_owned(),
            buf: Vec::with_capacity(4096),
            request: Vec::with_capacity(1024),
        })
    }

    /// Sends `body` to `path`; returns the status and the body of the answer.
    async fn post(&mut self, path: &str, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
        self.request.clear();
        self.request.extend_from_slice(
            format!(
                "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                self.host,
                body.len()
            )
            .as_bytes(),
        );
        self.request.extend_from_slice(body);
        self.stream
            .write_all(&self.request)
            .await
            .map_err(|e| format!("write: {e}"))?;
        self.read_response().await
    }

    async fn fill(&mut self) -> Result<(), String> {
        let mut chunk = [0u8; 4096];
        let n = self
            .stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    async fn read_response(&mut self) -> Result<(u16, Vec<u8>), String> {
        let head_end = loop {
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if self.buf.len() > MAX_HEAD {
                return Err("a response head over 16 KiB".into());
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| "a response head that is not UTF-8".to_owned())?
            .to_owned();
        self.buf.drain(..head_end);
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.strip_prefix("HTTP/1.1 "))
            .and_then(|l| l.get(..3))
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| format!("not an HTTP/1.1 status line: {head:?}"))?;
        let mut length = None;
        let mut chunked = false;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(
                    value
                        .parse::<usize>()
                        .map_err(|_| format!("content-length {value:?}"))?,
                );
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.eq_ignore_ascii_case("chunked");
            } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close")
            {
                return Err("the server is closing the connection (connection: close)".into());
            }
        }
        let body = if chunked {
            self.read_chunked().await?
        } else {
            let length = length.unwrap_or(0);
            if length > MAX_BODY {
                return Err(format!("a {length}-byte response body"));
            }
            while self.buf.len() < length {
                self.fill().await?;
            }
            self.buf.drain(..length).collect()
        };
        Ok((status, body))
    }

    async fn read_chunked(&mut self) -> Result<Vec<u8>, String> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                    break at;
                }
                self.fill().await?;
            };
            let size_text = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
            let size_hex = size_text.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|_| format!("a chunk size {size_text:?}"))?;
            self.buf.drain(..line_end + 2);
            if body.len() + size > MAX_BODY {
                return Err("a response body over 1 MiB".into());
            }
            // The chunk and its CRLF (or, after the last chunk, the empty trailer's CRLF).
            while self.buf.len() < size + 2 {
                self.fill().await?;
            }
            body.extend(self.buf.drain(..size));
            self.buf.drain(..2);
            if size == 0 {
                return Ok(body);
            }
        }
    }
}

/// This process's time on a CPU and waiting for one, and the server's if its PID is known.
fn sched(server: Option<u32>) -> (support::Sched, Option<support::Sched>) {
    let own = support::thread_sched(std::process::id(), &[""])[0];
    (own, server.map(|pid| support::thread_sched(pid, &[""])[0]))
}
