#!/usr/bin/env bash
# Benchmarks vouch against the CNCF Distribution registry (Debian's docker-registry) on
# loopback, same workload, same run, and prints each phase for both with the ratio
# vouch/Distribution (below 1 means vouch is faster or smaller).
#
#   bench/registry.sh            # full run (about 5 minutes on 2 cores)
#   SMALL=50 REPS=3 bench/registry.sh
#   REPS=0 bench/registry.sh     # small images only
#
# Needs: docker-registry skopeo umoci curl (.ci/install installs them) and a release build
# (the script runs `cargo build --release --locked`).
set -euo pipefail
cd "$(dirname "$0")/.."

SMALL=${SMALL:-200}          # small images pushed and pulled
REPS=${REPS:-5}              # repetitions of the large-image phases
LARGE_MIB=${LARGE_MIB:-256}  # size of the large image's random layer
PARALLEL=${PARALLEL:-8}
VOUCH_PORT=${VOUCH_PORT:-5101}
DIST_PORT=${DIST_PORT:-5102}

for t in docker-registry skopeo umoci curl; do
    command -v "$t" >/dev/null || { echo "bench: $t is not installed (run .ci/install)" >&2; exit 2; }
done
cargo build --release --locked --quiet
VOUCH=$PWD/target/release/vouch

# Server data lives on disk (fsync costs are part of what is measured); the client's images
# and what it pulls live in memory when /dev/shm has room, so that client-side disk writes do
# not add noise to the servers' figures.
W=$(mktemp -d /tmp/vouch-bench.XXXXXX)
C=$W/client
if [ -d /dev/shm ] && [ "$(df -k --output=avail /dev/shm | tail -1)" -gt $(( (LARGE_MIB * (PARALLEL + 3) + 512) * 1024 )) ]; then
    C=$(mktemp -d /dev/shm/vouch-bench.XXXXXX)
fi
mkdir -p "$C"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${KEEP:-}" ] && { echo "kept $W" >&2; rm -rf "$C"; return; }
    rm -rf "$W" "$C"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# containers/image remembers where it saw a blob and mounts it instead of uploading; clear
# that memory so every push really uploads.
forget_blobs() { rm -f /var/lib/containers/cache/blob-info-cache-v1.* "$HOME"/.local/share/containers/cache/blob-info-cache-v1.* 2>/dev/null || true; }

start_vouch() {
    rm -rf "$W/vouch-data"
    "$VOUCH" serve --addr "127.0.0.1:$VOUCH_PORT" --data "$W/vouch-data" >"$W/vouch.log" 2>&1 &
    VOUCH_PID=$!
    PIDS+=("$VOUCH_PID")
    wait_up "$VOUCH_PORT"
}

start_dist() {
    rm -rf "$W/dist-data"
    cat >"$W/dist.yml" <<YAML
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $W/dist-data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$DIST_PORT
YAML
    docker-registry serve "$W/dist.yml" >"$W/dist.log" 2>&1 &
    DIST_PID=$!
    PIDS+=("$DIST_PID")
    wait_up "$DIST_PORT"
}

