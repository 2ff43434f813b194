//! Durability: restarts, kill -9 during pushes, garbage collection under concurrent pushes, upload expiry.
//!
//! Every test drives the real `vouch` binary over plain HTTP with a small client of its own
//! (fallible, so a server killed mid-request is an outcome rather than a panic, and streaming,
//! so large blobs are never held in memory). What the server acknowledged is recorded, and
//! after each crash or restart it is checked three ways: through the API (acknowledged objects
//! come back byte for byte), by walking everything the server says it stores (every manifest's
//! blobs are served and hash to their digests), and on disk (every file under `blobs/` hashes to
//! its name). Random choices come from a seed printed at the start of each test.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::common::*;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
const MIB: u64 = 1 << 20;
/// Longest any single wait in these tests may take before it counts as a hang.
const PATIENCE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Randomness

/// xorshift64*: small, deterministic, good enough to pick timings, sizes and bytes.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        v
    }

    fn fork(&mut self) -> Rng {
        Rng::new(self.next())
    }
}

/// The seed for a test: `VOUCH_TEST_SEED` if set, else the clock. Printed so a failure can be
/// replayed (the choices replay; the timing of a kill cannot).
fn seeded(test: &str) -> Rng {
    let seed = std::env::var("VOUCH_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("{test}: VOUCH_TEST_SEED={seed}");
    Rng::new(seed)
}

// ---------------------------------------------------------------------------------------------
// Digests

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hasher(digest: &str) -> aws_lc_rs::digest::Context {
    if digest.starts_with("sha512:") {
        aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA512)
    } else {
        aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256)
    }
}

fn finish(alg: &str, ctx: aws_lc_rs::digest::Context) -> String {
    format!("{alg}:{}", hex(ctx.finish().as_ref()))
}

fn sha256(data: &[u8]) -> String {
    format!(
        "sha256:{}",
        hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref())
    )
}

fn sha512(data: &[u8]) -> String {
    format!(
        "sha512:{}",
        hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, data).as_ref())
    )
}

// ---------------------------------------------------------------------------------------------
// A fallible, streaming HTTP/1.1 client (one connection per request)

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    stream.set_read_timeout(Some(PATIENCE))?;
    stream.set_write_timeout(Some(PATIENCE))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

fn send_head(
    stream: &mut TcpStream,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    length: Option<u64>,
) -> io::Result<()> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(n) = length {
        head.push_str(&format!("Content-Length: {n}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())
}

/// Reads a response. With `hash`, the body is hashed as it arrives instead of kept; the second
/// value is how many body bytes were read.
fn read_response(
    stream: TcpStream,
    method: &str,
    mut hash: Option<&mut aws_lc_rs::digest::Context>,
) -> io::Result<(Response, u64)> {
    let mut reader = BufReader::with_capacity(1 << 16, stream);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before a response",
        ));
    }
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("status {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<u64>().ok());
    let mut body = Vec::new();
    let mut read = 0u64;
    if method != "HEAD" && status != 204 && status != 304 {
        match (&mut hash, length) {
            (Some(ctx), _) => {
                let mut limited = reader.take(length.unwrap_or(u64::MAX));
                let mut buf = vec![0u8; 1 << 18];
                loop {
                    let n = limited.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    ctx.update(&buf[..n]);
                    read += n as u64;
                }
            }
            (None, Some(n)) => {
                body.resize(n as usize, 0);
                reader.read_exact(&mut body)?;
                read = n;
            }
            (None, None) => {
                read = reader.read_to_end(&mut body)? as u64;
            }
        }
        if let Some(n) = length
            && read != n
        {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("body ended after {read} of {n} bytes"),
            ));
        }
    }
    Ok((
        Response {
            status,
            headers,
            body,
        },
        read,
    ))
}

/// One request with a body in memory. An `Err` means the server is gone (or went mid-request).
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Response> {
    let mut stream = connect(addr)?;
    let length = (!body.is_empty() || matches!(method, "PUT" | "POST" | "PATCH"))
        .then_some(body.len() as u64);
    send_head(&mut stream, addr, method, path, headers, length)?;
    stream.write_all(body)?;
    Ok(read_response(stream, method, None)?.0)
}

/// GETs `path`, hashing the body as it streams in. Returns the response (without its body),
/// the body's length and its digest (under the algorithm of `digest`).
fn fetch_hashed(addr: SocketAddr, path: &str, digest: &str) -> io::Result<(Response, u64, String)> {
    let mut stream = connect(addr)?;
    send_head(&mut stream, addr, "GET", path, &[], None)?;
    let mut ctx = hasher(digest);
    let (r, n) = read_response(stream, "GET", Some(&mut ctx))?;
    let alg = digest.split(':').next().unwrap_or("sha256");
    Ok((r, n, finish(alg, ctx)))
}

/// The spec's error code in a JSON error body, if there is one.
fn error_code(r: &Response) -> String {
    serde_json::from_slice::<serde_json::Value>(&r.body)
        .ok()
        .and_then(|v| v["errors"][0]["code"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn describe(r: &Response) -> String {
    format!("{} {}", r.status, String::from_utf8_lossy(&r.body))
}

// ---------------------------------------------------------------------------------------------
// Large blobs generated on the fly

/// A blob too large to hold: 1 MiB chunks of one random block, each stamped with its index.
struct Big {
    block: Vec<u8>,
    len: u64,
}

impl Big {
    fn new(rng: &mut Rng, len: u64) -> Big {
        Big {
            block: rng.bytes(MIB as usize),
            len,
        }
    }

    fn chunks(&self) -> u64 {
        self.len.div_ceil(MIB)
    }

    fn chunk<'b>(&self, i: u64, buf: &'b mut Vec<u8>) -> &'b [u8] {
        let n = MIB.min(self.len - i * MIB) as usize;
        buf.clear();
        buf.extend_from_slice(&self.block[..n]);
        let stamp = i.to_le_bytes();
        let k = stamp.len().min(n);
        buf[..k].copy_from_slice(&stamp[..k]);
        buf
    }

    fn byte_len(&self, chunks: std::ops::Range<u64>) -> u64 {
        chunks.map(|i| MIB.min(self.len - i * MIB)).sum()
    }

    fn digest(&self) -> String {
        let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        let mut buf = Vec::new();
        for i in 0..self.chunks() {
            ctx.update(self.chunk(i, &mut buf));
        }
        finish("sha256", ctx)
    }
}

/// Sends `chunks` of `big` as the body of one request, counting bytes into `progress`.
fn upload_big(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    big: &Big,
    chunks: std::ops::Range<u64>,
    progress: &AtomicU64,
) -> io::Result<Response> {
    let mut stream = connect(addr)?;
    let length = big.byte_len(chunks.clone());
    send_head(&mut stream, addr, method, path, headers, Some(length))?;
    let mut buf = Vec::with_capacity(MIB as usize);
    for i in chunks {
        let chunk = big.chunk(i, &mut buf);
        stream.write_all(chunk)?;
        progress.fetch_add(chunk.len() as u64, Ordering::SeqCst);
    }
    Ok(read_response(stream, method, None)?.0)
}

// ---------------------------------------------------------------------------------------------
// Images and pushes

#[derive(Clone, Debug)]
struct Blob {
    digest: String,
    data: Arc<[u8]>,
}

impl Blob {
    fn new(data: Vec<u8>) -> Blob {
        Blob {
            digest: sha256(&data),
            data: data.into(),
        }
    }
}

#[derive(Clone, Debug)]
struct Image {
    repo: String,
    tag: String,
    digest: String,
    manifest: Vec<u8>,
    /// The config first, then the layers.
    blobs: Vec<Blob>,
}

fn descriptor(media_type: &str, blob: &Blob) -> serde_json::Value {
    serde_json::json!({ "mediaType": media_type, "digest": blob.digest, "size": blob.data.len() })
}

fn image_of(repo: &str, tag: &str, config: Blob, layers: Vec<Blob>) -> Image {
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, &config),
        "layers": layers.iter().map(|l| descriptor(OCI_LAYER, l)).collect::<Vec<_>>(),
    }))
    .unwrap();
    let mut blobs = vec![config];
    blobs.extend(layers);
    Image {
        repo: repo.to_owned(),
        tag: tag.to_owned(),
        digest: sha256(&manifest),
        manifest,
        blobs,
    }
}

fn config_blob(rng: &mut Rng) -> Blob {
    Blob::new(
        format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"nonce":"{:016x}{:016x}"}}"#,
            rng.next(),
            rng.next()
        )
        .into_bytes(),
    )
}

