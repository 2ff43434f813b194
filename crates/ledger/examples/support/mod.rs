//! What the ledger's benchmark examples share: the workload (signed `build.recorded` entries of
//! a fixed size, signed before any timing starts), latency summaries and the machine's ceilings.
//! Not an example itself: Cargo only builds `examples/*.rs` and `examples/*/main.rs`.

#![allow(dead_code)] // Each example uses part of it.

use std::fs::OpenOptions;
use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ledger::{Authorities, Entry, Event, EventType, Submitter};
use verify::keys::{PrivateKey, PublicKey};
use verify::merkle;
use verify::time::Timestamp;

/// The size of every entry of the workload, in bytes.
pub const ENTRY_BYTES: usize = 512;

/// The submitter the workload is signed as: a CI key allowed `build.recorded` only.
pub fn ci_submitter(key: &PublicKey) -> Submitter {
    Submitter {
        name: "ci".into(),
        key: key.clone(),
        events: [EventType::BuildRecorded].into(),
    }
}

/// The workload's event number `n` of run `run`: a build of a digest of its own, with its
/// provenance as evidence, padded (`details.pad`) so that the signed entry has `pad` bytes more
/// than the unpadded one.
fn build_event(run: u64, n: u64, pad: usize) -> Event {
    let digest = |what: &str| {
        let seed = format!("{run}/{n}/{what}");
        oci::Digest::compute(oci::Algorithm::Sha256, seed.as_bytes())
    };
    let mut e = Event::new(
        EventType::BuildRecorded,
        Timestamp::from_unix(1_790_000_000),
        "ci",
    );
    e.subject.digest = Some(digest("image"));
    e.evidence = vec![digest("provenance")];
    e.details
        .insert("builder".into(), "https://ci.example".into());
    e.details.insert("pad".into(), "x".repeat(pad).into());
    e
}

