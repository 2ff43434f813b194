#!/usr/bin/env bash
# Times Sigstore bundle verification by vouch, sigstore-js and sigstore-python in one run, on
# the conformance cases (../shared/fixtures/signing/sigstore-conformance/bundle-verify) that are
# expected to verify and that all three accept, found in the run; prints each verifier's median
# per-process wall time (process start to exit, as the shell sees it) and the ratio peer/vouch,
# then vouch's in-process figures (crates/verify/examples/verify_bench.rs).
#
#   bench/verify.sh              # about 3 minutes on 2 cores; sigstore-python dominates
#   REPS=5 bench/verify.sh       # more repetitions per case and verifier
#   VERBOSE=1 bench/verify.sh    # also one line per case
#   ITERATIONS=5000 bench/verify.sh   # in-process verifications per bundle
#
# Needs: node with .peers/sigstore-js installed, and the `sigstore` CLI (sigstore-python), both
# installed by .ci/install; release builds (the script runs `cargo build --release --locked`).
# Tests never assert on these times.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C # EPOCHREALTIME with a decimal point

REPS=${REPS:-3}
ITERATIONS=${ITERATIONS:-2000}
VERBOSE=${VERBOSE:-}
F=$PWD/../shared/fixtures/signing/sigstore-conformance/bundle-verify
TRUST=$PWD/../shared/fixtures/signing/trust
DEFAULT_ID=https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main
DEFAULT_ISS=https://token.actions.githubusercontent.com
JS=$PWD/.peers/sigstore-js

[ -d "$F" ] || { echo "bench: no conformance cases at $F" >&2; exit 2; }
command -v node >/dev/null && [ -d "$JS/node_modules/@sigstore/verify" ] ||
    { echo "bench: sigstore-js is not installed in $JS (run .ci/install)" >&2; exit 2; }
command -v sigstore >/dev/null ||
    { echo "bench: the sigstore CLI (sigstore-python) is not installed (run .ci/install)" >&2; exit 2; }
cargo build --release --locked --quiet -p cli
cargo build --release --locked --quiet -p verify --example verify_bench
VOUCH=$PWD/target/release/vouch

W=$(mktemp -d /tmp/vouch-verify-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT

VERIFIERS=(vouch sigstore-js sigstore-python)

# The inputs of case $1, as sigstore-conformance.sh reads them: ART, ID, ISS, TR, KEY (empty
# for keyless) and TC, sigstore-python's trust config wrapping the case's trusted root.
load_case() {
    local d=$F/$1
    ART=$F/a.txt; [ -f "$d/artifact" ] && ART=$d/artifact
    ID=$DEFAULT_ID; [ -f "$d/identity" ] && ID=$(<"$d/identity")
    ISS=$DEFAULT_ISS; [ -f "$d/issuer" ] && ISS=$(<"$d/issuer")
    TR=$TRUST/public-good-trusted_root.json; [ -f "$d/trusted_root.json" ] && TR=$d/trusted_root.json
    KEY=""; [ -f "$d/key.pub" ] && KEY=$d/key.pub
    BUNDLE=$d/bundle.sigstore.json
    TC=$W/tc-$1.json
    if [ ! -f "$TC" ]; then
        python3 -c 'import json, sys; json.dump({"mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json", "trustedRoot": json.load(open(sys.argv[1])), "signingConfig": json.load(open(sys.argv[2]))}, open(sys.argv[3], "w"))' \
            "$TR" "$TRUST/public-good-signing_config.v0.2.json" "$TC"
    fi
}

# Verifies the loaded case with verifier $1; the exit status says whether it verified.
verify_with() {
    local auth
    if [ -n "$KEY" ]; then auth=(--key "$KEY"); else auth=(--certificate-identity "$ID" --certificate-oidc-issuer "$ISS"); fi
    case $1 in
        vouch) "$VOUCH" verify-blob --bundle "$BUNDLE" --trusted-root "$TR" "${auth[@]}" "$ART" ;;
        sigstore-js) node "$JS/verify-blob.js" --bundle "$BUNDLE" --trusted-root "$TR" "${auth[@]}" "$ART" ;;
        sigstore-python)
            # Keyless only: sigstore-python verifies key-signed bundles from its API, not its CLI.
            [ -z "$KEY" ] || return 1
            sigstore --trust-config "$TC" verify identity --offline --bundle "$BUNDLE" \
                --cert-identity "$ID" --cert-oidc-issuer "$ISS" "$ART"
            ;;
    esac
}