/// A fresh image: a unique config, `shared` (if any) and one or two new layers, mostly small,
/// sometimes larger than the server's read chunk so that downloads stream.
fn make_image(rng: &mut Rng, repo: &str, tag: &str, shared: Option<&Blob>) -> Image {
    let config = config_blob(rng);
    let mut layers: Vec<Blob> = shared.into_iter().cloned().collect();
    for _ in 0..rng.range(1, 3) {
        let size = if rng.below(6) == 0 {
            rng.range(300_000, 700_000)
        } else {
            rng.range(1, 40_000)
        };
        layers.push(Blob::new(rng.bytes(size as usize)));
    }
    image_of(repo, tag, config, layers)
}

/// Why a push did not complete.
enum Failure {
    /// The connection failed: the server is down or died mid-request.
    Down(io::Error),
    /// The server answered, but not with success.
    Refused(Response),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Down(e) => write!(f, "connection failed: {e}"),
            Failure::Refused(r) => write!(f, "refused: {}", describe(r)),
        }
    }
}

/// Readable in `unwrap` panics too (the body as text, not as a byte list).
impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Down(e)
    }
}

fn expect_status(r: Response, status: u16) -> Result<Response, Failure> {
    if r.status == status {
        Ok(r)
    } else {
        Err(Failure::Refused(r))
    }
}

#[derive(Clone, Copy, Debug)]
enum Upload {
    /// `POST ?digest=` with the whole blob.
    Monolithic,
    /// `POST`, then `PUT ?digest=` with the whole blob.
    Session,
    /// `POST`, `PATCH` chunks with `Content-Range`, then an empty `PUT ?digest=`.
    Chunked,
}

impl Upload {
    fn pick(rng: &mut Rng) -> Upload {
        [Upload::Monolithic, Upload::Session, Upload::Chunked][rng.below(3) as usize]
    }
}

/// An upload session that has not finished: where it is and how many bytes it acknowledged.
#[derive(Clone, Debug, Default)]
struct OpenSession {
    location: String,
    acked: u64,
    /// The final PUT was sent (its outcome unknown if the server died).
    finishing: bool,
}

fn start_session(addr: SocketAddr, repo: &str) -> Result<String, Failure> {
    let r = request(
        addr,
        "POST",
        &format!("/v2/{repo}/blobs/uploads/"),
        &[],
        b"",
    )?;
    let r = expect_status(r, 202)?;
    let location = r.header("Location").unwrap_or_default().to_owned();
    assert!(location.starts_with("/v2/"), "Location {location:?}");
    Ok(location)
}

fn patch(addr: SocketAddr, location: &str, start: u64, bytes: &[u8]) -> Result<Response, Failure> {
    let range = format!("{start}-{}", start + bytes.len() as u64 - 1);
    let r = request(
        addr,
        "PATCH",
        location,
        &[
            ("Content-Type", "application/octet-stream"),
            ("Content-Range", &range),
        ],
        bytes,
    )?;
    expect_status(r, 202)
}

/// Uploads `blob` into `repo`. `open` tracks a session while it is unfinished.
fn upload_blob(
    addr: SocketAddr,
    repo: &str,
    blob: &Blob,
    how: Upload,
    rng: &mut Rng,
    open: &mut Option<OpenSession>,
) -> Result<(), Failure> {
    let r = match how {
        Upload::Monolithic => request(
            addr,
            "POST",
            &format!("/v2/{repo}/blobs/uploads/?digest={}", blob.digest),
            &[("Content-Type", "application/octet-stream")],
            &blob.data,
        )?,
        Upload::Session | Upload::Chunked => {
            let location = start_session(addr, repo)?;
            *open = Some(OpenSession {
                location: location.clone(),
                ..OpenSession::default()
            });
            let mut body: &[u8] = &blob.data;
            if let Upload::Chunked = how {
                let mut at = 0usize;
                let pieces = rng.range(1, 4);
                for i in 0..pieces {
                    let end = if i + 1 == pieces {
                        blob.data.len()
                    } else {
                        rng.range(at as u64, blob.data.len() as u64 + 1) as usize
                    };
                    if end > at {
                        patch(addr, &location, at as u64, &blob.data[at..end])?;
                        at = end;
                        if let Some(o) = open.as_mut() {
                            o.acked = at as u64;
                        }
                    }
                }
                body = b"";
            }
            if let Some(o) = open.as_mut() {
                o.finishing = true;
            }
            request(
                addr,
                "PUT",
                &format!("{location}?digest={}", blob.digest),
                &[("Content-Type", "application/octet-stream")],
                body,
            )?
        }
    };
    let r = expect_status(r, 201)?;
    assert_eq!(
        r.header("Docker-Content-Digest"),
        Some(blob.digest.as_str())
    );
    *open = None;
    Ok(())
}

fn put_manifest(addr: SocketAddr, image: &Image) -> Result<(), Failure> {
    let r = request(
        addr,
        "PUT",
        &format!("/v2/{}/manifests/{}", image.repo, image.tag),
        &[("Content-Type", OCI_MANIFEST)],
        &image.manifest,
    )?;
    let r = expect_status(r, 201)?;
    assert_eq!(
        r.header("Docker-Content-Digest"),
        Some(image.digest.as_str())
    );
    Ok(())
}

/// Pushes an image the way registry clients do: `HEAD` each blob, upload the missing ones, then
/// the manifest.
fn push_image(addr: SocketAddr, image: &Image, rng: &mut Rng) -> Result<(), Failure> {
    for blob in &image.blobs {
        let head = request(
            addr,
            "HEAD",
            &format!("/v2/{}/blobs/{}", image.repo, blob.digest),
            &[],
            b"",
        )?;
        if head.status == 200 {
            continue;
        }
        upload_blob(addr, &image.repo, blob, Upload::pick(rng), rng, &mut None)?;
    }
    put_manifest(addr, image)
}

// ---------------------------------------------------------------------------------------------
// Checks

/// GETs a blob: `None` if unknown (404 BLOB_UNKNOWN), else its bytes, after checking they hash
/// to the digest they were served under.
fn pull_blob(addr: SocketAddr, repo: &str, digest: &str) -> Option<Vec<u8>> {
    let r = request(addr, "GET", &format!("/v2/{repo}/blobs/{digest}"), &[], b"")
        .unwrap_or_else(|e| panic!("GET blob {repo}@{digest}: {e}"));
    match r.status {
        404 => {
            assert_eq!(error_code(&r), "BLOB_UNKNOWN", "{}", describe(&r));
            None
        }
        200 => {
            assert_eq!(r.header("Docker-Content-Digest"), Some(digest));
            let actual = if digest.starts_with("sha512:") {
                sha512(&r.body)
            } else {
                sha256(&r.body)
            };
            assert_eq!(
                actual, digest,
                "{repo}: served bytes do not hash to the digest"
            );
            Some(r.body)
        }
        _ => panic!("GET blob {repo}@{digest}: {}", describe(&r)),
    }
}

fn assert_blob(addr: SocketAddr, repo: &str, blob: &Blob, what: &str) {
    let got = pull_blob(addr, repo, &blob.digest)
        .unwrap_or_else(|| panic!("{what}: blob {repo}@{} is not served", blob.digest));
    assert!(
        *got == *blob.data,
        "{what}: blob {repo}@{} bytes differ",
        blob.digest
    );
}

/// GETs a manifest by digest or tag: `None` if unknown.
fn pull_manifest(addr: SocketAddr, repo: &str, reference: &str) -> Option<Response> {
    let r = request(
        addr,
        "GET",
        &format!("/v2/{repo}/manifests/{reference}"),
        &[],
        b"",
    )
    .unwrap_or_else(|e| panic!("GET manifest {repo}:{reference}: {e}"));
    match r.status {
        404 => {
            let code = error_code(&r);
            assert!(
                code == "MANIFEST_UNKNOWN" || code == "NAME_UNKNOWN",
                "{}",
                describe(&r)
            );
            None
        }
        200 => {
            let digest = r.header("Docker-Content-Digest").unwrap_or_default();
            assert_eq!(sha256(&r.body), digest, "{repo}:{reference}");
            Some(r)
        }
        _ => panic!("GET manifest {repo}:{reference}: {}", describe(&r)),
    }
}

