#!/usr/bin/env bash
# Shoal against the kind of tool it replaces, on the same generated ascp log,
# in one run:
#   - bench/ascp_baseline.py: ~100 regexes per line, per-session aggregates;
#   - shoal run with the same per-session report (1 query), and with 100
#     generated standing queries over the same stream.
# Both sides' per-session results are compared, then records/s are printed.
#
# Usage: bench/ascp.sh [RECORDS] [REPEAT]     (defaults: 500000 lines, 3 runs)
# Environment: ASCP_BENCH_DIR (default target/bench-ascp), PYTHON (python3).
set -euo pipefail
cd "$(dirname "$0")/.."

records=${1:-500000}
repeat=${2:-3}
dir=${ASCP_BENCH_DIR:-target/bench-ascp}
python=${PYTHON:-python3}

cargo build --release --quiet
shoal=target/release/shoal
logs="$dir/logs-$records"
mkdir -p "$dir"
if [ ! -f "$logs/.complete" ]; then
  rm -rf "$logs"
  "$shoal" gen ascp --records "$records" --out "$logs" --seed 42
  touch "$logs/.complete"
fi
file="$logs/ascp-00000.log"
"$shoal" gen ascp-queries --count 1 --source-dir "$logs" > "$dir/q1.sql"
"$shoal" gen ascp-queries --count 100 --source-dir "$logs" > "$dir/q100.sql"

median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
field() { tr ' ' '\n' | awk -v k="$1" 'prev==k {print; exit} {prev=$0}'; }

# Shoal: records/s as `shoal run --stats` reports it (reading and processing,
# wall clock), and records per CPU-second (user + system, all threads).
shoal_run() {
  local sql=$1 out=$2 rates=() cpus=()
  for _ in $(seq "$repeat"); do
    local log
    log=$( { /usr/bin/time -f "cpu %U %S" "$shoal" run "$sql" --stats --out "$out"; } 2>&1 >/dev/null )
    rates+=("$(echo "$log" | grep '^records ' | field records/s)")
    local u s n
    read -r _ u s < <(echo "$log" | grep '^cpu ')
    n=$(echo "$log" | grep '^records ' | field records)
    cpus+=("$(awk -v n="$n" -v u="$u" -v s="$s" 'BEGIN {printf "%.0f", n / (u + s)}')")
  done
  echo "$(printf '%s\n' "${rates[@]}" | median) $(printf '%s\n' "${cpus[@]}" | median)"
}

read -r s1 s1cpu < <(shoal_run "$dir/q1.sql" "$dir/shoal-1.jsonl")
read -r s100 s100cpu < <(shoal_run "$dir/q100.sql" "$dir/shoal-100.jsonl")

# Python: one run (it is slow); its own timer covers reading and processing.
pylog=$("$python" bench/ascp_baseline.py "$file" --out "$dir/python.jsonl" 2>&1 >/dev/null)
py=$(echo "$pylog" | field records/s)
regexes=$(echo "$pylog" | field regexes)

# Both must report the same sessions.
"$python" - "$dir/shoal-1.jsonl" "$dir/python.jsonl" <<'EOF'
import json, math, sys
shoal = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("query") == "sessions":
        g, v = r["group"], r["values"]
        shoal[(g["host"], g["pid"])] = v
py = {(r["host"], r["pid"]): r for r in map(json.loads, open(sys.argv[2]))}
assert shoal.keys() == py.keys(), f"sessions differ: {len(shoal)} vs {len(py)}"
for k, v in shoal.items():
    p = py[k]
    for f in ("lines", "max_rtt", "bytes"):
        assert v[f] == p[f], (k, f, v[f], p[f])
    assert math.isclose(v["avg_rate"], p["avg_rate"], rel_tol=1e-9), (k, v, p)
print(f"results agree: {len(shoal)} sessions")
EOF

bytes=$(stat -c %s "$file")
echo "ascp log: $records lines, $bytes bytes ($file)"
printf '%-44s %14s %16s\n' "" "records/s" "records/CPU-s"
printf '%-44s %14.0f %16s\n' "Python, $regexes regexes per line (1 thread)" "$py" "-"
printf '%-44s %14.0f %16.0f\n' "Shoal, 1 query (sessions)" "$s1" "$s1cpu"
printf '%-44s %14.0f %16.0f\n' "Shoal, 100 queries" "$s100" "$s100cpu"
awk -v a="$s1" -v b="$py" -v c="$s1cpu" 'BEGIN {printf "Shoal / Python, 1 query: %.0fx wall clock, %.0fx per CPU-second\n", a / b, c / b}'
