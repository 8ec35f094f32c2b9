#!/usr/bin/env bash
# bench/callgrind.sh: instruction counts per message (valgrind --tool=callgrind) of ours and of
# the raw-TCP programs, for client-send 200 B (sender and sink) and receive from 10 clients
# (sink). Instruction counts do not depend on the load of the machine, unlike the timings of
# scripts/bench.sh. docs/bench.md ("Profile") quotes what this prints.
#
#   bench/callgrind.sh [BIN_DIR [OUT_DIR]]     (defaults: _build/bench/bin, _build/callgrind)
#
# BIN_DIR holds the programs scripts/bench.sh builds. Each case runs twice, with N1 and N2
# messages (200-byte and 16-byte cases: 100,000 and 300,000; 1 MiB: 50 and 150; CG_SCALE
# divides them): the per-message cost is (Ir(N2) - Ir(N1)) / (N2 - N1), so start-up (contexts,
# TLS library, threads) cancels out. The
# measured side runs under callgrind (all its threads in one profile), its peer natively.
# OUT_DIR keeps every callgrind.out file and, for the N2 run, `callgrind_annotate` of self
# cost (*.self.txt) and inclusive cost (*.incl.txt). About 2 minutes on 2 cores.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${1:-$root/_build/bench/bin}
out=${2:-$root/_build/callgrind}
scale=${CG_SCALE:-1}
mkdir -p "$out"
command -v valgrind >/dev/null || { echo "error: valgrind is not installed" >&2; exit 1; }

total_ir() {
  # The "summary:" (or "totals:") line of a callgrind.out file: the program's instructions.
  sed -n 's/^summary: \([0-9]*\).*/\1/p; s/^totals: \([0-9]*\).*/\1/p' "$1" | head -n 1
}

# run_case NAME SIDE PROG CONNS SIZE N: one measured run; SIDE is "send" or "sink" (the side
# under callgrind). The sink always starts first and prints port=N.
run_case() {
  local name=$1 side=$2 prog=$3 conns=$4 size=$5 n=$6 file port fifo infifo sinkpid
  file=$out/$name.$n.out
  fifo=$(mktemp -u "$out/port.XXXXXX")
  infifo=$(mktemp -u "$out/stdin.XXXXXX")
  mkfifo "$fifo" "$infifo"
  # The sink's stdin: held open here (fd 4) until the run is over; its EOF means "give up".
  exec 4<> "$infifo"
  local sink=("$bin/$prog" sink --count "$n" --conns "$conns")
  local send=("$bin/$prog" send --count "$n" --size "$size" --conns "$conns")
  if test "$side" = sink; then
    sink=(valgrind --tool=callgrind -q --callgrind-out-file="$file" "${sink[@]}")
  else
    send=(valgrind --tool=callgrind -q --callgrind-out-file="$file" "${send[@]}")
  fi
  "${sink[@]}" < "$infifo" > "$fifo" &
  sinkpid=$!
  exec 3< "$fifo"
  port=
  while read -r line <&3; do
    case $line in port=*) port=${line#port=}; break ;; esac
  done
  test -n "$port" || { echo "error: $name: no port= line from the sink" >&2; exit 1; }
  "${send[@]}" --port "$port" > /dev/null
  # Read the sink's remaining lines so it never blocks on a full pipe, and check its count.
  local recv=
  while read -r line <&3; do
    case $line in recv=*) recv=${line#recv=} ;; esac
  done
  exec 3<&- 4>&-
  rm -f "$fifo" "$infifo"
  wait "$sinkpid" || true
  test "$recv" = "$n" || { echo "error: $name: the sink received ${recv:-nothing} of $n" >&2; exit 1; }
  total_ir "$file"
}

printf '%-30s %7s %13s %7s %13s %11s\n' case N1 Ir N2 Ir Ir/message
while read -r name side prog conns size n1 n2; do
  n1=$((n1 / scale)) n2=$((n2 / scale))
  a=$(run_case "$name" "$side" "$prog" "$conns" "$size" "$n1")
  b=$(run_case "$name" "$side" "$prog" "$conns" "$size" "$n2")
  printf '%-30s %7s %13s %7s %13s %11.0f\n' "$name" "$n1" "$a" "$n2" "$b" \
    "$(echo "($b - $a) / ($n2 - $n1)" | bc -l)"
  callgrind_annotate "$out/$name.$n2.out" > "$out/$name.self.txt" 2>/dev/null || true
  callgrind_annotate --inclusive=yes "$out/$name.$n2.out" > "$out/$name.incl.txt" 2>/dev/null || true
done <<'EOF'
client-send-200B.ours.sender send ours 1 200 100000 300000
client-send-200B.raw.sender send rawws 1 200 100000 300000
client-send-200B.ours.sink sink ours 1 200 100000 300000
client-send-200B.raw.sink sink rawws 1 200 100000 300000
receive-10-clients.ours.sink sink ours 10 200 100000 300000
receive-10-clients.raw.sink sink rawws 10 200 100000 300000
size-16B.ours.sender send ours 1 16 100000 300000
size-16B.ours.sink sink ours 1 16 100000 300000
size-16B.raw.sink sink rawws 1 16 100000 300000
size-1MiB.ours.sender send ours 1 1048576 50 150
size-1MiB.ours.sink sink ours 1 1048576 50 150
size-1MiB.raw.sink sink rawws 1 1048576 50 150
EOF
echo "profiles: $out"
