#!/usr/bin/env python3
"""bench/run.py: runs every benchmark scenario and writes bench/results.md and results.json.

Called by scripts/bench.sh (which builds the programs first):

    run.py --bin DIR [--quick] [--reps N] [--scale X] [--md FILE] [--json FILE] [--doc FILE]
           [--readme FILE] [--only 1,2,...] [--sng-module DIR] [--workdir DIR]

Each scenario starts a server program, reads its `port=N` line, starts the peer program(s) in
other processes and collects the `key=value` lines every program prints at its end.  Any program
that fails, times out or reports fewer messages than were sent fails the whole run (exit 1):
--quick is what CI runs so that the benchmarks never rot; it never judges speed.

A full run does every scenario in 5 rounds (--reps), each round running ours, libwebsockets and
raw TCP one after the other, so that the ratios of one round compare figures taken moments apart.
results.json keeps every round (`runs`), min/median/max of every figure and ratio (`spread`), the
goals judged on each row (`goals`); its plain fields are the medians.  Scenario 8 (two syslog-ng
processes, websocket() against network(tcp)) lives in syslogng.py.
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import corpus
import syslogng

ARGS = None
REPS = 1  # rounds per scenario: 5 in a full run (--reps), 1 with --quick


class BenchError(Exception):
    pass


T0 = time.monotonic()


def log(msg):
    """Progress on stdout, each line with the seconds since the start (where a run's time goes)."""
    print("[%4.0fs] %s" % (time.monotonic() - T0, msg), flush=True)


def raise_fd_limit():
    # 10,000 idle connections need that many descriptors in both the server and the client.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def prog(name):
    return os.path.join(ARGS.bin, name)


def parse_kv(text):
    kv = {}
    for line in text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            kv[k.strip()] = v.strip()
    return kv


class Proc:
    """One benchmark program; stdout is collected, stderr goes to ours (the log)."""

    def __init__(self, argv):
        self.argv = argv
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True)
        self.lines = []

    def read_until(self, key, timeout):
        """Reads stdout lines until one starts with `key=`; answers its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.p.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            if line.startswith(key + "="):
                return line.split("=", 1)[1].strip()
        self.kill()
        raise BenchError("%s: no %s= line (exit status %s)" % (" ".join(self.argv), key,
                                                                self.p.poll()))

    def close_stdin(self):
        if self.p.stdin:
            try:
                self.p.stdin.close()
            except OSError:
                pass
            self.p.stdin = None

    def finish(self, timeout):
        """Waits for the program to end; answers its key=value results. stdin stays open while
        waiting (a sink takes its EOF as "give up"); on a timeout it is closed so that a sink
        reports what it got and fails, then the program is killed. The programs print a few
        lines only, so stdout cannot fill up meanwhile."""
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.close_stdin()
            try:
                self.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()
            raise BenchError("%s: timed out after %ss" % (" ".join(self.argv), timeout))
        self.close_stdin()
        out = self.p.stdout.read()
        if self.p.returncode != 0:
            raise BenchError("%s: exit status %d" % (" ".join(self.argv), self.p.returncode))
        return parse_kv("".join(self.lines) + out)

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def timeout_s():
    return 120 if ARGS.quick else 300


def check_count(what, got, want):
    if int(got) != int(want):
        raise BenchError("%s: %s messages arrived, %s were sent" % (what, got, want))


def pair(server_argv, client_argv, count, expect_key="recv"):
    """Runs a sink server and a sending client; answers (server results, client results)."""
    srv = Proc(server_argv)
    try:
        port = srv.read_until("port", 30)
        cli = Proc([a.replace("{port}", port) for a in client_argv])
        try:
            c = cli.finish(timeout_s())
        finally:
            cli.kill()
        # The client is done: what it sent is in the kernel or already read, so the sink has
        # little left to do; a sink still waiting after this long lost messages.
        s = srv.finish(10 if ARGS.quick else 30)
    finally:
        srv.close_stdin()
        srv.kill()
    check_count(" ".join(server_argv), s.get(expect_key, -1), count)
    return s, c


IMPLS = {
    "ours": ("ours", "ours"),
    "libwebsockets": ("lws", "lws"),
    "raw_tcp": ("rawws", "rawws"),
}
COLUMNS = ("ours", "libwebsockets", "raw_tcp")


def interleaved(columns):
    """Runs every (name, fn) of `columns` once per round, REPS rounds (so that a burst of load
    from elsewhere on the machine hits every column alike, and the ratios of one round compare
    figures taken moments apart); answers {name: [result of each round]}."""
    runs = {name: [] for name, _ in columns}
    for k in range(REPS):
        if REPS > 1:
            log("   round %d of %d" % (k + 1, REPS))
        for name, fn in columns:
            runs[name].append(fn())
    return runs


def pick(runs, key):
    """{column: [figure `key` of each round]} from interleaved()'s results."""
    return {name: [r[key] for r in rs] for name, rs in runs.items()}


def throughput(impl, n, size=200, conns=1, sink_prog=None, send_prog=None, extra_sink=(),
               extra_send=()):
    """client -> server; answers dict with msg/s, MB/s, CPU and RSS figures."""
    sp, cp = IMPLS[impl]
    sink = [prog(sink_prog or sp), "sink", "--count", str(n), "--conns", str(conns)]
    if (sink_prog or sp) == "ours_legacy":
        sink = [prog("ours_legacy"), "sink", "--count", str(n)]
    send = [prog(send_prog or cp), "send", "--port", "{port}", "--count", str(n), "--size",
            str(size), "--conns", str(conns)]
    if (send_prog or cp) == "ours_legacy":
        send = [prog("ours_legacy"), "send", "--port", "{port}", "--count", str(n), "--size",
                str(size)]
    s, c = pair(sink + list(extra_sink), send + list(extra_send), n)
    secs = (int(s["last_ns"]) - int(c["start_ns"])) / 1e9
    return {
        "msgs": n / secs,
        "mbs": n * size / secs / 1e6,
        "cpu_per_m": (float(s["cpu_s"]) + float(c["cpu_s"])) / n * 1e6,
        "rss_send": int(c["maxrss_kb"]),
        "rss_sink": int(s["maxrss_kb"]),
        "secs": secs,
    }