/// Signs `count` distinct entries of [`ENTRY_BYTES`] bytes each with `key`, on `threads`
/// threads. `run` keeps the entries of different runs apart (the log answers the same bytes
/// twice as a duplicate, which costs it almost nothing).
pub fn sign_entries(key: &PrivateKey, run: u64, count: usize, threads: usize) -> Vec<Vec<u8>> {
    // Every field but the padding has a fixed length, so one probe fixes the padding.
    let probe = Entry::sign(build_event(run, 0, 0), key).expect("the workload's events sign");
    let base = probe.bytes().len();
    assert!(base < ENTRY_BYTES, "an unpadded entry is {base} bytes");
    let pad = ENTRY_BYTES - base;
    let threads = threads.max(1);
    let per = count.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let start = (t * per).min(count);
                let end = ((t + 1) * per).min(count);
                s.spawn(move || {
                    (start..end)
                        .map(|n| {
                            let e = Entry::sign(build_event(run, n as u64, pad), key)
                                .expect("the workload's events sign");
                            assert_eq!(e.bytes().len(), ENTRY_BYTES);
                            e.into_bytes()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        // A signing thread that panicked has already printed why.
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a signing thread panicked"))
            .collect()
    })
}

/// Latencies in microseconds, summarized.
pub struct Latencies {
    sorted: Vec<u64>,
}

impl Latencies {
    pub fn new(mut micros: Vec<u64>) -> Latencies {
        micros.sort_unstable();
        Latencies { sorted: micros }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// The `p`-th percentile (0 to 100), nearest rank.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.sorted.is_empty() {
            return 0;
        }
        let rank = ((p / 100.0) * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    pub fn max(&self) -> u64 {
        self.sorted.last().copied().unwrap_or(0)
    }

    /// `p50 1.23 ms  p99 4.56 ms  max 7.89 ms`.
    pub fn summary(&self) -> String {
        format!(
            "p50 {}  p99 {}  max {}",
            ms(self.percentile(50.0)),
            ms(self.percentile(99.0)),
            ms(self.max())
        )
    }
}

pub fn ms(micros: u64) -> String {
    format!("{:.2} ms", micros as f64 / 1000.0)
}

/// `12345.6` as `12.3k`.
pub fn rate(per_second: f64) -> String {
    if per_second >= 1e6 {
        format!("{:.2}M", per_second / 1e6)
    } else if per_second >= 1e3 {
        format!("{:.1}k", per_second / 1e3)
    } else {
        format!("{per_second:.0}")
    }
}

/// Runs `op` repeatedly, in rounds of `round` calls, for at least `at_least`; returns calls
/// per second.
pub fn per_second(at_least: Duration, round: usize, mut op: impl FnMut(usize)) -> f64 {
    let start = Instant::now();
    let mut calls = 0usize;
    while start.elapsed() < at_least {
        for i in 0..round {
            op(calls + i);
        }
        calls += round;
    }
    calls as f64 / start.elapsed().as_secs_f64()
}

/// This machine's limits for the ledger's work, each on one core.
pub struct Ceilings {
    /// Ed25519 signature verifications of an entry's signed message per second.
    pub ed25519_verify: f64,
    /// The whole stateless gate a submission passes (`Authorities::check`: canonical JSON
    /// parse, schema, allow-list, Ed25519) per second.
    pub gate: f64,
    /// RFC 6962 leaf hashes of an entry per second.
    pub leaf_hash: f64,
    /// A small append to a file and `fdatasync`, back to back.
    pub fsync: Timings,
    /// What the ledger does per batch besides its CPU work: append and `fdatasync` the log,
    /// then overwrite and `fdatasync` the small `checkpoint` file.
    pub commit: Timings,
}

/// Operations timed one by one, back to back.
pub struct Timings {
    pub per_second: f64,
    /// Microseconds each.
    pub each: Latencies,
    /// Microseconds of CPU (user and kernel) each, on average.
    pub cpu: f64,
}

/// Runs `op` back to back for at least `at_least`, timing each call.
pub fn timed(at_least: Duration, mut op: impl FnMut()) -> Timings {
    let start = Instant::now();
    let cpu_before = this_thread_cpu();
    let mut each = Vec::new();
    while start.elapsed() < at_least {
        let t0 = Instant::now();
        op();
        each.push(t0.elapsed().as_micros() as u64);
    }
    let cpu = (this_thread_cpu() - cpu_before) * 1e6 / each.len() as f64;
    Timings {
        per_second: each.len() as f64 / start.elapsed().as_secs_f64(),
        each: Latencies::new(each),
        cpu,
    }
}

impl Timings {
    fn line(&self, what: &str) -> String {
        format!(
            "  {what:<28} {:>9}/s  (mean {:.2} ms, p50 {}, p99 {}, max {}; {:.0} µs of CPU each)",
            rate(self.per_second),
            1e3 / self.per_second,
            ms(self.each.percentile(50.0)),
            ms(self.each.percentile(99.0)),
            ms(self.each.max()),
            self.cpu
        )
    }
}

/// Ed25519 verifications per second on one core of the signatures of `entries` (signed by
/// `key`), over `at_least`.
pub fn ed25519_verify_rate(entries: &[Vec<u8>], key: &PublicKey, at_least: Duration) -> f64 {
    let parsed: Vec<Entry> = entries[..entries.len().min(4096)]
        .iter()
        .map(|b| Entry::parse(b).expect("the workload parses"))
        .collect();
    let messages: Vec<Vec<u8>> = parsed
        .iter()
        .map(|e| ledger::event::signed_message(e.event_json()))
        .collect();
    let scheme = key.default_scheme();
    per_second(at_least, 256, |i| {
        let i = i % parsed.len();
        key.verify(scheme, &messages[i], &parsed[i].signature)
            .expect("the workload verifies");
    })
}

/// Measures [`Ceilings`] with `entries` (signed by `key`) in a scratch file under `dir`.
pub fn measure_ceilings(dir: &Path, entries: &[Vec<u8>], key: &PublicKey) -> Ceilings {
    let sample = &entries[..entries.len().min(4096)];
    let second = Duration::from_secs(1);
    let ed25519_verify = ed25519_verify_rate(entries, key, second);
    let mut authorities = Authorities::new();
    authorities.allow(ci_submitter(key));
    let gate = per_second(second, 256, |i| {
        black_box(
            authorities
                .check(&sample[i % sample.len()])
                .expect("the workload passes the gate"),
        );
    });
    let leaf_hash = per_second(second, 1024, |i| {
        black_box(merkle::leaf_hash(&sample[i % sample.len()]));
    });

    let path = dir.join("fsync-probe");
    let log = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .expect("the scratch directory is writable");
    let record = vec![b'e'; ENTRY_BYTES + 37];
    let mut end = 0u64;
    let fsync = timed(2 * second, || {
        log.write_all_at(&record, end)
            .and_then(|()| log.sync_data())
            .expect("append and fdatasync");
        end += record.len() as u64;
    });
    let cp_path = dir.join("fsync-probe-checkpoint");
    let cp = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&cp_path)
        .expect("the scratch directory is writable");
    let note = vec![b'c'; 300];
    cp.write_all_at(&note, 0)
        .expect("the scratch directory is writable");
    // As the ledger does it: the checkpoint file stays open and is overwritten in place (its
    // length changes only when the size gains a digit).
    let commit = timed(2 * second, || {
        log.write_all_at(&record, end)
            .and_then(|()| log.sync_data())
            .and_then(|()| cp.write_all_at(&note, 0))
            .and_then(|()| cp.sync_data())
            .expect("append, fdatasync, overwrite, fdatasync");
        end += record.len() as u64;
    });
    drop((log, cp));
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(&cp_path);
    Ceilings {
        ed25519_verify,
        gate,
        leaf_hash,
        fsync,
        commit,
    }
}

impl Ceilings {
    pub fn print(&self) {
        println!("this machine's ceilings, measured in this run (CPU figures on one core):");
        println!(
            "  Ed25519 verifications        {:>9}/s  ({:.1} µs)",
            rate(self.ed25519_verify),
            1e6 / self.ed25519_verify
        );
        println!(
            "  stateless gate per entry     {:>9}/s  ({:.1} µs: parse, schema, allow-list, Ed25519)",
            rate(self.gate),
            1e6 / self.gate
        );
        println!(
            "  leaf hashes of 512 B         {:>9}/s  ({:.2} µs)",
            rate(self.leaf_hash),
            1e6 / self.leaf_hash
        );
        println!("{}", self.fsync.line("append 549 B + fdatasync"));
        println!("{}", self.commit.line("a batch's two syncs"));
        println!(
            "  (a batch's two syncs: append + fdatasync the log, overwrite + fdatasync the checkpoint file)"
        );
    }
}

/// The file system that holds `path`: type, source and mount point, from /proc/self/mountinfo.
pub fn filesystem_of(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return "unknown (no /proc/self/mountinfo)".into();
    };
    // Fields: id parent major:minor root mount-point options [optional...] - type source super.
    let best = info
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let mount = PathBuf::from(unescape(fields.get(4)?));
            let dash = fields.iter().position(|f| *f == "-")?;
            let fstype = fields.get(dash + 1)?;
            let source = fields.get(dash + 2)?;
            path.starts_with(&mount).then(|| {
                (
                    mount.clone(),
                    format!("{fstype} on {source}, mounted at {}", mount.display()),
                )
            })
        })
        .max_by_key(|(mount, _)| mount.components().count());
    best.map_or_else(|| "unknown".into(), |(_, what)| what)
}