/// The image is served: its manifest byte for byte by digest and by tag, and every blob.
fn assert_image(addr: SocketAddr, image: &Image, what: &str) {
    for reference in [&image.digest, &image.tag] {
        let r = pull_manifest(addr, &image.repo, reference)
            .unwrap_or_else(|| panic!("{what}: manifest {}:{reference} is not served", image.repo));
        assert!(
            r.body == image.manifest,
            "{what}: manifest {}:{reference} bytes differ",
            image.repo
        );
        assert_eq!(
            r.header("Docker-Content-Digest"),
            Some(image.digest.as_str())
        );
    }
    for blob in &image.blobs {
        assert_blob(addr, &image.repo, blob, what);
    }
}

/// Checks one stored manifest's references: blobs are served whole under their digests, child
/// manifests exist. Returns the blobs checked, or `None` if a blob is missing (the caller
/// decides whether the manifest itself went away meanwhile).
fn check_references(addr: SocketAddr, repo: &str, manifest: &[u8]) -> Result<usize, String> {
    let v: serde_json::Value = serde_json::from_slice(manifest).expect("stored manifest is JSON");
    let mut blobs: Vec<(String, u64)> = Vec::new();
    if let Some(c) = v.get("config").filter(|c| !c.is_null()) {
        blobs.push((
            c["digest"].as_str().unwrap().to_owned(),
            c["size"].as_u64().unwrap(),
        ));
    }
    for l in v["layers"].as_array().into_iter().flatten() {
        blobs.push((
            l["digest"].as_str().unwrap().to_owned(),
            l["size"].as_u64().unwrap(),
        ));
    }
    for m in v["manifests"].as_array().into_iter().flatten() {
        let d = m["digest"].as_str().unwrap();
        if pull_manifest(addr, repo, d).is_none() {
            return Err(format!("child manifest {repo}@{d} is missing"));
        }
    }
    for (digest, size) in &blobs {
        let (r, n, actual) = fetch_hashed(addr, &format!("/v2/{repo}/blobs/{digest}"), digest)
            .unwrap_or_else(|e| panic!("GET blob {repo}@{digest}: {e}"));
        if r.status != 200 {
            return Err(format!("blob {repo}@{digest}: status {}", r.status));
        }
        assert_eq!(
            &actual, digest,
            "{repo}: a served blob does not hash to its digest"
        );
        assert_eq!(n, *size, "{repo}@{digest}: size");
    }
    Ok(blobs.len())
}

fn json_get(addr: SocketAddr, path: &str) -> Option<serde_json::Value> {
    let r = request(addr, "GET", path, &[], b"").unwrap_or_else(|e| panic!("GET {path}: {e}"));
    match r.status {
        200 => Some(r.json()),
        404 => None,
        _ => panic!("GET {path}: {}", describe(&r)),
    }
}

/// Walks everything the server says it stores (catalog, tags, manifests) and checks that every
/// stored manifest is fully servable. With `concurrent_deletes`, a manifest that vanished while
/// it was being checked is skipped; without, any gap fails. Returns (manifests, blobs) checked.
fn check_served(addr: SocketAddr, concurrent_deletes: bool) -> (usize, usize) {
    let (mut manifests, mut blobs) = (0, 0);
    let catalog = json_get(addr, "/v2/_catalog?n=10000").expect("catalog");
    for repo in catalog["repositories"].as_array().into_iter().flatten() {
        let repo = repo.as_str().unwrap();
        let Some(tags) = json_get(addr, &format!("/v2/{repo}/tags/list?n=10000")) else {
            continue;
        };
        for tag in tags["tags"].as_array().into_iter().flatten() {
            let tag = tag.as_str().unwrap();
            let Some(r) = pull_manifest(addr, repo, tag) else {
                assert!(concurrent_deletes, "listed tag {repo}:{tag} is not served");
                continue;
            };
            match check_references(addr, repo, &r.body) {
                Ok(n) => {
                    manifests += 1;
                    blobs += n;
                }
                Err(gap) => {
                    // Only acceptable if the manifest itself is gone now (deleted meanwhile).
                    let digest = r.header("Docker-Content-Digest").unwrap();
                    assert!(
                        concurrent_deletes && pull_manifest(addr, repo, digest).is_none(),
                        "stored manifest {repo}:{tag} is not fully servable: {gap}"
                    );
                }
            }
        }
    }
    (manifests, blobs)
}

/// Hashes a file without holding it in memory.
fn file_digest(path: &Path, alg: &str) -> String {
    let mut file = std::fs::File::open(path).unwrap();
    let mut ctx = hasher(&format!("{alg}:"));
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    finish(alg, ctx)
}

/// Every file under `blobs/` is at `<alg>/<hex>` (the OCI image layout's blobs directory) and
/// hashes to that digest. Returns the digests found, sorted.
fn check_disk(data: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let root = data.join("blobs");
    for alg in std::fs::read_dir(&root).unwrap() {
        let alg = alg.unwrap();
        let alg_name = alg.file_name().to_string_lossy().into_owned();
        assert!(
            ["sha256", "sha512"].contains(&alg_name.as_str()),
            "unexpected entry blobs/{alg_name}"
        );
        for file in std::fs::read_dir(alg.path()).unwrap() {
            let file = file.unwrap();
            assert!(
                file.file_type().unwrap().is_file(),
                "blobs/{alg_name}/{:?} is not a file",
                file.file_name()
            );
            let name = file.file_name().to_string_lossy().into_owned();
            let digest = format!("{alg_name}:{name}");
            assert_eq!(
                file_digest(&file.path(), &alg_name),
                digest,
                "blobs/{alg_name}/{name}: content does not hash to its name"
            );
            found.push(digest);
        }
    }
    found.sort();
    found
}

fn blob_file(data: &Path, digest: &str) -> PathBuf {
    let (alg, hex) = digest.split_once(':').unwrap();
    data.join("blobs").join(alg).join(hex)
}

fn dir_entries(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(it) => it
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("read {}: {e}", dir.display()),
    }
}

fn start_on(data: &Path) -> Server {
    Server::start_with(ServerOptions {
        data: Some(data.to_owned()),
        ..ServerOptions::default()
    })
}

/// What one `vouch gc` run printed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct GcReport {
    blobs: u64,
    bytes: u64,
    links: u64,
    orphans: u64,
    uploads: u64,
    restored: u64,
}

fn parse_gc(out: &str) -> GcReport {
    let n: Vec<u64> = out
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(n.len(), 6, "unexpected gc output {out:?}");
    GcReport {
        blobs: n[0],
        bytes: n[1],
        links: n[2],
        orphans: n[3],
        uploads: n[4],
        restored: n[5],
    }
}

fn gc(data: &Path, args: &[&str]) -> GcReport {
    let out = run(vouch().arg("gc").arg("--data").arg(data).args(args));
    parse_gc(&out)
}

/// Polls `done` every 20 ms; fails after [`PATIENCE`].
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------------
// Crash and restart

/// What pushers saw, across server lifetimes.
#[derive(Default)]
struct Ledger {
    /// Blobs whose upload was acknowledged (201), with their repository.
    blobs: Vec<(String, Blob)>,
    /// Images whose manifest was acknowledged.
    images: Vec<Image>,
    /// Blobs and images in flight when the server died: absent, or present and whole.
    unsure_blobs: Vec<(String, Blob)>,
    unsure_images: Vec<Image>,
    /// Sessions with acknowledged chunks that never finished: resumed after the restart.
    open: Vec<(String, OpenSession, Blob)>,
    /// Large streamed blobs: (repository, digest, length, acknowledged).
    big: Vec<(String, String, u64, bool)>,
}

/// Figures for the report.
#[derive(Default, Debug)]
struct Tally {
    acked_blobs: usize,
    acked_images: usize,
    unsure_present: usize,
    unsure_absent: usize,
    resumed: usize,
    /// Resumed sessions that reported more than the acknowledged bytes (a chunk in flight at
    /// the crash counts after the restart).
    resumed_past_ack: usize,
    big_acked: usize,
    big_cut: usize,
    served_manifests: usize,
    disk_files: usize,
    /// Acknowledged blobs and images checked, summed over every restart.
    checks: usize,
}