def broadcast(impl, subs, n):
    sp = IMPLS[impl][0]
    srv_argv = [prog(sp), "bcast", "--count", str(n), "--conns", str(subs)]
    srv = Proc(srv_argv)
    try:
        port = srv.read_until("port", 30)
        sub_argv = [prog("rawws"), "sub", "--port", port, "--count", str(n), "--conns",
                    str(subs)]
        if impl == "raw_tcp":
            sub_argv.append("--no-handshake")
        sub = Proc(sub_argv)
        try:
            r = sub.finish(timeout_s())
        finally:
            sub.kill()
        s = srv.finish(timeout_s())
    finally:
        srv.kill()
    check_count(" ".join(sub_argv), r["recv"], n * subs)
    return {"dps": n * subs / ((int(r["last_ns"]) - int(s["start_ns"])) / 1e9)}


def latency(impl, rate, secs):
    n = max(1, int(rate * secs))
    sp, cp = IMPLS[impl]
    s, _ = pair([prog(sp), "sink", "--count", str(n), "--latency"],
                [prog(cp), "send", "--port", "{port}", "--count", str(n), "--rate", str(rate),
                 "--latency"], n)
    return {"p50": float(s["lat_p50_us"]), "p99": float(s["lat_p99_us"]),
            "p999": float(s["lat_p999_us"]), "max": float(s["lat_max_us"])}


def connections(impl, conns, sink_extra=(), sub_extra=()):
    sp = IMPLS[impl][0]
    srv = Proc([prog(sp), "sink", "--count", "0"] + list(sink_extra))
    sub = None
    try:
        port = srv.read_until("port", 30)
        rss0 = int(srv.read_until("rss0_kb", 30))
        sub = Proc([prog("rawws"), "sub", "--port", port, "--count", "0", "--conns",
                    str(conns)] + list(sub_extra))
        sub.read_until("connected", timeout_s())
        connect_s = float(sub.read_until("connect_s", 30))
        # The server reads its RSS when stdin closes, with every connection still open.
        srv.close_stdin()
        s = srv.finish(60)
        sub.close_stdin()
        sub.finish(60)
    finally:
        srv.kill()
        if sub:
            sub.kill()
    if int(s["connections"]) != conns:
        raise BenchError("%s server saw %s of %d connections" % (impl, s["connections"], conns))
    return {"kib_per_conn": (int(s["rss_kb"]) - rss0) / conns, "connects_s": conns / connect_s}


# Scenario 9: permessage-deflate, ours plain against ours compressed at these zlib levels.
LEVELS = (1, 6)


def corpus_file(lines):
    """The corpus of `lines` lines (bench/corpus.py, seed 1), generated once per run."""
    path = os.path.join(ARGS.bin, "corpus-%d.txt" % lines)
    if not os.path.exists(path):
        size = corpus.write(path + ".tmp", lines)
        os.replace(path + ".tmp", path)
        log("   corpus: %d lines, %d bytes (mean %.1f B per line) in %s" % (lines, size, size / lines - 1,
                                                                          path))
    return path


def corpus_send(level, n, path):
    """One ws_api client sending the corpus lines to one ws_api server, both with
    permessage-deflate at `level` (0: off). Answers throughput, CPU per message of each side and
    the bytes the server's TCP connection received per message (the kernel's count: framing,
    handshake and compression included)."""
    extra = ["--compression", str(level)] if level else []
    s, c = pair([prog("ours"), "sink", "--count", str(n)] + extra,
                [prog("ours"), "send", "--port", "{port}", "--count", str(n), "--corpus", path] + extra, n)
    if int(s["bytes"]) != int(c["payload_bytes"]):
        raise BenchError("corpus, level %d: the sink got %s payload bytes, %s were sent"
                         % (level, s["bytes"], c["payload_bytes"]))
    wire = int(s["tcp_rx_bytes"])
    payload = int(c["payload_bytes"])
    if int(s["tcp_sockets"]) < 1:
        raise BenchError("corpus, level %d: the sink found no open TCP connection to count" % level)
    # Plain, the wire carries every payload byte plus framing; compressed, it must carry fewer
    # (else the connection did not negotiate permessage-deflate, and the row would lie).
    if level and wire >= payload:
        raise BenchError("corpus, level %d: %d bytes on the wire for %d payload bytes: permessage-deflate "
                         "was not negotiated" % (level, wire, payload))
    if not level and wire < payload:
        raise BenchError("corpus, plain: %d bytes on the wire for %d payload bytes" % (wire, payload))
    secs = (int(s["last_ns"]) - int(c["start_ns"])) / 1e9
    return {"msgs": n / secs, "wire": wire / n, "payload": payload / n,
            "cpu_per_m": (float(s["cpu_s"]) + float(c["cpu_s"])) / n * 1e6,
            "cpu_send_per_m": float(c["cpu_s"]) / n * 1e6, "cpu_sink_per_m": float(s["cpu_s"]) / n * 1e6}


