"""bench/syslogng.py: scenario 8, the operators' number.

    loggen -> syslog-ng A -> websocket() destination -> websocket() source in syslog-ng B -> file
    loggen -> syslog-ng A -> network(transport(tcp))  -> network(transport(tcp)) in B      -> file

Both paths run the same two syslog-ng processes' configuration except for the transport between
A and B, with flags(flow-control) on every log path, so the rate measured is what syslog-ng
delivers end to end without dropping: the time from loggen's start until B's file holds every
message. Every message is then checked to be there exactly once (loggen numbers them: "seq: N").

The syslog-ng processes are run by modules/websocket/tests/sngtest.py (the module's end-to-end
test harness: work directory, persist file, control socket, stderr reader), so the bench starts
syslog-ng exactly as the module's tests do.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "modules",
                                "websocket", "tests"))
import sngtest  # noqa: E402  (found through the path above)

# websocket_acks: the websocket path with end-to-end acknowledgements: A's destination keeps
# each message in syslog-ng's queue until B acknowledges it, and B acknowledges once its file
# destination wrote it. websocket_deflate: the websocket path with permessage-deflate
# (compression(yes), the module's default level), when the module has that option
# (supports_compression()).
PATHS = ("websocket", "websocket_acks", "websocket_deflate", "tcp")
# ack-window() of the websocket_acks path's destination (None: the module's default); set by
# run.py --ack-window for the experiments of docs/bench.md.
ACK_WINDOW = None
LOGGEN = os.environ.get("LOGGEN", "loggen")
# Windows and queues of both paths: large enough that flow control, not a tiny window, sets the
# pace (syslog-ng's defaults are a 100-message source window shared by 10 connections).
WINDOW = 10000
CLK_TCK = os.sysconf("SC_CLK_TCK")


class PathError(Exception):
    pass


def version():
    """syslog-ng's version, e.g. "3.38.1" (None when syslog-ng is not installed)."""
    try:
        out = subprocess.run(sngtest.SYSLOG_NG + ["--version"], capture_output=True, text=True,
                             timeout=30).stdout
    except OSError:
        return None
    m = re.search(r"^syslog-ng \S+ \(([^)]+)\)", out, re.M)
    return m.group(1) if m else out.split("\n", 1)[0].strip()


def missing(module_dir):
    """Why scenario 8 cannot run here (None when it can)."""
    if shutil.which(sngtest.SYSLOG_NG[-1]) is None:
        return "syslog-ng is not installed (apt-get install syslog-ng-core)"
    if shutil.which(LOGGEN) is None:
        return "loggen is not installed (Debian: package syslog-ng-core)"
    if not module_dir or not os.path.isfile(os.path.join(module_dir, "libwebsocket.so")):
        return ("no libwebsocket.so in %r (build the module: make install in _build, or set "
                "BENCH_SNG_MODULE_DIR)" % module_dir)
    return None


def _is_ws(kind):
    return kind.startswith("websocket")


def _acks(kind):
    """The websocket driver's options of `kind` beyond address and port."""
    return {"websocket_acks": "acknowledgements(yes)",
            "websocket_deflate": "compression(yes)"}.get(kind, "")


def supports_compression(workdir, module_dir):
    """Whether the module accepts compression(yes) (syslog-ng --syntax-only on B's and A's
    configurations of that path): None if it does, else why not."""
    d = tempfile.mkdtemp(prefix="deflate-check-", dir=workdir)
    try:
        for name, cfg in (("B", _config_b("websocket_deflate", os.path.join(d, "out"), 0)),
                          ("A", _config_a("websocket_deflate", 1, 2))):
            rc, out = sngtest.SyslogNg(d, name, cfg, module_dir).syntax_only()
            if rc != 0:
                lines = [l.strip() for l in out.splitlines() if l.strip()]
                why = [l for l in lines if "error" in l.lower()] or lines[-1:] or [str(rc)]
                return "the module refuses compression(yes) (%s)" % why[0]
        return None
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _config_b(kind, out, port):
    if _is_ws(kind):
        src = ('websocket( address("127.0.0.1") port(0) log-iw-size(%d) %s )'
               % (WINDOW, _acks(kind)))
    else:
        src = ('network( ip("127.0.0.1") port(%d) transport("tcp") max-connections(1) '
               'log-iw-size(%d) )' % (port, WINDOW))
    return """
source s_in { %s; };
destination d_file { file("%s" template("$MSG\\n")); };
log { source(s_in); destination(d_file); flags(flow-control); };
""" % (src, out)