/// Pushes images into `repo` until told to stop or the server goes away, recording every
/// acknowledgement in `ledger`.
fn pusher(
    addr: SocketAddr,
    mut rng: Rng,
    repo: String,
    label: String,
    base: Blob,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
) {
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        let image = make_image(&mut rng, &repo, &format!("{label}-{n}"), Some(&base));
        n += 1;
        for blob in &image.blobs {
            let mut open = None;
            let how = Upload::pick(&mut rng);
            match upload_blob(addr, &repo, blob, how, &mut rng, &mut open) {
                Ok(()) => ledger
                    .lock()
                    .unwrap()
                    .blobs
                    .push((repo.clone(), blob.clone())),
                Err(Failure::Down(_)) => {
                    let mut l = ledger.lock().unwrap();
                    l.unsure_blobs.push((repo.clone(), blob.clone()));
                    if let Some(o) = open.filter(|o| o.acked > 0) {
                        l.open.push((repo.clone(), o, blob.clone()));
                    }
                    return;
                }
                Err(Failure::Refused(r)) => panic!("{how:?} upload refused: {}", describe(&r)),
            }
        }
        match put_manifest(addr, &image) {
            Ok(()) => ledger.lock().unwrap().images.push(image),
            Err(Failure::Down(_)) => {
                ledger.lock().unwrap().unsure_images.push(image);
                return;
            }
            Err(Failure::Refused(r)) => panic!("manifest refused: {}", describe(&r)),
        }
    }
}

/// After a restart: everything acknowledged is served exactly, nothing in flight is visible in
/// part, unfinished sessions resume, and the disk holds only whole, correctly named blobs.
fn check_after_restart(server: &Server, ledger: &mut Ledger, tally: &mut Tally) {
    let addr = server.addr;
    assert!(
        dir_entries(&server.data.join("trash")).is_empty(),
        "trash/ is reconciled at start"
    );
    for (repo, blob) in &ledger.blobs {
        assert_blob(addr, repo, blob, "acknowledged blob");
    }
    for image in &ledger.images {
        assert_image(addr, image, "acknowledged image");
    }
    tally.acked_blobs = ledger.blobs.len();
    tally.acked_images = ledger.images.len();
    tally.checks += ledger.blobs.len() + ledger.images.len();
    for (repo, blob) in std::mem::take(&mut ledger.unsure_blobs) {
        let got = pull_blob(addr, &repo, &blob.digest);
        if let Some(bytes) = &got {
            assert!(**bytes == *blob.data);
        }
        // A shared layer acknowledged earlier says nothing about this attempt.
        if !ledger
            .blobs
            .iter()
            .any(|(r, b)| *r == repo && b.digest == blob.digest)
        {
            match got {
                Some(_) => tally.unsure_present += 1,
                None => tally.unsure_absent += 1,
            }
        }
    }
    for image in ledger.unsure_images.drain(..) {
        match pull_manifest(addr, &image.repo, &image.digest) {
            Some(r) => {
                assert!(r.body == image.manifest);
                for blob in &image.blobs {
                    assert_blob(addr, &image.repo, blob, "stored unacknowledged image");
                }
                tally.unsure_present += 1;
            }
            None => tally.unsure_absent += 1,
        }
    }
    for (i, (repo, digest, len, acked)) in ledger.big.iter().enumerate() {
        let (r, n, actual) =
            fetch_hashed(addr, &format!("/v2/{repo}/blobs/{digest}"), digest).unwrap();
        match (r.status, *acked) {
            (200, _) => {
                assert_eq!((&actual, n), (digest, *len), "large blob {i}");
            }
            (404, false) => {}
            (s, _) => panic!("large blob {i} ({acked}): status {s}"),
        }
    }
    for (repo, open, blob) in std::mem::take(&mut ledger.open) {
        let r = request(addr, "GET", &open.location, &[], b"").unwrap();
        match r.status {
            204 => {
                // The session survived: it holds at least the acknowledged bytes, all of them
                // the client's, and finishing it stores the blob.
                let range = r.header("Range").unwrap();
                let last: u64 = range.split_once('-').unwrap().1.parse().unwrap();
                let have = last + 1;
                assert!(
                    have >= open.acked && have <= blob.data.len() as u64,
                    "session {} reports {range} after {} acknowledged bytes",
                    open.location,
                    open.acked
                );
                if have > open.acked {
                    tally.resumed_past_ack += 1;
                }
                if have < blob.data.len() as u64 {
                    patch(addr, &open.location, have, &blob.data[have as usize..])
                        .unwrap_or_else(|f| panic!("resuming {}: {f}", open.location));
                }
                let r = request(
                    addr,
                    "PUT",
                    &format!("{}?digest={}", open.location, blob.digest),
                    &[],
                    b"",
                )
                .unwrap();
                assert_eq!(
                    r.status,
                    201,
                    "finishing a resumed session: {}",
                    describe(&r)
                );
                assert_blob(addr, &repo, &blob, "resumed upload");
                ledger.blobs.push((repo, blob));
                tally.resumed += 1;
            }
            404 => {
                // Only a session whose final PUT was under way may be gone.
                assert!(open.finishing, "session {} was lost", open.location);
                assert_eq!(error_code(&r), "BLOB_UPLOAD_UNKNOWN");
            }
            _ => panic!("session {} after restart: {}", open.location, describe(&r)),
        }
    }
    let (manifests, _) = check_served(addr, false);
    tally.served_manifests = manifests;
    tally.disk_files = check_disk(&server.data).len();
}

#[test]
fn kill9_during_pushes_loses_nothing_acknowledged() {
    let mut rng = seeded("kill9_during_pushes_loses_nothing_acknowledged");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut tally = Tally::default();
    const ROUNDS: usize = 6;
    const PUSHERS: usize = 3;
    let bases: Vec<Blob> = (0..PUSHERS).map(|_| Blob::new(rng.bytes(50_000))).collect();
    for round in 0..ROUNDS {
        let mut server = start_on(&data);
        if round > 0 {
            check_after_restart(&server, &mut ledger.lock().unwrap(), &mut tally);
        }
        let addr = server.addr;
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for (t, base) in bases.iter().enumerate() {
            let (rng, ledger, stop, base) = (
                rng.fork(),
                Arc::clone(&ledger),
                Arc::clone(&stop),
                base.clone(),
            );
            let (repo, label) = (format!("durable/t{t}"), format!("r{round}-t{t}"));
            threads.push(thread::spawn(move || {
                pusher(addr, rng, repo, label, base, ledger, stop)
            }));
        }
        // Odd rounds die during a large streaming upload (after a smaller one completed), the
        // others at a random moment among the small pushes.
        if round % 2 == 1 {
            let small_len = 4 * MIB + rng.below(MIB);
            let small = Big::new(&mut rng, small_len);
            let large = Big::new(&mut rng, 48 * MIB);
            let (small_digest, large_digest) = (small.digest(), large.digest());
            let cut_at = large.len / 10 + rng.below(large.len * 8 / 10);
            let progress = Arc::new(AtomicU64::new(0));
            let how = [Upload::Monolithic, Upload::Session, Upload::Chunked][round / 2 % 3];
            let (p, ledger2) = (Arc::clone(&progress), Arc::clone(&ledger));
            let uploader = thread::spawn(move || {
                let repo = "durable/big";
                let send = |big: &Big, digest: &str, counter: &AtomicU64| -> io::Result<Response> {
                    let all = 0..big.chunks();
                    let octets = [("Content-Type", "application/octet-stream")];
                    match how {
                        Upload::Monolithic => upload_big(
                            addr,
                            "POST",
                            &format!("/v2/{repo}/blobs/uploads/?digest={digest}"),
                            &octets,
                            big,
                            all,
                            counter,
                        ),
                        Upload::Session | Upload::Chunked => {
                            let loc = match start_session(addr, repo) {
                                Ok(l) => l,
                                Err(Failure::Down(e)) => return Err(e),
                                Err(Failure::Refused(r)) => panic!("{}", describe(&r)),
                            };
                            let put = format!("{loc}?digest={digest}");
                            if let Upload::Session = how {
                                return upload_big(addr, "PUT", &put, &octets, big, all, counter);
                            }
                            let range = format!("0-{}", big.len - 1);
                            let headers = [octets[0], ("Content-Range", range.as_str())];
                            let r = upload_big(addr, "PATCH", &loc, &headers, big, all, counter)?;
                            assert_eq!(r.status, 202, "{}", describe(&r));
                            request(addr, "PUT", &put, &[], b"")
                        }
                    }
                };
                let r = send(&small, &small_digest, &AtomicU64::new(0))
                    .expect("the server dies only during the large upload");
                assert_eq!(r.status, 201, "{}", describe(&r));
                let len = small.len;
                ledger2
                    .lock()
                    .unwrap()
                    .big
                    .push((repo.into(), small_digest, len, true));
                let outcome = send(&large, &large_digest, &p);
                let acked = matches!(&outcome, Ok(r) if r.status == 201);
                if let Ok(r) = &outcome {
                    assert!(acked, "large upload refused: {}", describe(r));
                }
                let len = large.len;
                ledger2
                    .lock()
                    .unwrap()
                    .big
                    .push((repo.into(), large_digest, len, acked));
                acked
            });
            wait_until("the large upload to get under way", || {
                progress.load(Ordering::SeqCst) >= cut_at || uploader.is_finished()
            });
            server.kill9();
            stop.store(true, Ordering::SeqCst);
            if uploader.join().unwrap() {
                tally.big_acked += 2;
            } else {
                tally.big_acked += 1;
                tally.big_cut += 1;
            }
        } else {
            // Once this round has pushed a few images, at a random moment.
            let before = ledger.lock().unwrap().images.len();
            wait_until("pushes in this round", || {
                ledger.lock().unwrap().images.len() >= before + 4
            });
            thread::sleep(Duration::from_millis(rng.range(0, 1000)));
            server.kill9();
            stop.store(true, Ordering::SeqCst);
        }
        for t in threads {
            t.join().unwrap();
        }
    }
    let server = start_on(&data);
    check_after_restart(&server, &mut ledger.lock().unwrap(), &mut tally);
    // Only whole, correctly named blobs ever reached blobs/; every acknowledged one is among them.
    let on_disk = check_disk(&data);
    for (_, blob) in &ledger.lock().unwrap().blobs {
        assert!(
            on_disk.contains(&blob.digest),
            "{} not on disk",
            blob.digest
        );
    }
    eprintln!("kill -9 rounds: {ROUNDS}; {tally:?}");
}