def compression_scenario(n, lines, conns, fdlim):
    """9. permessage-deflate: the corpus plain and compressed, interleaved in each round."""
    path = corpus_file(lines)
    log("9. compression: %d corpus messages (ws_api -> ws_api), plain and levels %s, %d rounds"
        % (n, "/".join(str(l) for l in LEVELS), REPS))
    cols = [("plain", lambda: corpus_send(0, n, path))]
    cols += [("level %d" % l, (lambda l=l: corpus_send(l, n, path))) for l in LEVELS]
    t = interleaved(cols)
    for key, scen, unit, better in (
            ("wire", "9. corpus lines: bytes on the wire per message", "B/msg", "lower"),
            ("msgs", "9. corpus lines: client-send throughput", "msg/s", "higher"),
            ("cpu_per_m", "9. corpus lines: CPU, both processes", "CPU s/1M msg", "lower"),
            ("cpu_send_per_m", "9. corpus lines: CPU, sender (compresses)", "CPU s/1M msg", "lower"),
            ("cpu_sink_per_m", "9. corpus lines: CPU, receiver (inflates)", "CPU s/1M msg", "lower")):
        v = pick(t, key)
        for l in LEVELS:
            compare_row("%s, level %d" % (scen, l), unit, v["plain"], v["level %d" % l], better)
    payload = statistics.median(r["payload"] for r in t["plain"])
    COMPARE_NOTES.append("9.: the corpus of bench/corpus.py (seed 1, %s different lines, mean payload %.1f B, "
                         "sent in turn); both sides ws_api with ws_options_set_compression(level) (context "
                         "takeover as negotiated by default); bytes on the wire are the server's TCP "
                         "received bytes (TCP_INFO) divided by the messages, handshake and framing included"
                         % (fmt(lines), payload))
    if fdlim < conns + 100:
        conns = max(10, fdlim - 100)
    log("9. idle compressed connections: %d, plain and compressed" % conns)
    t = interleaved([("plain", lambda: connections("ours", conns)),
                     ("compressed", lambda: connections("ours", conns, ("--compression", str(LEVELS[0])),
                                                        ("--deflate",)))])
    v = pick(t, "kib_per_conn")
    compare_row("9. %s idle connections: server RSS per connection" % fmt(conns), "KiB", v["plain"],
                v["compressed"], "lower")
    COMPARE_NOTES.append("9. idle connections: raw-TCP subscribers (rawws sub); compressed ones offer "
                         "permessage-deflate as browsers do (client_max_window_bits), require it in the "
                         "answer and send one compressed message each, so the server has inflated on every "
                         "connection; the server runs with level %d" % LEVELS[0])


# ---- figures, ratios and goals ----------------------------------------------------------------

ROWS = []   # one dict per table row, as written to results.json
GOALS = []  # one dict per goal (also attached to its row in results.json)
EXTRA_MD = []  # sections added after the goals (per-run latency, syslog-ng threads)
COMPARE_NOTES = []  # notes under the plain/compressed table


def rnd(v):
    if v is None:
        return None
    return round(v, 3) if abs(v) < 100 else round(v)


def spread(vs):
    vs = sorted(v for v in vs if v is not None)
    if not vs:
        return None
    return {"min": rnd(vs[0]), "median": rnd(statistics.median(vs)), "max": rnd(vs[-1])}


def row(scenario, unit, cols, better="higher", note=None, plain=None):
    """Adds a table row. `cols` is {column: [figure of each round]} for the columns measured
    (ours, libwebsockets, raw_tcp); the ratios are taken per round (ours of round k over the
    other column of round k), then summed up as min/median/max like every figure. The row's
    plain fields (today's format) are the medians; `runs` has every round, `spread` the
    min/median/max of every field. `plain`, when given, is ours without the feature the row
    measures (scenario 8: websocket() without acknowledgements), figures of the same rounds:
    the row then also has `plain` and `ratio_plain` (ours / plain, per round)."""
    n = max(len(v) for v in cols.values())
    runs = []
    for k in range(n):
        r = {c: (cols[c][k] if c in cols else None) for c in COLUMNS}
        for c, f in (("libwebsockets", "ratio_libwebsockets"), ("raw_tcp", "ratio_raw")):
            o, x = r["ours"], r[c]
            r[f] = o / x if o is not None and x else None
        if plain is not None:
            r["plain"] = plain[k]
            r["ratio_plain"] = r["ours"] / plain[k] if r["ours"] is not None and plain[k] else None
        runs.append(r)
    fields = COLUMNS + ("ratio_libwebsockets", "ratio_raw")
    if plain is not None:
        fields += ("plain", "ratio_plain")
    sp = {f: spread([r[f] for r in runs]) for f in fields}
    out = {"scenario": scenario, "unit": unit, "better": better}
    for f in fields:
        out[f] = sp[f]["median"] if sp[f] else None
    out["runs"] = [{f: rnd(r[f]) for f in fields} for r in runs]
    out["spread"] = {f: v for f, v in sp.items() if v}
    if note:
        out["note"] = note
    ROWS.append(out)
    log("  %-46s %-12s ours=%s lws=%s raw=%s" % (scenario, unit, out["ours"], out["libwebsockets"],
                                                  out["raw_tcp"]))
    return out


def compare_row(scenario, unit, plain, comp, better):
    """A row of ours against ours (scenario 9: compressed against plain), in its own table.
    `plain` and `comp` are the figures of each round; `ratio_plain` (comp / plain) is taken per
    round. Today's fields are kept (`ours` is the compressed figure) so that readers of
    results.json find the usual keys; `plain` and `ratio_plain` are added."""
    runs = []
    for p, c in zip(plain, comp):
        runs.append({"ours": c, "plain": p, "ratio_plain": c / p if p else None})
    fields = ("ours", "plain", "ratio_plain")
    sp = {f: spread([r[f] for r in runs]) for f in fields}
    out = {"scenario": scenario, "unit": unit, "better": better, "compare": "plain",
           "libwebsockets": None, "raw_tcp": None, "ratio_libwebsockets": None, "ratio_raw": None}
    for f in fields:
        out[f] = sp[f]["median"] if sp[f] else None
    out["runs"] = [{f: rnd(r[f]) for f in fields} for r in runs]
    out["spread"] = {f: v for f, v in sp.items() if v}
    ROWS.append(out)
    log("  %-46s %-12s plain=%s compressed=%s ratio=%s" % (scenario, unit, out["plain"], out["ours"],
                                                           out["ratio_plain"]))
    return out


