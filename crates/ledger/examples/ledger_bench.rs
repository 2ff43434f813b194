//! In-process benchmark of the ledger: acknowledged durable appends per second of signed
//! 512-byte entries with 1, 64 and 1024 concurrent submitters, latency to acknowledgement and
//! the batches group commit formed; then inclusion proof generation and verification in a tree
//! of a million leaves; and, for scale, this machine's ceilings measured in the same run
//! (Ed25519 verifications, leaf hashes, `fdatasync`s of a small append).
//!
//! ```text
//! cargo run --release -p ledger --example ledger_bench -- \
//!     [--seconds 5] [--entries 200000] [--concurrency 1,64,1024] [--tree 1048576] [--dir DIR]
//! ```
//! The runtime is tokio's multi-threaded one with 2 workers, as on a 2-core server: the 1024
//! submitters are tasks on those 2 threads, which check each submission and put it in the
//! log's order themselves; the ledger's committer (the I/O) is its own thread. The entries are
//! signed before any timing (signing is the submitter's cost, not the log's; the signing rate
//! is printed). A latency runs from a task starting a submission to the task running again
//! with its receipt, so it includes the wait for a worker after the acknowledgement: with every
//! submitter keeping one entry in flight, the mean is the submitters over the rate (Little's
//! law, about 1024 / 30k/s = 34 ms), and the ledger moves it through its rate and its pauses.
//! Each concurrency level gets a fresh ledger in a temporary directory under `--dir` (default:
//! the workspace's `target/`, on the repository's disk: every acknowledgement waits for a real
//! `fdatasync`, so never point it at a tmpfs) and runs for `--seconds` or until the `--entries`
//! signed entries are used up.
//! The number of batches comes from the receipts: every batch ends in a checkpoint of its own
//! size, so the distinct checkpoint sizes the receipts carry are the batches.
//! Exits non-zero if any submission fails: a timing of failures would mean nothing.

mod support;

use std::hint::black_box;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ledger::tree::Tree;
use ledger::{Config, Ledger};
use support::{Ceilings, Latencies, ms, rate};
use verify::keys::{KeyKind, PrivateKey};
use verify::merkle::{self, Hash};

const COMMITTER: &str = "ledger-commit";
const WORKER: &str = "bench-worker";