#[test]
fn sigterm_mid_push_then_restart_serves_everything() {
    let mut rng = seeded("sigterm_mid_push_then_restart_serves_everything");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut server = start_on(&data);
    let addr = server.addr;
    let big = Big::new(&mut rng, 8 * MIB);
    let digest = big.digest();
    let r = upload_big(
        addr,
        "POST",
        &format!("/v2/term/big/blobs/uploads/?digest={digest}"),
        &[],
        &big,
        0..big.chunks(),
        &AtomicU64::new(0),
    )
    .unwrap();
    assert_eq!(r.status, 201, "{}", describe(&r));
    ledger
        .lock()
        .unwrap()
        .big
        .push(("term/big".into(), digest, big.len, true));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let base = Blob::new(rng.bytes(30_000));
            let (rng, ledger, stop) = (rng.fork(), Arc::clone(&ledger), Arc::clone(&stop));
            thread::spawn(move || {
                pusher(
                    addr,
                    rng,
                    format!("term/t{t}"),
                    format!("t{t}"),
                    base,
                    ledger,
                    stop,
                )
            })
        })
        .collect();
    wait_until("a few pushes", || ledger.lock().unwrap().images.len() >= 3);
    thread::sleep(Duration::from_millis(rng.range(0, 400)));
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    assert!(server.log().contains("stopped"));
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    let server = start_on(&data);
    let mut tally = Tally::default();
    check_after_restart(&server, &mut ledger.lock().unwrap(), &mut tally);
    assert!(tally.acked_images > 0, "{tally:?}");
    eprintln!("after SIGTERM: {tally:?}");
}

// ---------------------------------------------------------------------------------------------
// Memory

/// `VmRSS` and `VmHWM` of a process, in KiB.
fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[test]
fn memory_stays_flat_while_a_512_mib_blob_streams_in_and_out() {
    const SIZE: u64 = 512 * MIB;
    const BOUND_MIB: u64 = 64;
    let mut rng = seeded("memory_stays_flat_while_a_512_mib_blob_streams_in_and_out");
    let server = Server::start();
    let (addr, pid) = (server.addr, server.pid());
    let big = Big::new(&mut rng, SIZE);
    let digest = big.digest();
    let (start_rss, _) = rss_kib(pid);
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = Arc::clone(&done);
        thread::spawn(move || {
            let (mut peak, mut samples) = (0, 0);
            while !done.load(Ordering::SeqCst) {
                peak = peak.max(rss_kib(pid).0);
                samples += 1;
                thread::sleep(Duration::from_millis(10));
            }
            (peak, samples)
        })
    };
    // Half in one PATCH, half in the closing PUT: both session paths stream.
    let half = big.chunks() / 2;
    let location = start_session(addr, "mem/big").unwrap();
    let progress = AtomicU64::new(0);
    let range = format!("0-{}", big.byte_len(0..half) - 1);
    let r = upload_big(
        addr,
        "PATCH",
        &location,
        &[("Content-Range", &range)],
        &big,
        0..half,
        &progress,
    )
    .unwrap();
    assert_eq!(r.status, 202, "{}", describe(&r));
    let put = format!("{location}?digest={digest}");
    let r = upload_big(addr, "PUT", &put, &[], &big, half..big.chunks(), &progress).unwrap();
    assert_eq!(r.status, 201, "{}", describe(&r));
    assert_eq!(progress.load(Ordering::SeqCst), SIZE);
    // And back out, hashed as it streams.
    let (r, n, actual) =
        fetch_hashed(addr, &format!("/v2/mem/big/blobs/{digest}"), &digest).unwrap();
    assert_eq!((r.status, n, actual.as_str()), (200, SIZE, digest.as_str()));
    done.store(true, Ordering::SeqCst);
    let (peak_sampled, samples) = sampler.join().unwrap();
    let (_, hwm) = rss_kib(pid);
    eprintln!(
        "512 MiB up and down: RSS at start {} MiB, peak sampled {} MiB over {samples} samples, VmHWM {} MiB (bound {BOUND_MIB} MiB)",
        start_rss / 1024,
        peak_sampled / 1024,
        hwm / 1024
    );
    assert!(samples > 10, "the sampler ran during the transfer");
    assert!(
        hwm < BOUND_MIB * 1024,
        "server peak RSS {} MiB for a {} MiB blob",
        hwm / 1024,
        SIZE / MIB
    );
    assert_eq!(check_disk(&server.data), vec![digest]);
}

// ---------------------------------------------------------------------------------------------
// Verification before storage

#[test]
fn a_blob_that_does_not_hash_to_its_digest_stores_nothing() {
    let mut rng = seeded("a_blob_that_does_not_hash_to_its_digest_stores_nothing");
    let server = Server::start();
    let addr = server.addr;
    let repo = "verify/app";
    // Blobs stored on purpose (each size's bytes under their own digest, as a control).
    let mut stored: Vec<String> = Vec::new();
    let nothing_stored = |what: &str, actual: &str, claimed: &str, stored: &[String]| {
        assert_eq!(
            pull_blob(addr, repo, claimed),
            None,
            "{what}: claimed digest served"
        );
        assert!(
            !blob_file(&server.data, claimed).exists(),
            "{what}: claimed on disk"
        );
        if !stored.iter().any(|d| d == actual) {
            assert_eq!(
                pull_blob(addr, repo, actual),
                None,
                "{what}: actual digest served"
            );
            assert!(
                !blob_file(&server.data, actual).exists(),
                "{what}: actual on disk"
            );
        }
        let on_disk = check_disk(&server.data);
        let mut want = stored.to_vec();
        want.sort();
        assert_eq!(on_disk, want, "{what}: blobs/");
        let uploads = dir_entries(&server.data.join("uploads"));
        assert_eq!(uploads, Vec::<String>::new(), "{what}: uploads/");
        let trash = dir_entries(&server.data.join("trash"));
        assert_eq!(trash, Vec::<String>::new(), "{what}: trash/");
    };
    let refused = |r: &Response, what: &str| {
        assert_eq!(r.status, 400, "{what}: {}", describe(r));
        assert_eq!(error_code(r), "DIGEST_INVALID", "{what}");
    };
    let mut cases = 0;
    for size in [1usize, 70_000, 3 << 20] {
        let bytes = rng.bytes(size);
        let actual = sha256(&bytes);
        // A digest of other bytes, and one of a different algorithm.
        let mut other = bytes.clone();
        other[size / 2] ^= 1;
        for claimed in [sha256(&other), sha512(&other)] {
            let alg = &claimed[..6];
            let what = format!("monolithic {size} bytes as {alg}");
            let r = request(
                addr,
                "POST",
                &format!("/v2/{repo}/blobs/uploads/?digest={claimed}"),
                &[],
                &bytes,
            )
            .unwrap();
            refused(&r, &what);
            nothing_stored(&what, &actual, &claimed, &stored);

            let what = format!("session PUT {size} bytes as {alg}");
            let location = start_session(addr, repo).unwrap();
            let put = format!("{location}?digest={claimed}");
            let r = request(addr, "PUT", &put, &[], &bytes).unwrap();
            refused(&r, &what);
            let r = request(addr, "GET", &location, &[], b"").unwrap();
            assert_eq!(
                (r.status, error_code(&r).as_str()),
                (404, "BLOB_UPLOAD_UNKNOWN"),
                "{what}: the session ends with the failed PUT"
            );
            nothing_stored(&what, &actual, &claimed, &stored);

            let what = format!("chunked {size} bytes as {alg}");
            let location = start_session(addr, repo).unwrap();
            let cut = size / 3;
            if cut > 0 {
                patch(addr, &location, 0, &bytes[..cut]).unwrap();
            }
            patch(addr, &location, cut as u64, &bytes[cut..]).unwrap();
            let put = format!("{location}?digest={claimed}");
            let r = request(addr, "PUT", &put, &[], b"").unwrap();
            refused(&r, &what);
            nothing_stored(&what, &actual, &claimed, &stored);
            cases += 3;
        }
        // The same bytes under their own digest are stored.
        let r = request(
            addr,
            "POST",
            &format!("/v2/{repo}/blobs/uploads/?digest={actual}"),
            &[],
            &bytes,
        )
        .unwrap();
        assert_eq!(r.status, 201, "{}", describe(&r));
        assert_eq!(pull_blob(addr, repo, &actual).as_deref(), Some(&bytes[..]));
        stored.push(actual);
        nothing_stored(
            "control",
            &stored[0].clone(),
            &sha256(b"never sent"),
            &stored,
        );
    }
    eprintln!("{cases} mismatched uploads refused, nothing stored");
}