def not_measured(scenario, unit, why):
    """A slot for a figure that cannot be measured yet (a feature not built): kept in the table
    and the JSON so that it is not forgotten."""
    out = {"scenario": scenario, "unit": unit, "better": "higher", "ours": None,
           "libwebsockets": None, "raw_tcp": None, "ratio_libwebsockets": None, "ratio_raw": None,
           "runs": [], "spread": {}, "note": why}
    ROWS.append(out)
    return out


def over(n):
    return "over %d run%s" % (n, "" if n == 1 else "s")


def goal(text, r, field, limit, lower=False, every=False, what=None):
    """A goal on one field of row `r`: met when the median (or, with `every`, each round) is
    >= limit (<= with `lower`). Recorded with the median and the spread over the rounds."""
    vals = [x[field] for x in r["runs"] if x[field] is not None]
    g = {"goal": text, "scenario": r["scenario"], "field": field, "limit": limit,
         "rule": ("every run" if every else "median") + (" <= limit" if lower else " >= limit"),
         "runs": len(vals)}
    if not vals:
        g.update({"met": None, "measured": r.get("note", "not measured")})
    else:
        ok = (lambda v: v <= limit) if lower else (lambda v: v >= limit)
        med = statistics.median(vals)
        g.update({"median": rnd(med), "min": rnd(min(vals)), "max": rnd(max(vals)),
                  "met": all(ok(v) for v in vals) if every else ok(med)})
        unit = what or ("of raw TCP" if field == "ratio_raw" else
                        "x libwebsockets" if field == "ratio_libwebsockets" else r["unit"])
        sep = "" if unit.startswith("x") else " "
        if every:
            g["measured"] = "worst %s%s%s, median %s (%s)" % (fmt(max(vals) if lower else min(vals)),
                                                            sep, unit, fmt(med), over(len(vals)))
        elif len(vals) == 1:
            g["measured"] = "%s%s%s (%s)" % (fmt(med), sep, unit, over(1))
        else:
            g["measured"] = "%s%s%s (%s–%s %s)" % (fmt(med), sep, unit, fmt(min(vals)),
                                                   fmt(max(vals)), over(len(vals)))
    GOALS.append(g)
    r.setdefault("goals", []).append(g)


def fmt(v):
    if v is None:
        return "–"
    if isinstance(v, float) and abs(v) < 100:
        return "%.3g" % v if abs(v) < 10 else "%.1f" % v
    return "{:,}".format(int(round(v)))


def fmt_spread(r, field):
    """A ratio cell: the median, with min–max when there is more than one round."""
    sp = r["spread"].get(field)
    if not sp:
        return "–"
    if len(r["runs"]) < 2:
        return fmt(sp["median"])
    return "%s (%s–%s)" % (fmt(sp["median"]), fmt(sp["min"]), fmt(sp["max"]))


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        lws = subprocess.run(["pkg-config", "--modversion", "libwebsockets"],
                             capture_output=True, text=True).stdout.strip().rstrip("-")
    except OSError:
        lws = "?"
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(), "lws": lws,
            "load": os.getloadavg()[0]}


# ---- scenarios ------------------------------------------------------------------------------

