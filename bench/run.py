#!/usr/bin/env python3
"""bench/run.py: runs every benchmark scenario and writes bench/results.md and results.json.

Called by scripts/bench.sh (which builds the programs first):

    run.py --bin DIR [--quick] [--md FILE] [--json FILE]

Each scenario starts a server program, reads its `port=N` line, starts the peer program(s) in
other processes and collects the `key=value` lines every program prints at its end.  Any program
that fails, times out or reports fewer messages than were sent fails the whole run (exit 1):
--quick is what CI runs so that the benchmarks never rot; it never judges speed.
"""

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time

ARGS = None
REPS = 1  # runs per figure (the median is kept): 3 in a full run, 1 with --quick


class BenchError(Exception):
    pass


def log(msg):
    print(msg, flush=True)


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


def median_runs(fn, impls, key=None, reps=None):
    """Runs fn(impl) REPS (or `reps`) times for every impl, interleaved (so that a burst of load
    from elsewhere on the machine hits every column alike); answers {impl: median result}."""
    runs = {i: [] for i in impls}
    for _ in range(reps if reps and REPS > 1 else REPS):
        for i in impls:
            runs[i].append(fn(i))
    out = {}
    for i, vs in runs.items():
        vs = sorted(vs, key=(lambda v: v[key]) if key else None)
        out[i] = vs[len(vs) // 2]
    return out


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
    return n * subs / ((int(r["last_ns"]) - int(s["start_ns"])) / 1e9)


def latency(impl, rate, secs):
    n = max(1, int(rate * secs))
    s, _ = throughput_pair_latency(impl, rate, n)
    return {"p50": float(s["lat_p50_us"]), "p99": float(s["lat_p99_us"]),
            "p999": float(s["lat_p999_us"])}


def throughput_pair_latency(impl, rate, n):
    sp, cp = IMPLS[impl]
    return pair([prog(sp), "sink", "--count", str(n), "--latency"],
                [prog(cp), "send", "--port", "{port}", "--count", str(n), "--rate", str(rate),
                 "--latency"], n)


def connections(impl, conns):
    sp = IMPLS[impl][0]
    srv = Proc([prog(sp), "sink", "--count", "0"])
    sub = None
    try:
        port = srv.read_until("port", 30)
        rss0 = int(srv.read_until("rss0_kb", 30))
        sub = Proc([prog("rawws"), "sub", "--port", port, "--count", "0", "--conns",
                    str(conns)])
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


# ---- table ----------------------------------------------------------------------------------

ROWS = []


def row(scenario, unit, ours, lws=None, raw=None, better="higher"):
    def ratio(a, b):
        return round(a / b, 3) if a is not None and b else None

    def rnd(v):
        if v is None:
            return None
        return round(v, 3) if abs(v) < 100 else round(v)

    r = {"scenario": scenario, "unit": unit, "ours": rnd(ours), "libwebsockets": rnd(lws),
         "raw_tcp": rnd(raw), "ratio_libwebsockets": ratio(ours, lws), "ratio_raw": ratio(ours, raw)}
    ROWS.append((r, better))
    log("  %-44s %-10s ours=%s lws=%s raw=%s" % (scenario, unit, r["ours"], r["libwebsockets"],
                                                  r["raw_tcp"]))


def fmt(v):
    if v is None:
        return "–"
    if isinstance(v, float) and abs(v) < 100:
        return "%.3g" % v if abs(v) < 10 else "%.1f" % v
    return "{:,}".format(int(v))


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
    ap.add_argument("--md")
    ap.add_argument("--json")
    ap.add_argument("--doc", help="a markdown file whose results:begin/end block gets the table")
    ap.add_argument("--only", help="comma-separated scenario numbers (for profiling runs)")
    ARGS = ap.parse_args()
    q = ARGS.quick
    REPS = 1 if q else 3
    only = set(ARGS.only.split(",")) if ARGS.only else None
    fdlim = raise_fd_limit()
    t0 = time.monotonic()
    impls = ["ours", "libwebsockets", "raw_tcp"]
    goals = []
    res = {}

    def want(k):
        return only is None or k in only

    if want("1"):
        n = 20000 if q else 2000000
        log("1. client-send: %d messages of 200 B" % n)
        res["send"] = median_runs(lambda i: throughput(i, n), impls, "msgs")
        t = res["send"]
        row("1. client-send 200 B", "msg/s", *[t[i]["msgs"] for i in impls])
        row("1. client-send CPU (both processes)", "CPU s/1M msg",
            *[t[i]["cpu_per_m"] for i in impls], better="lower")
        row("1. client-send peak RSS, sender", "KiB", *[t[i]["rss_send"] for i in impls],
            better="lower")
        row("1. client-send peak RSS, sink", "KiB", *[t[i]["rss_sink"] for i in impls],
            better="lower")
        o, l = t["ours"]["msgs"], t["libwebsockets"]["msgs"]
        goals.append(("client-send >= 2,000,000 msg/s and >= 2x libwebsockets",
                      "%s msg/s, %.2fx" % (fmt(o), o / l), o >= 2e6 and o >= 2 * l))

    if want("2"):
        total = 20000 if q else 2000000
        log("2. broadcast: %d deliveries per subscriber count" % total)
        for subs in (1, 10, 100, 1000):
            n = max(10, total // subs)
            m = median_runs(lambda i: broadcast(i, subs, n), impls)
            v = [m[i] for i in impls]
            row("2. broadcast to %d subscriber%s" % (subs, "" if subs == 1 else "s"),
                "deliveries/s", *v)
            if subs == 100:
                goals.append(("broadcast to 100 subscribers >= 10,000,000 deliveries/s",
                              "%s deliveries/s" % fmt(v[0]), v[0] >= 1e7))

    if want("3"):
        n = 20000 if q else 2000000
        log("3. receive: 10 clients, %d messages in total" % n)
        m = median_runs(lambda i: throughput(i, n, conns=10), impls, "msgs")
        v = [m[i]["msgs"] for i in impls]
        row("3. receive from 10 clients (on_receive)", "msg/s", *v)
        p = median_runs(lambda i: throughput(i, n, conns=10, sink_prog="ours_legacy"), ["ours"],
                        "msgs")["ours"]["msgs"]
        row("3. receive from 10 clients (2016 pipe)", "msg/s", p, v[1], v[2])

    if want("4"):
        secs = 0.2 if q else 10
        for rate in (10000, 100000):
            log("4. latency at %d msg/s for %ss" % (rate, secs))
            v = [latency(i, rate, secs) for i in impls]
            for k, name in (("p50", "p50"), ("p99", "p99"), ("p999", "p99.9")):
                row("4. latency %s at %s msg/s" % (name, fmt(rate)), "µs",
                    *[x[k] for x in v], better="lower")
            if rate == 100000:
                goals.append(("p99 latency <= 1 ms at 100,000 msg/s",
                              "%.0f µs" % v[0]["p99"], v[0]["p99"] <= 1000))

    if want("5"):
        conns = 100 if q else 10000
        if fdlim < conns + 100:
            conns = max(10, fdlim - 100)
            log("   (descriptor limit %d: %d connections only)" % (fdlim, conns))
        log("5. connections: %d idle clients" % conns)
        v = [connections(i, conns) for i in ("ours", "libwebsockets")]
        row("5. %s idle connections: RSS per connection" % fmt(conns), "KiB",
            v[0]["kib_per_conn"], v[1]["kib_per_conn"], better="lower")
        row("5. %s idle connections: connects/s" % fmt(conns), "conn/s",
            v[0]["connects_s"], v[1]["connects_s"])
        goals.append(("10,000 connections at <= 16 KiB RSS each",
                      "%.1f KiB (%d connections)" % (v[0]["kib_per_conn"], conns),
                      v[0]["kib_per_conn"] <= 16))

    if want("6"):
        sizes = ((16, 2000000), (1024, 500000), (65536, 8000), (1048576, 500))
        for size, n in sizes:
            n = max(5, n // 100) if q else n
            log("6. message size %d B: %d messages" % (size, n))
            # Large messages make short runs (a fraction of a second): 5 of them.
            m = median_runs(lambda i: throughput(i, n, size=size), impls, "mbs",
                            reps=5 if size >= 65536 else None)
            v = [m[i]["mbs"] for i in impls]
            label = {16: "16 B", 1024: "1 KiB", 65536: "64 KiB", 1048576: "1 MiB"}[size]
            row("6. message size %s" % label, "MB/s", *v)
            if size >= 65536:
                goals.append(("%s messages >= half of raw-TCP MB/s" % label,
                              "%.2f of raw" % (v[0] / v[2]), v[0] >= v[2] / 2))

    if want("7"):
        n = 20000 if q else 2000000
        log("7. the 2016 path: %d messages" % n)
        leg = median_runs(lambda i: throughput(i, n, send_prog="ours_legacy"), ["ours"],
                          "msgs")["ours"]
        new = res["send"]["ours"]["msgs"] if "send" in res else throughput("ours", n)["msgs"]
        lws_v = res["send"]["libwebsockets"]["msgs"] if "send" in res else None
        raw_v = res["send"]["raw_tcp"]["msgs"] if "send" in res else None
        row("7. client send, 2016 websocket_client_send_msg", "msg/s", leg["msgs"], lws_v, raw_v)
        row("7. client send, ws_send (as in 1.)", "msg/s", new, lws_v, raw_v)

    elapsed = time.monotonic() - t0
    log("all scenarios passed in %.0f s" % elapsed)
    m = machine()
    if ARGS.json:
        with open(ARGS.json, "w") as f:
            json.dump([r for r, _ in ROWS], f, indent=1, ensure_ascii=False)
            f.write("\n")
    if ARGS.md:
        write_md(ARGS.md, m, goals, elapsed, q)
        if ARGS.doc:
            update_doc(ARGS.doc, ARGS.md)


def update_doc(doc, md):
    """Puts results.md (without its title) between the markers of `doc`."""
    begin, end = "<!-- results:begin -->", "<!-- results:end -->"
    with open(doc) as f:
        text = f.read()
    if begin not in text or end not in text:
        log("(%s has no results markers: not updated)" % doc)
        return
    with open(md) as f:
        body = f.read().split("\n", 1)[1].strip()
    body = body.replace("\n## Goals", "\n### Goals")
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    with open(doc, "w") as f:
        f.write(head + begin + "\n" + body + "\n" + end + tail)


def write_md(path, m, goals, elapsed, quick):
    out = []
    out.append("# ws_api benchmark results\n")
    out.append("Written by `scripts/bench.sh%s` on %s UTC in %.0f s.\n"
               % (" --quick" if quick else "",
                  datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), elapsed))
    if quick:
        out.append("**Quick mode: tiny sizes, the figures mean nothing.**\n")
    out.append("Machine: %s, %d cores, Linux %s; libwebsockets %s. 200-byte text messages over "
               "loopback unless stated; producer and consumers are separate processes. Ratios are "
               "ours / other: above 1 is better where higher is better, below 1 where lower is "
               "better (column *better*). Each figure is the median of %d run%s; the load average when the "
               "run ended was %.1f (other work on the machine shows up as noise).\n"
               % (m["cpu"], m["cores"], m["kernel"], m["lws"], REPS, "" if REPS == 1 else "s",
                  m["load"]))
    out.append("| scenario | unit | better | ours | libwebsockets | raw TCP | ours/lws | ours/raw |")
    out.append("|---|---|---|---:|---:|---:|---:|---:|")
    for r, better in ROWS:
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["scenario"], r["unit"], better, fmt(r["ours"]), fmt(r["libwebsockets"]),
            fmt(r["raw_tcp"]), fmt(r["ratio_libwebsockets"]), fmt(r["ratio_raw"])))
    if goals:
        out.append("\n## Goals\n")
        out.append("| goal | measured | met |")
        out.append("|---|---|---|")
        for g, meas, ok in goals:
            out.append("| %s | %s | %s |" % (g, meas, "yes" if ok else "**no**"))
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        print("bench: FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