def _config_a(kind, in_port, port):
    if _is_ws(kind):
        opts = _acks(kind)
        if kind == "websocket_acks" and ACK_WINDOW:
            opts += " ack-window(%d)" % ACK_WINDOW
        dst = 'websocket( mode("client") address("127.0.0.1") port(%d) %s )' % (port, opts)
    else:
        dst = 'network( "127.0.0.1" port(%d) transport("tcp") )' % port
    return """
source s_loggen { network( ip("127.0.0.1") port(%d) transport("tcp") max-connections(1)
                           log-iw-size(%d) ); };
destination d_out { %s; };
log { source(s_loggen); destination(d_out); flags(flow-control); };
""" % (in_port, WINDOW, dst)


def _wait_established(port, proc, timeout=30):
    """Waits until B's listening port has an established connection (A's destination is
    connected), so that neither path's measurement includes connecting. /proc/net/tcp lists
    sockets with their local address as hex IP:port and state 01 for ESTABLISHED."""
    want = ":%04X" % port
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if fields[1].endswith(want) and fields[3] == "01":
                    return
        if proc.proc.poll() is not None:
            break
        time.sleep(0.01)
    raise PathError("syslog-ng A did not connect to B's port %d within %ds (log: %s)"
                    % (port, timeout, proc.log_path))


def _cpu_s(stat_path):
    """utime + stime of a /proc .../stat file, in seconds."""
    with open(stat_path) as f:
        # The fields after the ")" closing comm: utime and stime are the 12th and 13th.
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _thread_cpu(pid):
    """CPU seconds of a process so far: {"total": s, "main": s, thread name: s (summed over the
    living threads of that name)}. syslog-ng's worker threads are all called "syslog-ng"; the
    engine's I/O thread is "ws_api-client" or "ws_api-server"."""
    out = {}
    task = "/proc/%d/task" % pid
    total = _cpu_s("/proc/%d/stat" % pid)
    for tid in os.listdir(task):
        try:
            with open(os.path.join(task, tid, "comm")) as f:
                name = f.read().strip()
            s = _cpu_s(os.path.join(task, tid, "stat"))
        except OSError:
            continue  # the thread ended meanwhile
        if int(tid) == pid:
            name = "main"
        elif name == "syslog-ng":
            name = "syslog-ng workers"
        out[name] = out.get(name, 0.0) + s
    out["total"] = total
    return out


def _cpu_since(base, now):
    """CPU spent between two _thread_cpu() readings, by thread name; "ended threads" is what
    the process spent beyond its living threads (threads gone before the second reading)."""
    out = {k: max(0.0, v - base.get(k, 0.0)) for k, v in now.items() if k != "total"}
    out["ended threads"] = max(0.0, now["total"] - base["total"] - sum(out.values()))
    return {k: round(v, 3) for k, v in sorted(out.items())}


class _LineCounter:
    """Counts the lines of a file another process is appending to, reading only what is new."""

    def __init__(self, path):
        self.path = path
        self.f = None
        self.lines = 0

    def poll(self):
        if self.f is None:
            try:
                self.f = open(self.path, "rb")
            except FileNotFoundError:
                return 0
        while True:
            chunk = self.f.read(1 << 20)
            if not chunk:
                return self.lines
            self.lines += chunk.count(b"\n")

    def close(self):
        if self.f:
            self.f.close()