#[test]
fn manifests_with_missing_blobs_are_refused_and_store_nothing() {
    let mut rng = seeded("manifests_with_missing_blobs_are_refused_and_store_nothing");
    let server = Server::start();
    let addr = server.addr;
    let repo = "refuse/app";
    let image = make_image(&mut rng, repo, "v1", None);
    let (config, layers) = (&image.blobs[0], &image.blobs[1..]);
    upload_blob(addr, repo, config, Upload::Monolithic, &mut rng, &mut None).unwrap();
    let refused = |image: &Image, reference: &str, missing: &[&Blob]| {
        let r = request(
            addr,
            "PUT",
            &format!("/v2/{}/manifests/{reference}", image.repo),
            &[("Content-Type", OCI_MANIFEST)],
            &image.manifest,
        )
        .unwrap();
        assert_eq!(r.status, 400, "{}", describe(&r));
        assert_eq!(error_code(&r), "MANIFEST_BLOB_UNKNOWN");
        let listed = r.json()["errors"][0]["detail"]["digests"].clone();
        for blob in missing {
            assert!(
                listed
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|d| d == blob.digest.as_str()),
                "{} not listed in {listed}",
                blob.digest
            );
        }
        assert!(pull_manifest(addr, &image.repo, &image.digest).is_none());
    };
    // By tag and by digest: refused, the missing layers named, nothing stored.
    let missing: Vec<&Blob> = layers.iter().collect();
    refused(&image, "v1", &missing);
    refused(&image, &image.digest.clone(), &missing);
    assert!(pull_manifest(addr, repo, "v1").is_none());
    let tags = json_get(addr, &format!("/v2/{repo}/tags/list")).unwrap();
    assert_eq!(tags["tags"].as_array().map_or(0, Vec::len), 0, "{tags}");
    assert_eq!(check_served(addr, false), (0, 0));

    // A repository that never held anything stays unknown.
    let fresh = make_image(&mut rng, "refuse/fresh", "v1", None);
    let all: Vec<&Blob> = fresh.blobs.iter().collect();
    refused(&fresh, "v1", &all);
    let r = request(addr, "GET", "/v2/refuse/fresh/tags/list", &[], b"").unwrap();
    assert_eq!(
        (r.status, error_code(&r).as_str()),
        (404, "NAME_UNKNOWN"),
        "a refused manifest must not create its repository: {}",
        describe(&r)
    );
    let catalog = json_get(addr, "/v2/_catalog").unwrap();
    assert!(!catalog.to_string().contains("refuse/fresh"), "{catalog}");

    // An index whose child manifest is missing is refused the same way.
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{ "mediaType": OCI_MANIFEST, "digest": image.digest, "size": image.manifest.len() }],
    }))
    .unwrap();
    let r = request(
        addr,
        "PUT",
        &format!("/v2/{repo}/manifests/multi"),
        &[("Content-Type", OCI_INDEX)],
        &index,
    )
    .unwrap();
    assert_eq!(
        (r.status, error_code(&r).as_str()),
        (400, "MANIFEST_BLOB_UNKNOWN"),
        "{}",
        describe(&r)
    );
    assert!(pull_manifest(addr, repo, "multi").is_none());

    // Once the layers arrive, the same manifest and then the index are accepted.
    for layer in layers {
        upload_blob(addr, repo, layer, Upload::Chunked, &mut rng, &mut None).unwrap();
    }
    put_manifest(addr, &image).unwrap();
    assert_image(addr, &image, "after the layers arrived");
    let r = request(
        addr,
        "PUT",
        &format!("/v2/{repo}/manifests/multi"),
        &[("Content-Type", OCI_INDEX)],
        &index,
    )
    .unwrap();
    assert_eq!(r.status, 201, "{}", describe(&r));
    assert_eq!(check_served(addr, false), (2, image.blobs.len()));
}

// ---------------------------------------------------------------------------------------------
// Upload expiry

#[test]
fn abandoned_uploads_expire_in_the_server_and_in_gc() {
    let mut rng = seeded("abandoned_uploads_expire_in_the_server_and_in_gc");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vouch.toml");
    write_file(&config, "[server]\nupload_expiry = \"1s\"\n");
    let server = Server::start_with(ServerOptions {
        config: Some(config.clone()),
        data: Some(dir.path().join("data")),
        ..ServerOptions::default()
    });
    let addr = server.addr;
    let uploads = server.data.join("uploads");
    let repo = "expire/app";
    // A session exists on disk while its `<id>.json` does.
    let session_file =
        |location: &str| uploads.join(format!("{}.json", location.rsplit('/').next().unwrap()));

    let abandoned = start_session(addr, repo).unwrap();
    patch(addr, &abandoned, 0, &rng.bytes(1000)).unwrap();
    assert!(session_file(&abandoned).is_file());
    // Another session keeps sending a chunk every 200 ms: activity keeps it alive.
    let active = start_session(addr, repo).unwrap();
    let mut sent: Vec<u8> = Vec::new();
    // The abandoned session was last written just before `started`.
    let started = Instant::now();
    let mut gone_after = None;
    while gone_after.is_none() || started.elapsed() < Duration::from_millis(2500) {
        assert!(
            started.elapsed() < PATIENCE,
            "the abandoned session never expired"
        );
        if gone_after.is_none() && !session_file(&abandoned).exists() {
            gone_after = Some(started.elapsed());
        }
        let chunk = rng.bytes(100);
        patch(addr, &active, sent.len() as u64, &chunk)
            .unwrap_or_else(|f| panic!("an active session expired: {f}"));
        sent.extend_from_slice(&chunk);
        thread::sleep(Duration::from_millis(200));
    }
    let gone_after = gone_after.unwrap();
    for (method, path) in [
        ("GET", abandoned.clone()),
        ("PATCH", abandoned.clone()),
        ("PUT", format!("{abandoned}?digest={}", sha256(b""))),
    ] {
        let r = request(addr, method, &path, &[], b"").unwrap();
        assert_eq!(
            (r.status, error_code(&r).as_str()),
            (404, "BLOB_UPLOAD_UNKNOWN"),
            "{method} on an expired session: {}",
            describe(&r)
        );
    }
    let blob = Blob::new(sent);
    let r = request(
        addr,
        "PUT",
        &format!("{active}?digest={}", blob.digest),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 201, "{}", describe(&r));
    assert_blob(addr, repo, &blob, "the active session's blob");
    eprintln!(
        "server expired a session idle for 1 s after {gone_after:?} idle; the active one sent {} chunks meanwhile and finished",
        blob.data.len() / 100
    );
    drop(server);

    // `vouch gc` expires sessions too, while a server (with the default 24 h expiry) runs.
    let server = Server::start();
    let addr = server.addr;
    let uploads = server.data.join("uploads");
    // A session exists on disk while its `<id>.json` does.
    let session_file =
        |location: &str| uploads.join(format!("{}.json", location.rsplit('/').next().unwrap()));
    let old = start_session(addr, repo).unwrap();
    patch(addr, &old, 0, &rng.bytes(500)).unwrap();
    thread::sleep(Duration::from_millis(1500));
    let young = start_session(addr, repo).unwrap();
    let report = gc(&server.data, &["--config", config.to_str().unwrap()]);
    assert_eq!(report.uploads, 1, "{report:?}");
    assert!(!session_file(&old).exists());
    assert!(session_file(&young).exists());
    for (method, path) in [("GET", old.clone()), ("PATCH", old.clone())] {
        let r = request(addr, method, &path, &[], b"").unwrap();
        assert_eq!(
            (r.status, error_code(&r).as_str()),
            (404, "BLOB_UPLOAD_UNKNOWN"),
            "{method} on a session gc expired: {}",
            describe(&r)
        );
    }
    let r = request(addr, "GET", &young, &[], b"").unwrap();
    assert_eq!(r.status, 204, "{}", describe(&r));
}

