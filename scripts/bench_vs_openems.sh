#!/usr/bin/env bash
# Side-by-side FDTD throughput: rftwin vs openEMS (Debian package) on the same lossy-gel box with
# 8 PML layers on all faces, interleaved so both see the same machine noise, plus the STREAM triad
# bound. Needs ../shared/bench (openems_bench.py, stream_triad.c) and `apt-get install openems
# python3-openems`. Usage: scripts/bench_vs_openems.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SHARED=${SHARED:-../shared/bench}
BIN=./target/release/rftwin
[ -x "$BIN" ] || cargo build --release
gcc -O3 -fopenmp -march=native "$SHARED/stream_triad.c" -o /tmp/rftwin_stream_triad
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for case in "100 300 1000000" "200 100 8000000"; do
  set -- $case; N=$1; STEPS=$2; CELLS=$3
  ours2=(); ours1=(); oems=()
  for r in $(seq "$ROUNDS"); do
    ours2+=("$($BIN bench fdtd --cells "$CELLS" --steps "$STEPS" --threads 2 --repeat 1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["mcells_per_s"])')")
    oems+=("$(cd /tmp && /usr/bin/python3 "$OLDPWD/$SHARED/openems_bench.py" "$N" "$STEPS" 2 PML_8 2>/dev/null | tail -1)")
    ours1+=("$($BIN bench fdtd --cells "$CELLS" --steps "$STEPS" --threads 1 --repeat 1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["mcells_per_s"])')")
  done
  bw=$(OMP_NUM_THREADS=2 /tmp/rftwin_stream_triad | sed -n 's/.*triad=\([0-9.]*\) GB\/s.*/\1/p')
  o2=$(printf '%s\n' "${ours2[@]}" | median); o1=$(printf '%s\n' "${ours1[@]}" | median); oe=$(printf '%s\n' "${oems[@]}" | median)
  bound=$(python3 -c "print(round($bw*1e9/72/1e6,1))")
  python3 - "$CELLS" "$o2" "$o1" "$oe" "$bw" "$bound" <<'PY'
import sys
cells, o2, o1, oe, bw, bound = sys.argv[1], *map(float, sys.argv[2:])
print(f"{int(cells):>8} cells | rftwin 2 thr {o2:7.1f} | rftwin 1 thr {o1:7.1f} | openEMS 2 thr {oe:6.1f} | "
      f"ratio {o2/oe:4.2f}x | STREAM {bw:.1f} GB/s -> bound {bound:.0f} | {o2/bound*100:4.0f}% of bound | 1->2 thr {o2/o1:4.2f}x")
PY
done