# Runs verify_with and sets US to its wall time in microseconds: from just before the process
# is started to just after it exited (bash's EPOCHREALTIME reads the clock without a process).
timed() {
    local t0=$EPOCHREALTIME rc=0
    verify_with "$1" >/dev/null 2>&1 || rc=$?
    local t1=$EPOCHREALTIME
    US=$(( ${t1/./} - ${t0/./} ))
    return $rc
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# ---------------------------------------------------------------- which cases all three accept
# Each verifier runs each case once (this also warms the page cache and Python's bytecode);
# a case counts if it is expected to verify and all three say it does.
CASES=()
expected=0
for d in "$F"/*/; do
    d=${d%/}; c=${d##*/}
    [[ $c == *_fail ]] && continue
    expected=$((expected + 1))
    load_case "$c"
    ok=1
    for v in "${VERIFIERS[@]}"; do
        verify_with "$v" >/dev/null 2>&1 && continue
        ok=0
        if [ "$v" = sigstore-python ] && [ -n "$KEY" ]; then
            echo "  $c: key-signed; sigstore-python's CLI verifies keyless bundles only" >>"$W/excluded"
        else
            echo "  $c: $v does not accept it" >>"$W/excluded"
        fi
    done
    ((ok)) && CASES+=("$c")
done
((${#CASES[@]})) || { echo "bench: no case that all three verifiers accept" >&2; cat "$W/excluded" >&2; exit 1; }

# ---------------------------------------------------------------- timing
# Repetitions are interleaved (every case and verifier once, then again) so that a burst of
# load on the machine touches all verifiers alike.
for rep in $(seq 1 "$REPS"); do
    for c in "${CASES[@]}"; do
        load_case "$c"
        for v in "${VERIFIERS[@]}"; do
            timed "$v" || { echo "bench: $v rejected $c in repetition $rep" >&2; exit 1; }
            echo "$US" >>"$W/$v.all"
            echo "$US" >>"$W/$v.case.$c"
        done
    done
done

# ---------------------------------------------------------------- report
ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }
echo
echo "vouch $("$VOUCH" --version | awk '{print $2}'), sigstore-js (@sigstore/verify $(node -p "require('$JS/node_modules/@sigstore/verify/package.json').version"), node $(node --version)), sigstore-python $(sigstore --version | awk '{print $NF}'); $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "${#CASES[@]} of the $expected conformance cases expected to verify are accepted by all three; $REPS repetitions each:"
echo "  ${CASES[*]}"
[ -s "$W/excluded" ] && { echo "left out:"; cat "$W/excluded"; }
if [ -n "$VERBOSE" ]; then
    printf "\n%-44s %10s %10s %10s   (median ms per verification)\n" case "${VERIFIERS[@]}"
    for c in "${CASES[@]}"; do
        printf "%-44s" "$c"
        for v in "${VERIFIERS[@]}"; do printf " %10s" "$(ms "$(median <"$W/$v.case.$c")")"; done
        echo
    done
fi
VOUCH_MEDIAN=$(median <"$W/vouch.all")
printf "\n%-18s %14s %12s\n" "per process" "median ms" "peer/vouch"
fastest=""
for v in "${VERIFIERS[@]}"; do
    m=$(median <"$W/$v.all")
    if [ "$v" = vouch ]; then
        printf "%-18s %14s %12s\n" "$v" "$(ms "$m")" ""
    else
        printf "%-18s %14s %11.1fx\n" "$v" "$(ms "$m")" "$(awk -v p="$m" -v q="$VOUCH_MEDIAN" 'BEGIN { print p / q }')"
        if [ -z "$fastest" ] || awk -v a="$m" -v b="$fastest" 'BEGIN { exit !(a < b) }'; then fastest=$m; fi
    fi
done
awk -v p="$fastest" -v q="$VOUCH_MEDIAN" 'BEGIN {
    r = p / q
    printf "vouch vs the fastest peer: %.1fx faster per process (goal >= 20x: %s)\n", r, (r >= 20 ? "ok" : "MISSED")
}'

echo
"$PWD/target/release/examples/verify_bench" -n "$ITERATIONS"
