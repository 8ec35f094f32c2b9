#!/usr/bin/env bash
# bench/callgrind.sh: instruction counts per message (valgrind --tool=callgrind) of ours and of
# the raw-TCP programs, for client-send 200 B (sender and sink) and receive from 10 clients
# (sink). Instruction counts do not depend on the load of the machine, unlike the timings of
# scripts/bench.sh. docs/bench.md ("Profile") quotes what this prints.
#
#   bench/callgrind.sh [BIN_DIR [OUT_DIR]]     (defaults: _build/bench/bin, _build/callgrind)
#
# BIN_DIR holds the programs scripts/bench.sh builds. Each case runs twice, with N1 and N2
# messages (CG_N1, CG_N2; default 100,000 and 300,000): the per-message cost is
# (Ir(N2) - Ir(N1)) / (N2 - N1), so start-up (contexts, TLS library, threads) cancels out. The
# measured side runs under callgrind (all its threads in one profile), its peer natively.
# OUT_DIR keeps every callgrind.out file and, for the N2 run, `callgrind_annotate` of self
# cost (*.self.txt) and inclusive cost (*.incl.txt). About 5 minutes.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${1:-$root/_build/bench/bin}
out=${2:-$root/_build/callgrind}
n1=${CG_N1:-100000}
n2=${CG_N2:-300000}
mkdir -p "$out"
command -v valgrind >/dev/null || { echo "error: valgrind is not installed" >&2; exit 1; }

total_ir() {
  # The "summary:" (or "totals:") line of a callgrind.out file: the program's instructions.
  sed -n 's/^summary: \([0-9]*\).*/\1/p; s/^totals: \([0-9]*\).*/\1/p' "$1" | head -n 1
}

# run_case NAME SIDE PROG CONNS N: one measured run; SIDE is "send" or "sink" (the side under
# callgrind). The sink always starts first and prints port=N.
run_case() {
  local name=$1 side=$2 prog=$3 conns=$4 n=$5 file port fifo infifo sinkpid
  file=$out/$name.$n.out
  fifo=$(mktemp -u "$out/port.XXXXXX")
  infifo=$(mktemp -u "$out/stdin.XXXXXX")
  mkfifo "$fifo" "$infifo"
  # The sink's stdin: held open here (fd 4) until the run is over; its EOF means "give up".
  exec 4<> "$infifo"
  local sink=("$bin/$prog" sink --count "$n" --conns "$conns")
  local send=("$bin/$prog" send --count "$n" --size 200 --conns "$conns")
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

printf '%-34s %14s %14s %12s\n' case "Ir(N1=$n1)" "Ir(N2=$n2)" "Ir/message"
while read -r name side prog conns; do
  a=$(run_case "$name" "$side" "$prog" "$conns" "$n1")
  b=$(run_case "$name" "$side" "$prog" "$conns" "$n2")
  printf '%-34s %14s %14s %12.0f\n' "$name" "$a" "$b" "$(echo "($b - $a) / ($n2 - $n1)" | bc -l)"
  callgrind_annotate "$out/$name.$n2.out" > "$out/$name.self.txt" 2>/dev/null || true
  callgrind_annotate --inclusive=yes "$out/$name.$n2.out" > "$out/$name.incl.txt" 2>/dev/null || true
done <<'EOF'
client-send-200B.ours.sender send ours 1
client-send-200B.raw.sender send rawws 1
client-send-200B.ours.sink sink ours 1
client-send-200B.raw.sink sink rawws 1
receive-10-clients.ours.sink sink ours 10
receive-10-clients.raw.sink sink rawws 10
EOF
echo "profiles: $out"