def _check_delivered(path, n):
    """Every message 0..n-1 exactly once in B's file (loggen numbers them "seq: N")."""
    seen = bytearray(n)
    dup = extra = 0
    rx = re.compile(rb"seq: (\d+),")
    with open(path, "rb") as f:
        for line in f:
            m = rx.search(line)
            s = int(m.group(1)) if m else -1
            if not 0 <= s < n:
                extra += 1
            elif seen[s]:
                dup += 1
            else:
                seen[s] = 1
    lost = n - sum(seen)
    if lost or dup or extra:
        raise PathError("%s: %d of %d messages lost, %d duplicated, %d unexpected lines"
                        % (path, lost, n, dup, extra))


def run_path(kind, n, size, workdir, module_dir, stall_s):
    """One run of one path; answers {"msgs": msg/s, "cpu_a"/"cpu_b": CPU s per 1M messages,
    "threads_a"/"threads_b": CPU s per thread name, "secs": s}. Raises PathError when a program
    fails or a message is lost (nothing arrives for stall_s seconds before all have)."""
    d = tempfile.mkdtemp(prefix=kind + "-", dir=workdir)
    out = os.path.join(d, "b.out")
    port = 0 if _is_ws(kind) else sngtest.free_tcp_port()
    b = sngtest.SyslogNg(d, "B", _config_b(kind, out, port), module_dir)
    a = loggen = None
    counter = _LineCounter(out)
    try:
        b.start(wait=False)
        if _is_ws(kind):
            m, _ = b.wait_for(r"websocket: source started;.*port='(\d+)'")
            port = int(m.group(1))
        b.wait_for(r"syslog-ng starting up")
        in_port = sngtest.free_tcp_port()
        a = sngtest.SyslogNg(d, "A", _config_a(kind, in_port, port), module_dir)
        a.start()
        _wait_established(port, a)
        # CPU from here on only: starting up (parsing the configuration, loading modules) is
        # not part of the path.
        base_a, base_b = _thread_cpu(a.proc.pid), _thread_cpu(b.proc.pid)
        t0 = time.monotonic()
        loggen = subprocess.Popen(
            [LOGGEN, "--inet", "--stream", "--size", str(size), "--rate", "100000000",
             "--interval", "3600", "--number", str(n), "--quiet", "127.0.0.1", str(in_port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        last, last_t = 0, t0
        while True:
            got = counter.poll()
            now = time.monotonic()
            if got >= n:
                break
            if got != last:
                last, last_t = got, now
            elif now - last_t > stall_s:
                raise PathError("%s path: %d of %d messages in B's file, none for %d s (log: %s, %s)"
                                % (kind, got, n, stall_s, a.log_path, b.log_path))
            for s in (a, b):
                if s.proc.poll() is not None:
                    raise PathError("%s path: syslog-ng %s exited (status %s; log: %s)"
                                    % (kind, s.name, s.proc.returncode, s.log_path))
            time.sleep(0.01)
        secs = time.monotonic() - t0
        threads_a = _cpu_since(base_a, _thread_cpu(a.proc.pid))
        threads_b = _cpu_since(base_b, _thread_cpu(b.proc.pid))
        err = loggen.communicate(timeout=60)[1]
        if loggen.returncode != 0:
            raise PathError("loggen: exit status %d: %s" % (loggen.returncode, err.strip()))
        for s in (a, b):
            rc = s.stop()
            if rc != 0:
                raise PathError("%s path: syslog-ng %s exited with status %s (log: %s)"
                                % (kind, s.name, rc, s.log_path))
        _check_delivered(out, n)
    except sngtest.Failure as e:
        raise PathError("%s path: %s" % (kind, e))
    finally:
        counter.close()
        if loggen and loggen.poll() is None:
            loggen.kill()
            loggen.wait()
        for s in (a, b):
            if s:
                s.kill()
    shutil.rmtree(d, ignore_errors=True)  # B's file is n lines of `size` bytes: not kept
    return {"msgs": n / secs, "secs": secs,
            "cpu_a": sum(threads_a.values()) / n * 1e6,
            "cpu_b": sum(threads_b.values()) / n * 1e6,
            "threads_a": threads_a, "threads_b": threads_b}