wait_up() {
    for _ in $(seq 1 200); do
        # Any HTTP answer will do (a registry with users answers 401).
        curl -s -o /dev/null "http://127.0.0.1:$1/v2/" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "bench: server on port $1 did not start" >&2
    exit 2
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
peak_rss_mib() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

push() { skopeo copy -q --dest-tls-verify=false --preserve-digests "oci:$1" "docker://$2" >/dev/null; }
pull() { skopeo copy -q --src-tls-verify=false --preserve-digests "docker://$1" "dir:$2" >/dev/null; }

# ---------------------------------------------------------------- images, built offline
echo "building images in $C (servers in $W) ..." >&2
[ "$REPS" -gt 0 ] || LARGE_MIB=1
head -c "$((LARGE_MIB * 1024 * 1024))" /dev/urandom >"$C/large.bin"
umoci init --layout "$C/L" && umoci new --image "$C/L:large"
umoci insert --image "$C/L:large" "$C/large.bin" /large.bin
rm -f "$C/large.bin"
umoci init --layout "$C/S"
for i in $(seq 1 "$SMALL"); do
    head -c 2048 /dev/urandom >"$C/small.bin"
    umoci new --image "$C/S:s$i"
    umoci insert --image "$C/S:s$i" "$C/small.bin" /small.bin
done
LAYER=$(skopeo inspect --raw "oci:$C/L:large" | python3 -c 'import json,sys; m=json.load(sys.stdin); print(max(m["layers"], key=lambda l: l["size"])["digest"])')

declare -A RESULT
record() { RESULT["$1/$2"]=$3; }

# ---------------------------------------------------------------- large image
# Fresh servers for every repetition: a second push of the same blobs would be skipped.
for rep in $(seq 1 "$REPS"); do
    for srv in vouch dist; do
        if [ $srv = vouch ]; then start_vouch; port=$VOUCH_PORT; pid=$VOUCH_PID; else start_dist; port=$DIST_PORT; pid=$DIST_PID; fi
        forget_blobs
        sync # both servers start with no dirty pages of the other's run to flush
        t0=$(now_ms); push "$C/L:large" "127.0.0.1:$port/large/img:1"; t1=$(now_ms)
        echo $((t1 - t0)) >>"$W/$srv.large_push"
        peak_rss_mib "$pid" >>"$W/$srv.large_push_rss"
        t0=$(now_ms); pull "127.0.0.1:$port/large/img:1" "$C/pulled"; t1=$(now_ms)
        rm -rf "$C/pulled"
        echo $((t1 - t0)) >>"$W/$srv.large_pull"
        curl -fs -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port/v2/large/img/blobs/$LAYER" |
            awk '{printf "%d\n", $1*1000}' >>"$W/$srv.raw_get"
        # 8 parallel pulls of the large image.
        t0=$(now_ms)
        pulls=()
        for j in $(seq 1 "$PARALLEL"); do
            pull "127.0.0.1:$port/large/img:1" "$C/ppull$j" &
            pulls+=($!)
        done
        for p in "${pulls[@]}"; do wait "$p"; done
        t1=$(now_ms)
        rm -rf "$C"/ppull*
        echo $((t1 - t0)) >>"$W/$srv.large_parallel"
        peak_rss_mib "$pid" >>"$W/$srv.large_parallel_rss"
        stop "$pid"
    done
done

# ---------------------------------------------------------------- small images
start_vouch
start_dist
forget_blobs
for srv in vouch dist; do
    sync
    port=$([ $srv = vouch ] && echo $VOUCH_PORT || echo $DIST_PORT)
    for i in $(seq 1 "$SMALL"); do
        t0=$(now_ms); push "$C/S:s$i" "127.0.0.1:$port/small/img$i:1"; t1=$(now_ms)
        echo $((t1 - t0)) >>"$W/$srv.small_push"
    done
    for i in $(seq 1 "$SMALL"); do
        t0=$(now_ms); pull "127.0.0.1:$port/small/img$i:1" "$C/sp"; t1=$(now_ms)
        rm -rf "$C/sp"
        echo $((t1 - t0)) >>"$W/$srv.small_pull"
    done
    t0=$(now_ms)
    seq 1 "$SMALL" | xargs -P "$PARALLEL" -I{} sh -c "skopeo copy -q --src-tls-verify=false --preserve-digests docker://127.0.0.1:$port/small/img{}:1 dir:$C/pp{} >/dev/null && rm -rf $C/pp{}"
    t1=$(now_ms)
    echo $((t1 - t0)) >"$W/$srv.small_parallel"
done
peak_rss_mib "$VOUCH_PID" >"$W/vouch.final_rss"
peak_rss_mib "$DIST_PID" >"$W/dist.final_rss"
stop "$VOUCH_PID"
stop "$DIST_PID"

# ---------------------------------------------------------------- the gate's cost
# One vouch with a policy over gated/**: the same small images pushed to gated/ (each signed
# with the trusted key, so admitted) and to plain/ (no policy), then pulled by a pull-only
# user, alternating, so both see the same machine. The ratio is gated/ungated.
G=$W/gate
mkdir -p "$G"
VOUCH_PASSWORD= "$VOUCH" generate-key-pair --output-key-prefix "$G/release" 2>/dev/null
printf 'name: bench\nrepositories: ["gated/**"]\nauthorities:\n  - name: release\n    key: release.pub\n' >"$G/policy.yaml"
cat >"$G/vouch.toml" <<TOML
[[auth.users]]
name = "ci"
password = "$(printf ci-pass | "$VOUCH" hash-password --cost 4)"
access = [{ repos = "**", roles = ["push"] }]
[[auth.users]]
name = "deploy"
password = "$(printf deploy-pass | "$VOUCH" hash-password --cost 4)"
access = [{ repos = "**", roles = ["pull"] }]
[gate]
policies = ["policy.yaml"]
TOML
rm -rf "$W/vouch-data"
"$VOUCH" serve --addr "127.0.0.1:$VOUCH_PORT" --data "$W/vouch-data" --config "$G/vouch.toml" >"$W/vouch-gated.log" 2>&1 &
VOUCH_PID=$!
PIDS+=("$VOUCH_PID")
wait_up "$VOUCH_PORT"
forget_blobs
for i in $(seq 1 "$SMALL"); do
    for repo in gated plain; do
        skopeo copy -q --dest-tls-verify=false --preserve-digests --dest-creds ci:ci-pass \
            "oci:$C/S:s$i" "docker://127.0.0.1:$VOUCH_PORT/$repo/img$i:1" >/dev/null
    done
    VOUCH_PASSWORD= "$VOUCH" sign --key "$G/release.key" --allow-http-registry \
        --registry-username ci --registry-password ci-pass "127.0.0.1:$VOUCH_PORT/gated/img$i:1" \
        2>"$W/sign.err" || { cat "$W/sign.err" >&2; exit 1; }
done
for i in $(seq 1 "$SMALL"); do
    for repo in gated plain; do
        t0=$(now_ms)
        skopeo copy -q --src-tls-verify=false --preserve-digests --src-creds deploy:deploy-pass \
            "docker://127.0.0.1:$VOUCH_PORT/$repo/img$i:1" "dir:$C/gp" >/dev/null
        t1=$(now_ms)
        rm -rf "$C/gp"
        echo $((t1 - t0)) >>"$W/$repo.gate_pull"
    done
done
stop "$VOUCH_PID"

# ---------------------------------------------------------------- report
row() { # name file unit target
    local v d
    [ -s "$W/vouch.$2" ] || return 0 # phase not run (REPS=0 skips the large image)
    v=$(median <"$W/vouch.$2")
    d=$(median <"$W/dist.$2")
    awk -v n="$1" -v v="$v" -v d="$d" -v u="$3" -v t="$4" 'BEGIN {
        r = (d > 0) ? v / d : 0
        verdict = (t == "") ? "" : (r <= t ? "ok" : "MISSED")
        printf "%-44s %10.1f %-3s %10.1f %-3s %7.2f  %s%s\n", n, v, u, d, u, r, (t == "" ? "" : "target <= " t " "), verdict
    }'
}
echo
echo "vouch $("$VOUCH" --version | awk '{print $2}') vs CNCF Distribution ($(docker-registry --version 2>/dev/null | awk '{print $NF}' || echo '?')), $(nproc) cores, loopback"
echo "large image: ${LARGE_MIB} MiB random layer, medians of $REPS; small images: $SMALL of 2 KiB layers"
printf "%-44s %14s %14s %7s\n" phase vouch Distribution ratio
row "large push (skopeo)" large_push ms 1.0
row "large pull (skopeo)" large_pull ms 1.0
row "raw blob GET ${LARGE_MIB} MiB (curl)" raw_get ms 1.0
row "small push, per image (skopeo, sequential)" small_push ms 0.5
row "small pull, per image (skopeo, sequential)" small_pull ms 0.8
row "$SMALL small pulls, $PARALLEL in parallel (total)" small_parallel ms ""
row "$PARALLEL parallel pulls of the large image (total)" large_parallel ms ""
row "peak RSS during the large push" large_push_rss MiB ""
row "peak RSS after $PARALLEL parallel large pulls" large_parallel_rss MiB ""
row "peak RSS after the small-image phases" final_rss MiB ""
if [ -s "$W/gated.gate_pull" ]; then
    echo
    printf "%-44s %14s %14s %7s\n" "the gate (one vouch)" admitted ungated ratio
    awk -v g="$(median <"$W/gated.gate_pull")" -v p="$(median <"$W/plain.gate_pull")" -v n="$SMALL" 'BEGIN {
        r = (p > 0) ? g / p : 0
        printf "%-44s %10.1f ms  %10.1f ms  %7.2f  target <= 1.1 %s\n", "small pull of an admitted image, per image", g, p, r, (r <= 1.1 ? "ok" : "MISSED")
    }'
fi
[ -s "$W/vouch.large_push_rss" ] || exit 0
v=$(median <"$W/vouch.large_push_rss")
awk -v v="$v" 'BEGIN { printf "vouch peak RSS during the large push: %.1f MiB (target < 64 MiB: %s)\n", v, (v < 64 ? "ok" : "MISSED") }'