/// A crash after a session's bytes were installed as a blob but before its files were removed
/// leaves `uploads/<id>.json` and `<id>.ack` without `<id>.data`. That session is simply gone.
#[test]
fn a_session_whose_bytes_were_installed_before_a_crash_is_unknown_not_an_error() {
    let mut rng = seeded("a_session_whose_bytes_were_installed_before_a_crash_is_unknown");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = start_on(&data);
    let location = start_session(server.addr, "crash/session").unwrap();
    patch(server.addr, &location, 0, &rng.bytes(1000)).unwrap();
    server.kill9();
    let id = location.rsplit('/').next().unwrap();
    std::fs::remove_file(data.join("uploads").join(format!("{id}.data"))).unwrap();
    let server = start_on(&data);
    for (method, path) in [
        ("GET", location.clone()),
        ("PATCH", location.clone()),
        ("PUT", format!("{location}?digest={}", sha256(b""))),
    ] {
        let r = request(server.addr, method, &path, &[], b"").unwrap();
        assert_eq!(
            (r.status, error_code(&r).as_str()),
            (404, "BLOB_UPLOAD_UNKNOWN"),
            "{method}: {}",
            describe(&r)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Garbage collection

/// Waits until the clock is in a later second than now: stored timestamps have one-second
/// resolution, so only then is something just written older than a zero grace period.
fn next_second() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    thread::sleep(Duration::from_millis(1050) - Duration::from_nanos(now.subsec_nanos().into()));
}

#[test]
fn gc_dry_run_reports_and_gc_removes_only_unreferenced_blobs_while_serving() {
    let mut rng = seeded("gc_dry_run_reports_and_gc_removes_only_unreferenced_blobs");
    let server = Server::start();
    let (addr, data) = (server.addr, server.data.clone());
    let shared = Blob::new(rng.bytes(20_000));
    let a = make_image(&mut rng, "gc/app", "a", Some(&shared));
    let b = make_image(&mut rng, "gc/app", "b", Some(&shared));
    let c = make_image(&mut rng, "gc/other", "c", Some(&shared));
    for image in [&a, &b, &c] {
        push_image(addr, image, &mut rng).unwrap();
    }
    let r = request(
        addr,
        "DELETE",
        &format!("/v2/gc/app/manifests/{}", a.digest),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 202, "{}", describe(&r));
    // A verified file without a row, as a crash between install and commit leaves one.
    let orphan = Blob::new(rng.bytes(3000));
    let path = blob_file(&data, &orphan.digest);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, &orphan.data).unwrap();
    // A's own blobs (config and its unshared layers) are now unreferenced.
    let garbage: Vec<&Blob> = a
        .blobs
        .iter()
        .filter(|x| x.digest != shared.digest)
        .collect();
    let garbage_bytes: u64 = garbage.iter().map(|x| x.data.len() as u64).sum();
    let kept: Vec<&Image> = vec![&b, &c];
    next_second();

    // Pulls of the surviving images run throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (stop, kept): (_, Vec<Image>) = (
            Arc::clone(&stop),
            kept.iter().map(|i| (*i).clone()).collect(),
        );
        thread::spawn(move || {
            let mut pulls = 0;
            while !stop.load(Ordering::SeqCst) || pulls == 0 {
                for image in &kept {
                    assert_image(addr, image, "pulled during gc");
                }
                pulls += 1;
            }
            pulls
        })
    };
    let files_before = check_disk(&data);

    // The default grace period (1 h) spares everything this young.
    let report = gc(&data, &[]);
    assert_eq!(report, GcReport::default(), "default grace");
    assert_eq!(check_disk(&data), files_before);

    let expected = GcReport {
        blobs: garbage.len() as u64,
        bytes: garbage_bytes + orphan.data.len() as u64,
        links: garbage.len() as u64,
        orphans: 1,
        uploads: 0,
        restored: 0,
    };
    let dry = gc(&data, &["--dry-run", "--grace", "0s"]);
    assert_eq!(dry, expected, "dry run");
    assert_eq!(
        check_disk(&data),
        files_before,
        "a dry run changes nothing on disk"
    );
    for blob in &garbage {
        assert_blob(addr, "gc/app", blob, "after a dry run");
    }
    // A second dry run reports the same: nothing changed.
    assert_eq!(gc(&data, &["--dry-run", "--grace", "0s"]), expected);

    let real = gc(&data, &["--grace", "0s"]);
    assert_eq!(real, expected, "gc");
    for blob in &garbage {
        assert_eq!(pull_blob(addr, "gc/app", &blob.digest), None);
        assert!(!blob_file(&data, &blob.digest).exists());
    }
    assert!(!path.exists(), "the orphan file is removed");
    for image in &kept {
        assert_image(addr, image, "after gc");
    }
    assert!(blob_file(&data, &shared.digest).exists());
    assert_eq!(
        check_served(addr, false),
        (2, b.blobs.len() + c.blobs.len())
    );
    assert_eq!(dir_entries(&data.join("trash")), Vec::<String>::new());
    // Nothing is left to collect.
    assert_eq!(gc(&data, &["--grace", "0s"]), GcReport::default());
    stop.store(true, Ordering::SeqCst);
    let pulls = reader.join().unwrap();
    eprintln!(
        "gc removed {} blobs and 1 orphan ({} bytes) while {pulls} rounds of pulls ran",
        real.blobs, real.bytes
    );
}

/// Outcome of the pushers in a gc race.
#[derive(Default, Debug)]
struct RaceTally {
    pushed: usize,
    /// MANIFEST_BLOB_UNKNOWN: a blob was collected between its upload (or HEAD) and the manifest.
    blob_collected_first: usize,
    deleted: usize,
    live_checks: usize,
}

