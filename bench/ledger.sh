#!/usr/bin/env bash
# Measures the ledger's durable append rate, in process and over HTTP, on this machine:
#
# 1. In process (crates/ledger/examples/ledger_bench.rs): signed 512-byte build.recorded
#    entries submitted to `ledger::Ledger` from 1, 64 and 1024 concurrent tasks on a 2-worker
#    tokio runtime; acknowledged entries per second (each durable: fdatasync'd and in a signed
#    checkpoint), p50/p99/max latency to the acknowledgement, the batches group commit formed,
#    and the CPU the committer and the workers spent per entry. Then inclusion proofs in a tree
#    of 2^20 leaves: generation (ledger::tree::Tree) and verification (verify::merkle) rates.
# 2. Over HTTP (crates/ledger/examples/ledger_load.rs): `vouch serve` on 127.0.0.1 with a CI
#    key allowed build.recorded, and a load generator on the same machine posting the same kind
#    of entries to POST /ledger/add from 64 and 256 keep-alive connections; entries per second
#    answered 200, p50/p99/max, and the CPU of the server and of the generator per entry.
#
# There is no peer to compare with: the transparency logs one would measure against (Trillian,
# Tessera) are Go programs that need the network to build, and this benchmark runs offline. The
# reference is instead this machine's own ceilings, measured in the same run: Ed25519
# verifications per second on one core (every submission's signature is checked), leaf hashes
# per second, and fdatasyncs per second of a small append (what a batch waits for), so that the
# report reads "X entries/s = Y% of the 2-core Ed25519 ceiling".
#
# Goals: >= 20k entries/s in process with 1024 submitters on 2 cores, >= 5k/s over HTTP,
# p99 < 60 ms, an inclusion proof < 50 µs. Everything runs in a temporary directory under
# target/ (the repository's disk, never a tmpfs: the appends must really reach the disk),
# removed on exit; the server is stopped by its PID.
#
#   bench/ledger.sh                          # about 1 minute
#   SECONDS_PER_LEVEL=10 bench/ledger.sh     # longer levels
#   SUBMITTERS=1,64,1024 CONNECTIONS=64,256 bench/ledger.sh
#   VOUCH_LOG=warn bench/ledger.sh           # the server without its access log
#
# Needs: cargo, curl, python3 (a free port). Tests never assert on these times; the figures
# move with whatever else the machine is doing (the load average is printed before and after).
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_LEVEL=${SECONDS_PER_LEVEL:-5}
SUBMITTERS=${SUBMITTERS:-1,64,1024}
CONNECTIONS=${CONNECTIONS:-64,256}
TREE=${TREE:-1048576}

command -v curl >/dev/null || { echo "bench: curl is not installed" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench: python3 is not installed" >&2; exit 2; }
cargo build --release --locked --quiet -p cli
cargo build --release --locked --quiet -p ledger --example ledger_bench --example ledger_load
VOUCH=$PWD/target/release/vouch
EXAMPLES=$PWD/target/release/examples

W=$(mktemp -d "$PWD/target/ledger-bench.XXXXXX")
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$W"
}
trap cleanup EXIT

# How busy the machine is besides: the load average, and the share of the last minute in which
# some runnable task waited for a CPU (Linux pressure stall information), if the kernel says.
busy() {
    local psi=""
    [ -r /proc/pressure/cpu ] && psi=", CPU pressure $(awk '/^some/ {sub("avg60=", "", $3); print $3 "%"}' /proc/pressure/cpu) over the last minute"
    echo "load average $(cut -d' ' -f1-3 /proc/loadavg)$psi"
}
echo "vouch $("$VOUCH" --version | awk '{print $2}'); $(nproc) cores ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)); $(busy)"
echo "working directory $W: $(df -T "$W" | awk 'NR == 2 {print $2 " on " $1}')"
echo "no peer measured: Trillian and Tessera (Go) need the network to build; the reference is this machine's ceilings, measured below"

echo
echo "================ in process"
"$EXAMPLES/ledger_bench" --dir "$W" --seconds "$SECONDS_PER_LEVEL" --concurrency "$SUBMITTERS" \
    --tree "$TREE" | tee "$W/in-process.txt"

echo
echo "================ over HTTP"
"$EXAMPLES/ledger_load" keygen "$W"
cat >"$W/vouch.toml" <<'EOF'
[ledger]
origin = "bench.example/vouch-ledger"

[[ledger.submitters]]
name = "ci"
key = "ci.pub"
events = ["build.recorded"]
EOF
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$VOUCH" serve --addr "127.0.0.1:$PORT" --data "$W/data" --config "$W/vouch.toml" 2>"$W/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "bench: vouch serve exited:" >&2; cat "$W/server.log" >&2; exit 1; }
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null || { echo "bench: vouch serve is not answering" >&2; exit 1; }
echo "vouch serve on 127.0.0.1:$PORT (PID $SERVER_PID), data in $(df -T "$W/data" | awk 'NR == 2 {print $2 " on " $1}'), access log ${VOUCH_LOG:+VOUCH_LOG=$VOUCH_LOG, }to a file"
"$EXAMPLES/ledger_load" run --addr "127.0.0.1:$PORT" --key "$W/ci.key" --connections "$CONNECTIONS" \
    --seconds "$SECONDS_PER_LEVEL" --server-pid "$SERVER_PID" | tee "$W/http.txt"
echo "  the server's checkpoint: size $(curl -fsS "http://127.0.0.1:$PORT/ledger/checkpoint" | sed -n 2p)"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""

echo
echo "================ goals ($(busy))"
grep -h "goal:" "$W/in-process.txt" "$W/http.txt" | sed 's/^ *//'