def main():
    global ARGS, REPS
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, help="rounds per scenario (default 5; 1 with --quick)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiplies message counts and durations (e.g. 0.1 to test the tooling)")
    ap.add_argument("--md")
    ap.add_argument("--json")
    ap.add_argument("--doc", help="a markdown file whose results:begin/end block gets the table")
    ap.add_argument("--readme", help="a markdown file whose bench-goals:begin/end block gets the "
                    "goals table")
    ap.add_argument("--only", help="comma-separated scenario numbers (for profiling runs)")
    ap.add_argument("--sng-module", help="directory holding the syslog-ng module libwebsocket.so "
                    "(scenario 8)")
    ap.add_argument("--workdir", help="where scenario 8 runs syslog-ng (default: a temp dir)")
    ap.add_argument("--ack-window", type=int, help="scenario 8: ack-window() of the "
                    "acknowledged path (default: the module's)")
    ap.add_argument("--keep-others", action="store_true",
                    help="with --only: keep the other scenarios' rows of the existing --json and "
                    "--md, replacing only the scenarios run")
    ARGS = ap.parse_args()
    syslogng.ACK_WINDOW = ARGS.ack_window
    q = ARGS.quick
    REPS = ARGS.reps or (1 if q else 5)
    only = set(ARGS.only.split(",")) if ARGS.only else None
    fdlim = raise_fd_limit()
    t0 = time.monotonic()

    def want(k):
        return only is None or k in only

    def count(full, quick):
        return quick if q else max(1, int(full * ARGS.scale))

    def both(fn, *args, **kw):
        return [(i, (lambda i=i: fn(i, *args, **kw))) for i in COLUMNS]

    if want("1") or want("7"):
        n = count(2000000, 20000)
        log("1./7. client-send: %d messages of 200 B, %d rounds" % (n, REPS))
        cols = both(throughput, n)
        if want("7"):
            cols.insert(1, ("ours_legacy", lambda: throughput("ours", n,
                                                               send_prog="ours_legacy")))
        t = interleaved(cols)
        msgs = pick(t, "msgs")
        if want("1"):
            main_cols = {c: msgs[c] for c in COLUMNS}
            r = row("1. client-send 200 B", "msg/s", main_cols)
            goal("client-send 200 B >= 0.5 of raw TCP", r, "ratio_raw", 0.5)
            goal("client-send >= 10x libwebsockets", r, "ratio_libwebsockets", 10)
            cpu = pick(t, "cpu_per_m")
            r = row("1. client-send CPU (both processes)", "CPU s/1M msg",
                    {c: cpu[c] for c in COLUMNS}, better="lower")
            goal("client-send CPU per message (both processes) <= 2x raw TCP", r, "ratio_raw", 2,
                 lower=True, what="x raw TCP")
            for key, what in (("rss_send", "sender"), ("rss_sink", "sink")):
                v = pick(t, key)
                row("1. client-send peak RSS, %s" % what, "KiB", {c: v[c] for c in COLUMNS},
                    better="lower")
        if want("7"):
            row("7. client send, 2016 websocket_client_send_msg", "msg/s",
                {"ours": msgs["ours_legacy"], "libwebsockets": msgs["libwebsockets"],
                 "raw_tcp": msgs["raw_tcp"]})
            row("7. client send, ws_send (as in 1.)", "msg/s", {c: msgs[c] for c in COLUMNS})

    if want("2"):
        total = count(2000000, 20000)
        log("2. broadcast: %d deliveries per subscriber count" % total)
        for subs in (1, 10, 100, 1000):
            n = max(10, total // subs)
            m = pick(interleaved(both(broadcast, subs, n)), "dps")
            r = row("2. broadcast to %d subscriber%s" % (subs, "" if subs == 1 else "s"),
                    "deliveries/s", m)
            if subs == 100:
                goal("broadcast to 100 subscribers >= the raw-TCP broadcaster", r, "ratio_raw", 1)

    if want("3"):
        n = count(2000000, 20000)
        log("3. receive: 10 clients, %d messages in total" % n)
        cols = both(throughput, n, conns=10)
        cols.insert(1, ("ours_pipe", lambda: throughput("ours", n, conns=10,
                                                          sink_prog="ours_legacy")))
        # The same servers fed by the raw-TCP sender (with the HTTP upgrade): the server's
        # receive path alone, as the broadcast scenario measures the server alone. The raw
        # column is the same in both rows.
        for i in ("ours", "libwebsockets"):
            cols.append((i + "_rx", (lambda i=i: throughput(i, n, conns=10, send_prog="rawws",
                                                            extra_send=("--upgrade",)))))
        m = pick(interleaved(cols), "msgs")
        r = row("3. receive from 10 clients (on_receive)", "msg/s", {c: m[c] for c in COLUMNS})
        goal("receive from 10 clients (on_receive; clients of the same library) >= 0.6 of raw "
             "TCP", r, "ratio_raw", 0.6)
        row("3. receive from 10 clients (2016 pipe)", "msg/s",
            {"ours": m["ours_pipe"], "libwebsockets": m["libwebsockets"], "raw_tcp": m["raw_tcp"]})
        r = row("3. receive from 10 raw-TCP clients (on_receive; the server alone)", "msg/s",
                {"ours": m["ours_rx"], "libwebsockets": m["libwebsockets_rx"],
                 "raw_tcp": m["raw_tcp"]})
        goal("receive from 10 raw-TCP clients (on_receive; the server alone) >= 0.6 of raw TCP",
             r, "ratio_raw", 0.6)

    if want("4"):
        secs = 0.2 if q else 5 * ARGS.scale
        for rate in (10000, 100000):
            log("4. latency at %d msg/s for %ss" % (rate, secs))
            t = interleaved(both(latency, rate, secs))
            rows = {}
            for k, name in (("p50", "p50"), ("p99", "p99"), ("p999", "p99.9")):
                rows[k] = row("4. latency %s at %s msg/s" % (name, fmt(rate)), "µs", pick(t, k),
                              better="lower")
            latency_md(rate, t)
            if rate == 100000:
                goal("latency p50 at 100,000 msg/s <= libwebsockets's p50", rows["p50"],
                     "ratio_libwebsockets", 1, lower=True)
                goal("latency p99 at 100,000 msg/s <= 2x raw TCP's p99", rows["p99"],
                     "ratio_raw", 2, lower=True, what="x raw TCP")
                goal("latency p99.9 at 100,000 msg/s <= 1 ms in every run", rows["p999"], "ours",
                     1000, lower=True, every=True)

    if want("5"):
        conns = 100 if q else 10000
        if fdlim < conns + 100:
            conns = max(10, fdlim - 100)
            log("   (descriptor limit %d: %d connections only)" % (fdlim, conns))
        log("5. connections: %d idle clients" % conns)
        t = interleaved([(i, (lambda i=i: connections(i, conns)))
                         for i in ("ours", "libwebsockets")])
        r = row("5. %s idle connections: RSS per connection" % fmt(conns), "KiB",
                pick(t, "kib_per_conn"), better="lower")
        goal("<= 16 KiB RSS per idle connection (%s connections)" % fmt(conns), r, "ours", 16,
             lower=True)
        row("5. %s idle connections: connects/s" % fmt(conns), "conn/s", pick(t, "connects_s"))

    if want("6"):
        sizes = ((16, 2000000), (1024, 500000), (65536, 8000), (1048576, 500))
        for size, n in sizes:
            n = count(n, max(5, n // 100))
            log("6. message size %d B: %d messages" % (size, n))
            m = pick(interleaved(both(throughput, n, size=size)), "mbs")
            label = {16: "16 B", 1024: "1 KiB", 65536: "64 KiB", 1048576: "1 MiB"}[size]
            r = row("6. message size %s" % label, "MB/s", m)
            need = {16: 0.3, 65536: 0.5, 1048576: 0.8}.get(size)
            if need:
                goal("%s messages >= %s of raw-TCP MB/s" % (label, need), r, "ratio_raw", need)

    if want("8"):
        syslog_ng_scenario(count(500000, 20000))

    if want("9"):
        compression_scenario(count(1000000, 20000), 20000 if q else 100000, 100 if q else 1000, fdlim)

    elapsed = time.monotonic() - t0
    log("all scenarios passed in %.0f s" % elapsed)
    m = machine()
    busy_goals(m)
    if ARGS.keep_others:
        keep_others(only, m)
    if ARGS.json:
        with open(ARGS.json, "w") as f:
            json.dump(ROWS, f, indent=1, ensure_ascii=False)
            f.write("\n")
    if ARGS.md:
        write_md(ARGS.md, m, elapsed, q)
        if ARGS.doc:
            update_block(ARGS.doc, "results", md_body(ARGS.md))
        if ARGS.readme:
            update_block(ARGS.readme, "bench-goals", readme_block(m))


def latency_md(rate, t):
    """The per-run latency table: tails are judged run by run (a median hides a bad run)."""
    out = ["\n### Latency at %s msg/s, per run (µs)\n" % fmt(rate),
           "| run | ours p50 / p99 / p99.9 / max | libwebsockets | raw TCP |", "|---|---|---|---|"]
    for k in range(len(t["ours"])):
        cells = ["%s / %s / %s / %s" % tuple(fmt(t[c][k][p]) for p in ("p50", "p99", "p999", "max"))
                 for c in COLUMNS]
        out.append("| %d | %s |" % (k + 1, " | ".join(cells)))
    EXTRA_MD.append("\n".join(out))


def syslog_ng_scenario(n):
    """8. loggen -> syslog-ng A -> websocket() or network(tcp) -> syslog-ng B -> file."""
    ver = syslogng.version()
    why = syslogng.missing(ARGS.sng_module)
    size = 200
    label = "8. syslog-ng -> syslog-ng, %d B, flow control" % size
    if why:
        if ARGS.quick or ARGS.only:
            log("8. syslog-ng path: skipped: %s" % why)
            not_measured(label, "msg/s", "not measured: " + why)
            return
        raise BenchError("scenario 8: " + why + " (or leave 8 out: BENCH_ONLY=1,2,...)")
    work = ARGS.workdir or tempfile.mkdtemp(prefix="bench-sng-")
    os.makedirs(work, exist_ok=True)
    log("8. syslog-ng %s: loggen -> A -> websocket() | network(tcp) -> B -> file, %d messages "
        "(module from %s)" % (ver, n, ARGS.sng_module))
    stall = 10 if ARGS.quick else 30

    def one(kind):
        try:
            return syslogng.run_path(kind, n, size, work, ARGS.sng_module, stall)
        except syslogng.PathError as e:
            raise BenchError(str(e))

    # Every path in every round, so that each ratio compares runs taken moments apart; the
    # compression path only when the module has compression(yes).
    no_deflate = syslogng.supports_compression(work, ARGS.sng_module)
    if no_deflate:
        log("8. compression path: skipped: %s" % no_deflate)
    paths = [("ours", lambda: one("websocket")), ("acks", lambda: one("websocket_acks"))]
    if not no_deflate:
        paths.append(("deflate", lambda: one("websocket_deflate")))
    t = interleaved(paths + [("raw_tcp", lambda: one("tcp"))])
    note = ("syslog-ng %s; ours: A's websocket() destination to B's websocket() source; raw_tcp: "
            "the same path over syslog-ng's network(transport(tcp)); module %s"
            % (ver, os.path.join(ARGS.sng_module, "libwebsocket.so")))
    plain = pick({"ours": t["ours"], "raw_tcp": t["raw_tcp"]}, "msgs")
    r = row(label, "msg/s", plain, note=note)
    goal("syslog-ng path: websocket() >= 1.0x network(tcp), plain", r, "ratio_raw", 1.0,
         what="x network(tcp)")
    for key, who in (("cpu_a", "A (sender)"), ("cpu_b", "B (receiver)")):
        row("8. syslog-ng CPU, %s" % who, "CPU s/1M msg",
            pick({"ours": t["ours"], "raw_tcp": t["raw_tcp"]}, key), better="lower", note=note)
    window = ARGS.ack_window or "the default"
    ack_note = ("8. acknowledgements: acknowledgements(yes) on A's websocket() destination "
                "(ack-window(): %s) and on B's websocket() source; `ours` is that path, "
                "`plain` (results.json) the websocket() path without acknowledgements of the same "
                "round, ratio_plain = acknowledged / plain" % window)
    acked = pick({"ours": t["acks"], "raw_tcp": t["raw_tcp"]}, "msgs")
    r = row("8. syslog-ng path, acknowledgements(yes)", "msg/s", acked, note=ack_note,
            plain=plain["ours"])
    goal("syslog-ng path: websocket() with acknowledgements >= 0.9x network(tcp)", r, "ratio_raw",
         0.9, what="x network(tcp)")
    goal("syslog-ng path: acknowledgements(yes) >= 0.9x websocket() without them", r,
         "ratio_plain", 0.9, what="x without acknowledgements")
    for key, who in (("cpu_a", "A (sender)"), ("cpu_b", "B (receiver)")):
        row("8. syslog-ng CPU, %s, acknowledgements(yes)" % who, "CPU s/1M msg",
            pick({"ours": t["acks"], "raw_tcp": t["raw_tcp"]}, key), better="lower",
            note=ack_note, plain=pick(t, key)["ours"])
    if no_deflate:
        not_measured("8. syslog-ng path, compression", "msg/s", "not measured: " + no_deflate)
    else:
        deflate_note = ("8. compression: compression(yes) (the module's default level) on A's "
                        "websocket() destination and B's websocket() source; `plain` "
                        "(results.json) is the websocket() path of the same round, ratio_plain = "
                        "compressed / plain")
        r = row("8. syslog-ng path, compression(yes)", "msg/s",
                pick({"ours": t["deflate"], "raw_tcp": t["raw_tcp"]}, "msgs"), note=deflate_note,
                plain=plain["ours"])
        for key, who in (("cpu_a", "A (sender)"), ("cpu_b", "B (receiver)")):
            row("8. syslog-ng CPU, %s, compression(yes)" % who, "CPU s/1M msg",
                pick({"ours": t["deflate"], "raw_tcp": t["raw_tcp"]}, key), better="lower",
                note=deflate_note, plain=pick(t, key)["ours"])
    # The cost of acknowledgements round by round (the ratios above are their medians).
    out = ["\n### syslog-ng path: acknowledgements, per run\n",
           "Messages/s of the three paths of each round, the ratios of the round, and the CPU per "
           "message of A and B with acknowledgements over without them (the same round).\n",
           "| run | websocket() msg/s | websocket() acknowledgements(yes) msg/s | network(tcp) msg/s "
           "| acks / plain | acks / tcp | CPU A acks / plain | CPU B acks / plain |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for k in range(len(t["ours"])):
        w, a, x = (t[c][k]["msgs"] for c in ("ours", "acks", "raw_tcp"))
        ca, cb = (t["acks"][k][f] / t["ours"][k][f] for f in ("cpu_a", "cpu_b"))
        out.append("| %d | %s | %s | %s | %s | %s | %s | %s |"
                   % (k + 1, fmt(w), fmt(a), fmt(x), fmt(a / w), fmt(a / x), fmt(ca), fmt(cb)))
    EXTRA_MD.append("\n".join(out))
    # Where the time goes: CPU per thread name, averaged over the rounds.
    out = ["\n### syslog-ng path: CPU per thread (s per 1M messages, mean of %d run%s)\n"
           % (len(t["ours"]), "" if len(t["ours"]) == 1 else "s"),
           "Thread names as the kernel shows them (`top -H`); `ws_api-*` is the engine's I/O "
           "thread.\n", "| path | process | thread | CPU s/1M msg |", "|---|---|---|---:|"]
    paths = [("ours", "websocket()"), ("acks", "websocket() acknowledgements(yes)")]
    if not no_deflate:
        paths.append(("deflate", "websocket() compression(yes)"))
    paths.append(("raw_tcp", "network(tcp)"))
    for col, path in paths:
        for key, proc in (("threads_a", "A"), ("threads_b", "B")):
            names = sorted({name for run in t[col] for name in run[key]})
            for name in names:
                v = statistics.mean(run[key].get(name, 0.0) for run in t[col]) / n * 1e6
                out.append("| %s | %s | %s | %s |" % (path, proc, name, fmt(v)))
    EXTRA_MD.append("\n".join(out))
    # The per-thread figures stay in results.json too (first row's runs).
    for row_ in ROWS:
        if row_["scenario"] == label:
            for k, run in enumerate(row_["runs"]):
                run["threads"] = {col: {"A": t[col][k]["threads_a"], "B": t[col][k]["threads_b"]}
                                  for col, _ in paths}


# Extra sections of results.md (### title) and the scenario they belong to, for --keep-others.
EXTRA_OF = (("Latency", "4"), ("syslog-ng path", "8"))
PARTIAL = None  # --keep-others: (header of the kept results.md, what this run re-measured)


def scenario_of(r):
    return r["scenario"].split(".", 1)[0]


def keep_others(only, m):
    """--keep-others: puts this run's rows in place of the same scenarios' rows of the existing
    results.json, keeps every other row (and its goals) and the other scenarios' extra sections
    of results.md, so that re-measuring one scenario does not discard the others' figures."""
    global PARTIAL
    if not only or not ARGS.json or not os.path.exists(ARGS.json):
        raise BenchError("--keep-others needs --only and an existing --json")
    with open(ARGS.json) as f:
        old = json.load(f)
    merged, placed = [], False
    for r in old:
        if scenario_of(r) not in only:
            merged.append(r)
        elif not placed:
            merged.extend(ROWS)
            placed = True
    if not placed:
        merged.extend(ROWS)
    ROWS[:] = merged
    GOALS[:] = [g for r in ROWS for g in r.get("goals", [])]
    header, extras = "", []
    if ARGS.md and os.path.exists(ARGS.md):
        with open(ARGS.md) as f:
            text = f.read()
        header = text.split("\n", 1)[1].split("\n| scenario", 1)[0].strip()
        for sec in text.split("\n### ")[1:]:
            title = sec.split("\n", 1)[0]
            owner = [k for t, k in EXTRA_OF if title.startswith(t)]
            if owner and owner[0] in only:
                continue
            extras.append("\n### " + sec.rstrip("\n"))
    nums = sorted(only, key=lambda x: (len(x), x))
    what = nums[0] if len(nums) == 1 else ", ".join(nums[:-1]) + " and " + nums[-1]

    def superseded(line):
        # An earlier "Scenario(s) ... re-measured" line whose scenarios this run re-measures.
        found = re.match(r"Scenarios? ([\d, and]+) re-measured", line)
        return bool(found) and set(re.findall(r"\d+", found.group(1))) <= only

    header = "\n".join(line for line in header.split("\n") if not superseded(line))
    header = re.sub(r"\n{3,}", "\n\n", header).strip()
    note = ("Scenario%s %s re-measured %s on %s UTC (`BENCH_ONLY=%s BENCH_KEEP_OTHERS=1`, %d "
            "rounds, load average %.1f at its end, the machine busy with other work); every other "
            "row is from the run above.\n"
            % ("" if len(nums) == 1 else "s", what, "alone" if len(nums) == 1 else "together",
               datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), ",".join(nums), REPS,
               m["load"]))
    PARTIAL = (header, note)
    EXTRA_MD[:] = extras + EXTRA_MD


def md_body(md):
    with open(md) as f:
        body = f.read().split("\n", 1)[1].strip()
    return body.replace("\n## ", "\n### ").replace("\n### Latency", "\n#### Latency") \
               .replace("\n### syslog-ng path", "\n#### syslog-ng path")


def update_block(doc, name, body):
    """Puts `body` between the <!-- NAME:begin --> and <!-- NAME:end --> markers of `doc`."""
    begin, end = "<!-- %s:begin -->" % name, "<!-- %s:end -->" % name
    with open(doc) as f:
        text = f.read()
    if begin not in text or end not in text:
        log("(%s has no %s markers: not updated)" % (doc, name))
        return
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    with open(doc, "w") as f:
        f.write(head + begin + "\n" + body + "\n" + end + tail)


def busy_goals(m):
    """Marks this run's goals that a busy machine leaves undecided: with the load average above
    the cores at the run's end, a goal whose rounds fall on both sides of its limit gets
    `"judged": false` (its `met` stays what the median says). Such a median says more about
    the other work on the machine than about the code; a quiet run decides it."""
    if m["load"] <= m["cores"]:
        return
    for g in GOALS:
        g["load"] = rnd(m["load"])
        if g["met"] is None or g["rule"].startswith("every") or g.get("min") is None:
            continue
        lo, hi, limit = g["min"], g["max"], g["limit"]
        if (lo < limit <= hi) if g["rule"].endswith(">= limit") else (lo <= limit < hi):
            g["judged"] = False


def goals_table():
    out = ["| goal | measured (median, spread) | met |", "|---|---|---|"]
    for g in GOALS:
        met = {True: "yes", False: "**no**", None: "not measured"}[g["met"]]
        if g.get("judged") is False:
            met = ("not judged: rounds on both sides of the limit on a busy machine (load "
                   "average %s); the median alone says %s" % (fmt(g["load"]),
                                                             "yes" if g["met"] else "no"))
        out.append("| %s | %s | %s |" % (g["goal"], g["measured"], met))
    return out


def readme_block(m):
    when, reps, load = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), REPS, m["load"]
    if PARTIAL:
        # The full run's own figures, from the header kept in results.md.
        found = [re.search(rx, PARTIAL[0]) for rx in (r"on (\S+ \S+) UTC", r"ran (\d+) round",
                                                      r"was (\d+(?:\.\d+)?)\)")]
        if all(found):
            when, reps, load = found[0].group(1), int(found[1].group(1)), float(found[2].group(1))
    return "\n".join([
        "Goals of the latest full run (`bench/results.md`, written %s UTC; %d rounds, each "
        "scenario's columns interleaved; load average %.1f at its end). Each ratio is taken "
        "within one round, then the median and the spread (min–max) over the rounds are given; "
        "absolute figures move with the machine and are in `bench/results.md`."
        % (when, reps, load) + (" " + PARTIAL[1].strip() if PARTIAL else ""), ""]
        + goals_table())


def write_md(path, m, elapsed, quick):
    out = []
    out.append("# ws_api benchmark results\n")
    if PARTIAL:
        out.append(PARTIAL[0] + "\n")
        out.append(PARTIAL[1])
    else:
        write_md_header(out, m, elapsed, quick)
    write_md_rows(out)
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def write_md_header(out, m, elapsed, quick):
    out.append("Written by `scripts/bench.sh%s` on %s UTC in %.0f s.\n"
               % (" --quick" if quick else "",
                  datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), elapsed))
    if quick:
        out.append("**Quick mode: tiny sizes, the figures mean nothing.**\n")
    elif REPS < 5 or ARGS.scale != 1.0:
        out.append("**Tooling test (%d rounds, sizes x%s): not a results run.**\n"
                   % (REPS, ARGS.scale))
    out.append("Machine: %s, %d cores, Linux %s; libwebsockets %s. 200-byte text messages over "
               "loopback unless stated; producer and consumers are separate processes. Every "
               "scenario ran %d round%s, its columns interleaved (ours, libwebsockets, raw TCP, "
               "ours, ...). The absolute columns are medians and move with the machine (the load "
               "average when the run ended was %.1f); judge by the ratios, each taken within one "
               "round (ours / other) and given as median (min–max over the rounds): above 1 is "
               "better where higher is better, below 1 where lower is better (column *better*). "
               "Every round's figures are in `results.json` (`runs`).\n"
               % (m["cpu"], m["cores"], m["kernel"], m["lws"], REPS, "" if REPS == 1 else "s",
                  m["load"]))


def write_md_rows(out):
    notes = []
    if any(not r.get("compare") for r in ROWS):
        out.append("| scenario | unit | better | ours | libwebsockets | raw TCP | ours/lws | ours/raw |")
        out.append("|---|---|---|---:|---:|---:|---:|---:|")
        for r in ROWS:
            if r.get("compare"):
                continue
            if r.get("note") and r["note"] not in notes:
                notes.append(r["note"])
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["scenario"], r["unit"], r["better"], fmt(r["ours"]), fmt(r["libwebsockets"]),
                fmt(r["raw_tcp"]), fmt_spread(r, "ratio_libwebsockets"), fmt_spread(r, "ratio_raw")))
        if notes:
            out.append("")
            out.extend("- %s" % n for n in notes)
    compared = [r for r in ROWS if r.get("compare")]
    if compared:
        out.append("\n## Compression (permessage-deflate)\n")
        out.append("ws_api against ws_api, plain and compressed, interleaved in every round (plain, "
                   "level %s, ...); the ratio compressed / plain is taken within each round and given "
                   "as median (min–max over the rounds).\n" % ", level ".join(str(l) for l in LEVELS))
        out.append("| scenario | unit | better | plain | compressed | compressed/plain |")
        out.append("|---|---|---|---:|---:|---:|")
        for r in compared:
            out.append("| %s | %s | %s | %s | %s | %s |" % (r["scenario"], r["unit"], r["better"],
                                                          fmt(r["plain"]), fmt(r["ours"]),
                                                          fmt_spread(r, "ratio_plain")))
        if COMPARE_NOTES:
            out.append("")
            out.extend("- %s" % n for n in COMPARE_NOTES)
    if GOALS:
        out.append("\n## Goals\n")
        out.extend(goals_table())
    out.extend(EXTRA_MD)


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        print("bench: FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