/// Pushers push images that share a layer, delete their older images (every fourth round all
/// of them, so the shared layer loses its last reference), and check that every image
/// acknowledged and not deleted is still whole; a walker checks everything the server lists;
/// `vouch gc` runs in a loop as a separate process. The race lasts until enough of each has
/// happened (not for a fixed time, so a loaded machine makes it longer, not weaker). Returns
/// (gc runs, blobs gc removed, walks, pusher tally).
fn race_gc(
    test: &str,
    gc_args: &'static [&'static str],
    allow_blob_unknown: bool,
) -> (u64, u64, usize, RaceTally) {
    const MIN_GC_RUNS: u64 = 12;
    const MIN_PUSHES: u64 = 16;
    const MIN_TIME: Duration = Duration::from_secs(3);
    let mut rng = seeded(test);
    let server = Server::start();
    let (addr, data) = (server.addr, server.data.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let (gc_runs, removed, pushed) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let collector = {
        let (stop, runs, data) = (Arc::clone(&stop), Arc::clone(&gc_runs), data.clone());
        let removed = Arc::clone(&removed);
        thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                removed.fetch_add(gc(&data, gc_args).blobs, Ordering::SeqCst);
                runs.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let walker = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut walks = 0;
            while !stop.load(Ordering::SeqCst) {
                check_served(addr, true);
                walks += 1;
            }
            walks
        })
    };
    let shared = Blob::new(rng.bytes(25_000));
    let pushers: Vec<_> = (0..2)
        .map(|t| {
            let (mut rng, shared, stop) = (rng.fork(), shared.clone(), Arc::clone(&stop));
            let pushed = Arc::clone(&pushed);
            thread::spawn(move || {
                let repo = format!("race/t{t}");
                let mut live: Vec<Image> = Vec::new();
                let mut tally = RaceTally::default();
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let image = make_image(&mut rng, &repo, &format!("v{n}"), Some(&shared));
                    n += 1;
                    match push_image(addr, &image, &mut rng) {
                        Ok(()) => {
                            assert_image(addr, &image, "just pushed");
                            live.push(image);
                            tally.pushed += 1;
                            pushed.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(Failure::Refused(r))
                            if allow_blob_unknown && error_code(&r) == "MANIFEST_BLOB_UNKNOWN" =>
                        {
                            tally.blob_collected_first += 1;
                        }
                        Err(f) => panic!("push {}:{} failed: {f}", image.repo, image.tag),
                    }
                    // Every image acknowledged and not deleted is still whole.
                    if !live.is_empty() {
                        let i = rng.below(live.len() as u64) as usize;
                        assert_image(addr, &live[i], "acknowledged, not deleted");
                        tally.live_checks += 1;
                    }
                    let drop = if n % 4 == 0 {
                        live.len()
                    } else {
                        live.len().saturating_sub(3)
                    };
                    for image in live.drain(..drop) {
                        let path = format!("/v2/{}/manifests/{}", image.repo, image.digest);
                        let r = request(addr, "DELETE", &path, &[], b"").unwrap();
                        assert_eq!(r.status, 202, "{}", describe(&r));
                        tally.deleted += 1;
                    }
                }
                for image in &live {
                    assert_image(addr, image, "acknowledged, at the end");
                }
                tally
            })
        })
        .collect();
    let started = Instant::now();
    wait_until("enough gc runs and pushes", || {
        started.elapsed() >= MIN_TIME
            && gc_runs.load(Ordering::SeqCst) >= MIN_GC_RUNS
            && pushed.load(Ordering::SeqCst) >= MIN_PUSHES
            // With zero grace, go on until gc actually collected something under the pushers.
            && (!allow_blob_unknown || removed.load(Ordering::SeqCst) > 0)
    });
    stop.store(true, Ordering::SeqCst);
    collector.join().unwrap();
    let walks = walker.join().unwrap();
    let mut tally = RaceTally::default();
    for p in pushers {
        let t = p.join().unwrap();
        tally.pushed += t.pushed;
        tally.blob_collected_first += t.blob_collected_first;
        tally.deleted += t.deleted;
        tally.live_checks += t.live_checks;
    }
    check_served(addr, false);
    check_disk(&data);
    assert_eq!(dir_entries(&data.join("trash")), Vec::<String>::new());
    let (runs, removed) = (
        gc_runs.load(Ordering::SeqCst),
        removed.load(Ordering::SeqCst),
    );
    eprintln!("{test}: {runs} gc runs removed {removed} blobs; {walks} walks; {tally:?}");
    assert!(runs >= MIN_GC_RUNS && tally.pushed as u64 >= MIN_PUSHES && tally.deleted > 0);
    (runs, removed, walks, tally)
}

#[test]
fn gc_with_zero_grace_racing_pushes_never_breaks_an_acknowledged_image() {
    let (_, removed, _, _) = race_gc(
        "gc_with_zero_grace_racing_pushes_never_breaks_an_acknowledged_image",
        &["--grace", "0s"],
        true,
    );
    assert!(
        removed > 0,
        "gc collected deleted images' blobs during the race"
    );
}

#[test]
fn gc_with_default_grace_racing_pushes_fails_no_push() {
    let (_, removed, _, tally) = race_gc(
        "gc_with_default_grace_racing_pushes_fails_no_push",
        &[],
        false,
    );
    assert_eq!(tally.blob_collected_first, 0);
    assert_eq!(removed, 0, "nothing is older than the grace period");
}

#[test]
fn a_gc_crash_between_trash_and_commit_is_undone() {
    let mut rng = seeded("a_gc_crash_between_trash_and_commit_is_undone");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let trash = data.join("trash");
    let mut server = start_on(&data);
    let image = make_image(&mut rng, "crash/app", "v1", None);
    push_image(server.addr, &image, &mut rng).unwrap();

    // gc died after moving a blob to the trash, before committing its row's deletion: the row
    // is still there. Also a trash file whose deletion did commit (no row).
    let victim = &image.blobs[1];
    std::fs::rename(
        blob_file(&data, &victim.digest),
        trash.join(victim.digest.replace(':', "-")),
    )
    .unwrap();
    let gone = Blob::new(rng.bytes(777));
    std::fs::write(trash.join(gone.digest.replace(':', "-")), &gone.data).unwrap();
    server.kill9();
    let mut server = start_on(&data);
    assert_eq!(
        dir_entries(&trash),
        Vec::<String>::new(),
        "reconciled at start"
    );
    assert_image(server.addr, &image, "restored at restart");
    assert!(!blob_file(&data, &gone.digest).exists());

    // The same state while the server keeps running: the next `vouch gc` restores it.
    let victim = &image.blobs[0];
    std::fs::rename(
        blob_file(&data, &victim.digest),
        trash.join(victim.digest.replace(':', "-")),
    )
    .unwrap();
    let report = gc(&data, &[]);
    assert_eq!(report.restored, 1, "{report:?}");
    assert_image(server.addr, &image, "restored by gc");

    // Real kills: many unreferenced blobs (more than one gc batch), then `vouch gc` killed as
    // it starts moving files to the trash, then at random moments until a run completes; after
    // each restart, the trash is empty, a blob is either served whole or unknown (never listed
    // without its bytes), and every file on disk hashes to its name.
    let junk: Vec<Blob> = (0..300)
        .map(|_| {
            let size = rng.range(16, 2000) as usize;
            Blob::new(rng.bytes(size))
        })
        .collect();
    let addr = server.addr;
    thread::scope(|s| {
        for part in junk.chunks(150) {
            s.spawn(move || {
                let mut rng = Rng::new(part.len() as u64);
                for blob in part {
                    upload_blob(
                        addr,
                        "crash/junk",
                        blob,
                        Upload::Monolithic,
                        &mut rng,
                        &mut None,
                    )
                    .unwrap();
                }
            });
        }
    });
    next_second();
    let (mut kills, mut caught_mid_delete, mut undone) = (0, 0, 0);
    for attempt in 0.. {
        assert!(attempt < 40, "gc never completed");
        let mut child = vouch()
            .arg("gc")
            .arg("--data")
            .arg(&data)
            .args(["--grace", "0s"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        if attempt < 3 {
            // The moment a file appears in the trash (inside the deleting transaction, or just
            // after its commit).
            let deadline = Instant::now() + PATIENCE;
            while child.try_wait().unwrap().is_none() && dir_entries(&trash).is_empty() {
                assert!(Instant::now() < deadline, "gc hung");
                thread::sleep(Duration::from_micros(100));
            }
        } else {
            // At a random moment, later and later until a run completes.
            thread::sleep(Duration::from_millis(rng.range(5, 60) + attempt * 5));
        }
        // What the kill left in the trash: blobs whose deletion committed (rows gone), and
        // blobs caught between the move and the commit (rows kept). Restart must remove the
        // former and put the latter back; which is which shows in what reappears under blobs/.
        let mut trashed: Vec<&Blob> = Vec::new();
        let completed = match child.try_wait().unwrap() {
            Some(status) => {
                assert!(status.success(), "{status:?}");
                true
            }
            None => {
                child.kill().unwrap();
                child.wait().unwrap();
                kills += 1;
                let in_trash = dir_entries(&trash);
                trashed = junk
                    .iter()
                    .filter(|b| in_trash.contains(&b.digest.replace(':', "-")))
                    .collect();
                false
            }
        };
        server.kill9();
        server = start_on(&data);
        let addr = server.addr;
        assert_eq!(dir_entries(&trash), Vec::<String>::new());
        let put_back = trashed
            .iter()
            .filter(|b| blob_file(&data, &b.digest).exists())
            .count();
        if put_back > 0 {
            caught_mid_delete += 1;
            undone += put_back;
        }
        assert_image(addr, &image, "referenced, through gc kills");
        let mut present = 0;
        for blob in &junk {
            let head = request(
                addr,
                "HEAD",
                &format!("/v2/crash/junk/blobs/{}", blob.digest),
                &[],
                b"",
            )
            .unwrap();
            match pull_blob(addr, "crash/junk", &blob.digest) {
                Some(bytes) => {
                    assert!(*bytes == *blob.data);
                    present += 1;
                }
                None => assert_eq!(head.status, 404, "listed without its bytes"),
            }
        }
        // Restored files hash to their names like every other.
        check_disk(&data);
        check_served(addr, false);
        if completed {
            assert_eq!(
                present, 0,
                "a completed gc collects every unreferenced blob"
            );
            for blob in &junk {
                assert!(
                    !blob_file(&data, &blob.digest).exists(),
                    "a completed gc leaves no file of an unreferenced blob, restored or not"
                );
            }
            break;
        }
    }
    eprintln!(
        "gc killed {kills} times, {caught_mid_delete} of them between trash and commit ({undone} blobs put back at restart); every restart consistent"
    );
}