/// mountinfo escapes spaces and a few other bytes as `\ooo`.
fn unescape(field: &str) -> String {
    let mut out = String::new();
    let mut rest = field;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        match u8::from_str_radix(rest.get(at + 1..at + 4).unwrap_or(""), 8) {
            Ok(b) => {
                out.push(char::from(b));
                rest = &rest[at + 4..];
            }
            Err(_) => {
                out.push('\\');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Seconds the calling thread has spent on a CPU, from /proc/thread-self/schedstat; 0 if it
/// cannot be read.
pub fn this_thread_cpu() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

/// Seconds a set of threads spent on a CPU, and runnable but waiting for one.
#[derive(Clone, Copy, Default)]
pub struct Sched {
    pub cpu: f64,
    pub waiting: f64,
}

impl std::ops::Sub for Sched {
    type Output = Sched;
    fn sub(self, o: Sched) -> Sched {
        Sched {
            cpu: self.cpu - o.cpu,
            waiting: self.waiting - o.waiting,
        }
    }
}

/// [`Sched`] of the threads of process `pid` whose names start with each of `prefixes` (all
/// threads for an empty prefix), summed per prefix, from /proc/PID/task/*/schedstat (CPU time
/// and run-queue wait, in nanoseconds). Zeros where /proc cannot tell.
pub fn thread_sched(pid: u32, prefixes: &[&str]) -> Vec<Sched> {
    let mut out = vec![Sched::default(); prefixes.len()];
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        let (Ok(comm), Ok(stat)) = (
            std::fs::read_to_string(task.path().join("comm")),
            std::fs::read_to_string(task.path().join("schedstat")),
        ) else {
            continue;
        };
        let mut fields = stat
            .split_whitespace()
            .map(|f| f.parse::<f64>().unwrap_or(0.0));
        let (cpu, waiting) = (fields.next().unwrap_or(0.0), fields.next().unwrap_or(0.0));
        if let Some(i) = prefixes.iter().position(|p| comm.starts_with(p)) {
            out[i].cpu += cpu / 1e9;
            out[i].waiting += waiting / 1e9;
        }
    }
    out
}