struct Args {
    seconds: f64,
    entries: usize,
    concurrency: Vec<usize>,
    tree: u64,
    dir: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        seconds: 5.0,
        entries: 200_000,
        concurrency: vec![1, 64, 1024],
        tree: 1 << 20,
        dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| {
            v.parse::<f64>()
                .map_err(|_| format!("{flag}: {v:?} is not a number"))
        };
        match flag.as_str() {
            "--seconds" => args.seconds = number(value()?)?,
            "--entries" => args.entries = number(value()?)? as usize,
            "--tree" => args.tree = number(value()?)? as u64,
            "--dir" => args.dir = PathBuf::from(value()?),
            "--concurrency" => {
                args.concurrency = value()?
                    .split(',')
                    .map(|c| {
                        c.trim()
                            .parse::<usize>()
                            .map_err(|_| format!("--concurrency: {c:?}"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.entries == 0 || args.tree < 2 || args.concurrency.contains(&0) {
        return Err("--entries, --tree and every --concurrency must be positive".into());
    }
    Ok(args)
}

fn main() -> ExitCode {
    match parse_args().and_then(|args| run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ledger_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What one concurrency level measured.
struct Level {
    concurrency: usize,
    acknowledged: usize,
    elapsed: Duration,
    latencies: Latencies,
    /// The size of each batch, in log order.
    batches: Vec<u64>,
    /// When each acknowledgement arrived, in microseconds from the start, in order.
    acks: Vec<u64>,
    /// The committer thread's and the runtime workers' time on a CPU and waiting for one.
    committer: support::Sched,
    workers: support::Sched,
    pool_exhausted: bool,
}

fn run(args: &Args) -> Result<(), String> {
    std::fs::create_dir_all(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    let dir = args.dir.canonicalize().unwrap_or_else(|_| args.dir.clone());
    let scratch = tempfile::Builder::new()
        .prefix("ledger-bench.")
        .tempdir_in(&dir)
        .map_err(|e| format!("{}: {e}", args.dir.display()))?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "ledger_bench: {cores} cores; tokio runtime with 2 workers; the committer is its own thread"
    );
    println!(
        "ledger directories under {} ({})",
        scratch.path().display(),
        support::filesystem_of(scratch.path())
    );
    if support::filesystem_of(scratch.path()).starts_with("tmpfs") {
        println!(
            "  WARNING: a tmpfs: fdatasync does nothing there, these figures are not durable appends"
        );
    }

    let key = PrivateKey::generate(KeyKind::Ed25519).map_err(|e| e.to_string())?;
    let public = key.public_key().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let entries = Arc::new(support::sign_entries(&key, 0, args.entries, 2));
    let signing = started.elapsed();
    println!(
        "signed {} entries of {} bytes (build.recorded, Ed25519) in {:.2} s on 2 threads: {}/s, before any timing",
        entries.len(),
        support::ENTRY_BYTES,
        signing.as_secs_f64(),
        rate(entries.len() as f64 / signing.as_secs_f64())
    );
    println!();
    let ceilings = support::measure_ceilings(scratch.path(), &entries, &public);
    ceilings.print();
    println!();
    breakdown(&entries, &public)?;
    println!();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(WORKER)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let config = Config {
        origin: "bench.example/vouch-ledger".into(),
        submitters: vec![support::ci_submitter(&public)],
    };
    let duration = Duration::from_secs_f64(args.seconds);
    let mut levels = Vec::new();
    let mut last_ledger = None;
    for &concurrency in &args.concurrency {
        let dir = scratch.path().join(format!("c{concurrency}"));
        let (ledger, _) = Ledger::open(&dir, config.clone()).map_err(|e| e.to_string())?;
        let level = runtime.block_on(submit_level(&ledger, &entries, concurrency, duration))?;
        print_level(&level);
        levels.push(level);
        if let Some((old, old_dir)) = last_ledger.replace((ledger, dir)) {
            close(old, &old_dir);
        }
    }
    println!();
    print_levels(&levels, &ceilings);

    println!();
    proofs(args.tree);
    if let Some((ledger, dir)) = last_ledger {
        ledger_proofs(&ledger);
        close(ledger, &dir);
    }
    Ok(())
}

fn close(ledger: Ledger, dir: &std::path::Path) {
    ledger.close();
    drop(ledger);
    let _ = std::fs::remove_dir_all(dir);
}

/// Submits entries from `concurrency` tasks, each one at a time, for `duration` or until the
/// entries run out.
async fn submit_level(
    ledger: &Ledger,
    entries: &Arc<Vec<Vec<u8>>>,
    concurrency: usize,
    duration: Duration,
) -> Result<Level, String> {
    let next = Arc::new(AtomicUsize::new(0));
    let sched_before = support::thread_sched(std::process::id(), &[COMMITTER, WORKER]);
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let ledger = ledger.clone();
            let entries = Arc::clone(entries);
            let next = Arc::clone(&next);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut sizes = Vec::new();
                let mut acks = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= entries.len() || start.elapsed() >= duration {
                        return Ok::<_, String>((latencies, sizes, acks));
                    }
                    let t0 = Instant::now();
                    let receipt = ledger
                        .submit(&entries[i])
                        .await
                        .map_err(|e| format!("entry {i}: {e}"))?;
                    latencies.push(t0.elapsed().as_micros() as u64);
                    acks.push(start.elapsed().as_micros() as u64);
                    if receipt.duplicate {
                        return Err(format!("entry {i} was answered as a duplicate"));
                    }
                    sizes.push(receipt.checkpoint.checkpoint().size());
                }
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut sizes = Vec::new();
    let mut acks = Vec::new();
    for t in tasks {
        let (l, s, a) = t.await.map_err(|e| e.to_string())??;
        latencies.extend(l);
        sizes.extend(s);
        acks.extend(a);
    }
    acks.sort_unstable();
    let elapsed = start.elapsed();
    let sched_after = support::thread_sched(std::process::id(), &[COMMITTER, WORKER]);
    sizes.sort_unstable();
    sizes.dedup();
    // The ledger is fresh: its first batch starts at 0.
    let batches = sizes
        .iter()
        .scan(0u64, |prev, &s| {
            let n = s - *prev;
            *prev = s;
            Some(n)
        })
        .collect();
    Ok(Level {
        concurrency,
        acknowledged: latencies.len(),
        elapsed,
        latencies: Latencies::new(latencies),
        batches,
        acks,
        committer: sched_after[0] - sched_before[0],
        workers: sched_after[1] - sched_before[1],
        pool_exhausted: next.load(Ordering::Relaxed) >= entries.len(),
    })
}

impl Level {
    fn per_second(&self) -> f64 {
        self.acknowledged as f64 / self.elapsed.as_secs_f64()
    }

    /// Microseconds of CPU (committer and workers) per entry acknowledged.
    fn cpu_per_entry(&self) -> f64 {
        1e6 * (self.committer.cpu + self.workers.cpu) / self.acknowledged.max(1) as f64
    }
}

fn print_level(level: &Level) {
    let secs = level.elapsed.as_secs_f64();
    let batches = level.batches.len().max(1) as f64;
    println!(
        "{:>5} submitters: {} acknowledged in {:.2} s{} = {}/s; latency {}",
        level.concurrency,
        level.acknowledged,
        secs,
        if level.pool_exhausted {
            " (all signed entries used)"
        } else {
            ""
        },
        rate(level.per_second()),
        level.latencies.summary()
    );
    println!(
        "        batches: {} ({}/s, one every {:.2} ms), mean {:.1} entries, max {}",
        level.batches.len(),
        rate(batches / secs),
        1e3 * secs / batches,
        level.acknowledged as f64 / batches,
        level.batches.iter().max().copied().unwrap_or(0)
    );
    // Pauses: stretches with no acknowledgement at all (a slow fdatasync, or the committer
    // not running), which every submitter in flight waits through.
    let gaps: Vec<u64> = level.acks.windows(2).map(|w| w[1] - w[0]).collect();
    let long: Vec<u64> = gaps.iter().copied().filter(|g| *g >= 10_000).collect();
    println!(
        "        pauses without any acknowledgement: longest {}, {} of 10 ms or more ({} in all, {:.1}% of the run)",
        ms(gaps.iter().max().copied().unwrap_or(0)),
        long.len(),
        ms(long.iter().sum()),
        100.0 * long.iter().sum::<u64>() as f64 / 1e6 / secs
    );
    let per_entry = |s: f64| 1e6 * s / level.acknowledged.max(1) as f64;
    println!(
        "        CPU: committer {:.0}% of a core ({:.1} µs an entry), runtime workers {:.0}% of a core ({:.1} µs an entry)",
        100.0 * level.committer.cpu / secs,
        per_entry(level.committer.cpu),
        100.0 * level.workers.cpu / secs,
        per_entry(level.workers.cpu),
    );
    println!(
        "        runnable but waiting for a CPU: committer {:.0}% of the run, runtime workers {:.0}% (of a core each, summed)",
        100.0 * level.committer.waiting / secs,
        100.0 * level.workers.waiting / secs,
    );
}

fn print_levels(levels: &[Level], ceilings: &Ceilings) {
    let ed_2core = 2.0 * ceilings.ed25519_verify;
    let gate_2core = 2.0 * ceilings.gate;
    println!("summary (in process, durable: every acknowledgement waited for fdatasync):");
    println!(
        "  {:>11} {:>10} {:>9} {:>9} {:>9} {:>6} {:>10} {:>10} {:>14}",
        "submitters",
        "entries/s",
        "p50",
        "p99",
        "max",
        "batch",
        "CPU/entry",
        "2-core cap",
        "of 2-core Ed"
    );
    for l in levels {
        let r = l.per_second();
        let cpu = l.cpu_per_entry();
        println!(
            "  {:>11} {:>10} {:>9} {:>9} {:>9} {:>6.1} {:>7.1} µs {:>10} {:>13.1}%",
            l.concurrency,
            format!("{r:.0}"),
            ms(l.latencies.percentile(50.0)),
            ms(l.latencies.percentile(99.0)),
            ms(l.latencies.max()),
            l.acknowledged as f64 / l.batches.len().max(1) as f64,
            cpu,
            format!("{:.0}", 2e6 / cpu),
            100.0 * r / ed_2core,
        );
    }
    println!(
        "  (batch: mean entries a batch; CPU/entry: the committer's and the workers' CPU time per entry \
         acknowledged; 2-core cap: 2 s of CPU / CPU/entry, the rate at that cost had the process both \
         cores to itself: an estimate, where entries/s is measured)"
    );
    println!(
        "  (2-core ceilings: Ed25519 {}/s, the stateless gate {}/s; the disk: append + fdatasync \
         {}/s, a batch's two syncs {}/s)",
        rate(ed_2core),
        rate(gate_2core),
        rate(ceilings.fsync.per_second),
        rate(ceilings.commit.per_second)
    );
    if let Some(l) = levels.iter().find(|l| l.concurrency == 1024) {
        let r = l.per_second();
        let p99 = l.latencies.percentile(99.0);
        println!(
            "  goal: >= 20000 entries/s with 1024 submitters: {r:.0}/s = {:.1}% of the 2-core Ed25519 ceiling \
             (at {:.1} µs of CPU an entry, {:.0}/s on two free cores): {}",
            100.0 * r / ed_2core,
            l.cpu_per_entry(),
            2e6 / l.cpu_per_entry(),
            verdict(r >= 20_000.0)
        );
        println!(
            "  goal: p99 < 60 ms with 1024 submitters: {}: {}",
            ms(p99),
            verdict(p99 < 60_000)
        );
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "ok" } else { "MISSED" }
}

/// What one entry costs each step of the way, on one core, with no concurrency, from the
/// crate's public parts: all of it on the submitter's thread (a runtime worker) in
/// `Ledger::submit`: the stateless gate, then, under the state's lock, the rules, the record
/// and the tree. The committer, per batch, signs a checkpoint, makes the batch durable and
/// wakes the batch's submitters: amortized over the batch, and in the in-process levels' CPU
/// figures below.
fn breakdown(entries: &[Vec<u8>], key: &verify::keys::PublicKey) -> Result<(), String> {
    let n = entries.len().min(100_000);
    let entries = &entries[..n];
    let mut authorities = ledger::Authorities::new();
    authorities.allow(support::ci_submitter(key));
    let time = |f: &mut dyn FnMut()| {
        let t0 = Instant::now();
        f();
        t0.elapsed().as_secs_f64() * 1e6 / n as f64
    };
    let mut parsed = Vec::with_capacity(n);
    let parse = time(&mut || {
        parsed.extend(
            entries
                .iter()
                .map(|b| ledger::Entry::parse(b).expect("the workload parses")),
        );
    });
    let signature = time(&mut || {
        for e in &parsed {
            e.verify_signature(key).expect("the workload verifies");
        }
    });
    let gate = time(&mut || {
        for b in entries {
            black_box(authorities.check(b).expect("the workload passes the gate"));
        }
    });
    let mut leaves = Vec::with_capacity(n);
    let leaf = time(&mut || leaves.extend(entries.iter().map(|b| merkle::leaf_hash(b))));
    let mut state = ledger::State::new();
    let apply = time(&mut || {
        for (e, l) in parsed.iter().zip(&leaves) {
            state.apply(e, *l).expect("the workload is consistent");
        }
    });
    let mut tree = Tree::new();
    let push = time(&mut || leaves.iter().for_each(|l| tree.push(*l)));
    let mut buf = Vec::with_capacity(n * (support::ENTRY_BYTES + 64));
    let encode = time(&mut || {
        for (b, l) in entries.iter().zip(&leaves) {
            ledger::store::encode_entry(&mut buf, b, l);
        }
    });
    let drop_entry = time(&mut || drop(std::mem::take(&mut parsed)));
    drop(state);
    let signer = verify::note::Signer::from_seed("bench.example/vouch-ledger", &[7; 32])
        .map_err(|e| e.to_string())?;
    let checkpoint = verify::checkpoint::Checkpoint::new(
        "bench.example/vouch-ledger",
        tree.size(),
        tree.root(tree.size()).expect("size is the tree's"),
    )
    .map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let signs = 2000;
    for _ in 0..signs {
        black_box(
            verify::checkpoint::SignedCheckpoint::sign(checkpoint.clone(), &signer)
                .map_err(|e| e.to_string())?,
        );
    }
    let sign_checkpoint = t0.elapsed().as_secs_f64() * 1e6 / f64::from(signs);

    let order = leaf + apply + push + encode + drop_entry;
    println!("one entry's CPU, step by step (one core, {n} entries, no concurrency):");
    let rows: [(&str, f64); 10] = [
        (
            "submitter's side (a runtime worker): the stateless gate",
            gate,
        ),
        ("  Entry::parse (JSON, canonical form, schema)", parse),
        ("  Ed25519 verification of its signature", signature),
        ("then its place in the log's order", order),
        ("  leaf hash (before taking the state's lock)", leaf),
        ("  State::apply (rules and indexes)", apply),
        ("  Tree::push", push),
        ("  store::encode_entry (into the forming batch)", encode),
        ("  dropping the parsed Entry", drop_entry),
        (
            "per batch, on the committer: signing its checkpoint",
            sign_checkpoint,
        ),
    ];
    for (what, micros) in rows {
        println!("  {what:<56} {micros:>7.2} µs");
    }
    println!(
        "  => at most {}/s on 2 cores with nothing else on them (2 s of CPU / {:.1} µs an entry)",
        rate(2e6 / (gate + order)),
        gate + order
    );
    Ok(())
}

/// A small deterministic generator of indexes (xorshift64*): no dependency, same every run.
struct Indexes(u64);

impl Indexes {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Inclusion proofs in a tree of `size` leaves built with `ledger::tree::Tree`.
fn proofs(size: u64) {
    let started = Instant::now();
    let mut tree = Tree::new();
    for i in 0..size {
        tree.push(merkle::leaf_hash(&i.to_be_bytes()));
    }
    let built = started.elapsed();
    let root = tree.root(size).expect("size is the tree's");
    println!(
        "inclusion proofs in a tree of {size} leaves (ledger::tree::Tree; built in {:.2} s, {}/s leaf hash + push):",
        built.as_secs_f64(),
        rate(size as f64 / built.as_secs_f64())
    );
    let count = 200_000;
    let mut rng = Indexes(0x9e37_79b9_7f4a_7c15);
    let indexes: Vec<u64> = (0..count).map(|_| rng.below(size)).collect();
    // Generation, timed one proof at a time for the percentiles, and as a whole.
    let mut each = Vec::with_capacity(count);
    let mut proofs: Vec<Vec<Hash>> = Vec::with_capacity(count);
    let started = Instant::now();
    for &i in &indexes {
        let t0 = Instant::now();
        let p = tree
            .inclusion_proof(i, size)
            .expect("the index is in the tree");
        each.push(t0.elapsed().as_nanos() as u64);
        proofs.push(p);
    }
    let total = started.elapsed();
    let each = Latencies::new(each);
    let per = total.as_secs_f64() / count as f64;
    println!(
        "  generate: {}/s on one core, {:.2} µs a proof (p50 {:.2} µs, p99 {:.2} µs, max {:.1} µs; {} hashes a proof); goal < 50 µs: {}",
        rate(1.0 / per),
        per * 1e6,
        each.percentile(50.0) as f64 / 1e3,
        each.percentile(99.0) as f64 / 1e3,
        each.max() as f64 / 1e3,
        proofs[0].len(),
        verdict(each.percentile(99.0) < 50_000)
    );
    let started = Instant::now();
    for (&i, p) in indexes.iter().zip(&proofs) {
        let leaf = merkle::leaf_hash(&i.to_be_bytes());
        merkle::verify_inclusion(i, size, &leaf, p, &root).expect("the proof verifies");
    }
    let per = started.elapsed().as_secs_f64() / count as f64;
    println!(
        "  verify:   {}/s on one core, {:.2} µs a proof (verify::merkle::verify_inclusion, the leaf hash included)",
        rate(1.0 / per),
        per * 1e6
    );
}

/// Inclusion proofs through `Ledger::inclusion_proof` (the read lock, the published size),
/// as the server serves them, against the ledger's latest checkpoint.
fn ledger_proofs(ledger: &Ledger) {
    let size = ledger.size();
    if size < 2 {
        return;
    }
    let count = 200_000;
    let mut rng = Indexes(0x2545_f491_4f6c_dd1d);
    let indexes: Vec<u64> = (0..count).map(|_| rng.below(size)).collect();
    let started = Instant::now();
    for &i in &indexes {
        black_box(
            ledger
                .inclusion_proof(i, size)
                .expect("the index is in the log"),
        );
    }
    let per = started.elapsed().as_secs_f64() / count as f64;
    println!(
        "  Ledger::inclusion_proof in the last level's log of {size} entries: {}/s on one core, {:.2} µs a proof",
        rate(1.0 / per),
        per * 1e6
    );
}
