#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: fuzz/run.sh [SECONDS] (per
# target, default 60). TARGETS="a b" picks targets; SANITIZER=address builds
# with AddressSanitizer (default none: Shoal has no unsafe code and the
# sanitizer halves the executions per second).
#
# cargo-fuzz drives libFuzzer and needs nightly-only rustc flags
# (-Zsanitizer, -Cpasses=sancov-module, -Cllvm-args). A nightly toolchain is
# used when rustup has one; otherwise the stable toolchain is told to accept
# them with RUSTC_BOOTSTRAP=1.
#
# Crashes land in fuzz/artifacts/TARGET/; copy each into
# tests/fuzz/TARGET/ so `cargo test --test fuzz_regressions` replays it.
set -uo pipefail
cd "$(dirname "$0")"
SECS=${1:-60}
TARGETS=${TARGETS:-"parse_statements execute_statements decode_json decode_csv decode_logs ingest"}
SANITIZER=${SANITIZER:-none}

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked || exit 1
fi
if rustup run nightly rustc --version >/dev/null 2>&1; then
    TOOLCHAIN=(+nightly)
else
    TOOLCHAIN=()
    export RUSTC_BOOTSTRAP=1
fi

dict_of() {
    case "$1" in
        parse_statements | execute_statements) echo "-dict=dicts/sql.dict" ;;
        *) echo "-dict=dicts/json.dict" ;;
    esac
}

mkdir -p logs
failed=()
for t in $TARGETS; do
    mkdir -p "corpus/$t" "artifacts/$t"
    echo "== $t: ${SECS}s"
    # -a: debug assertions and overflow checks on, so arithmetic overflow
    # is a finding. -timeout: an input that takes over 10 s is a finding.
    if ! cargo "${TOOLCHAIN[@]}" fuzz run -a -s "$SANITIZER" "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        "$(dict_of "$t")" -print_final_stats=1 >"logs/$t.log" 2>&1; then
        failed+=("$t")
    fi
    grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::average_exec_per_sec|==[0-9]+== ERROR|SUMMARY|thread '.*' panicked)" "logs/$t.log" | head -5
done
if ((${#failed[@]})); then
    echo "findings in: ${failed[*]} (see fuzz/logs/ and fuzz/artifacts/)"
    exit 1
fi
echo "no findings"
