"""sngtest.py: runs real syslog-ng processes for the websocket() module tests.

Each SyslogNg instance has its own directory with its configuration, pid, persist and control
files, loads modules from the module under test first (--module-path) and then from the
installed syslog-ng's module directory, and logs its internal messages to stderr (-e -v), which
a reader thread collects so tests can wait for events ("starting up", "reload finished", the
port a server bound) instead of sleeping.
"""

import os
import re
import shutil
import shlex
import signal
import socket
import subprocess
import tempfile
import threading
import time
import traceback

# The syslog-ng under test: SYSLOG_NG / SYSLOG_NG_CTL name the programs, WS_SNG_PREFIX is put in
# front of both (e.g. "chroot /var/cache/ws_api/trixie-root" runs Debian 13's syslog-ng; every
# path a test uses must then be the same inside that root, see scripts/check.d/31-syslog-ng-4.sh).
PREFIX = shlex.split(os.environ.get("WS_SNG_PREFIX", ""))
SYSLOG_NG = PREFIX + [os.environ.get("SYSLOG_NG", "syslog-ng")]
SYSLOG_NG_CTL = PREFIX + [os.environ.get("SYSLOG_NG_CTL", "syslog-ng-ctl")]
_version_info = None


def version_info():
    """Fields of `syslog-ng --version` ("Installer-Version", "Config version", "Module-Directory")."""
    global _version_info
    if _version_info is None:
        r = subprocess.run(SYSLOG_NG + ["--version"], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "syslog-ng --version failed: %s" % r.stderr)
        _version_info = {}
        for line in r.stdout.splitlines():
            k, sep, v = line.partition(":")
            if sep:
                _version_info[k.strip()] = v.strip()
    return _version_info


def version():
    """(major, minor) of the syslog-ng under test."""
    v = version_info().get("Installer-Version", "3.38")
    return tuple(int(x) for x in v.split(".")[:2])


class Skip(Exception):
    """The test cannot run here (reported as SKIP with the reason)."""


class Failure(AssertionError):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def system_module_dir():
    """The module directory of the syslog-ng under test (not the one pkg-config names: that can
    be another version's)."""
    return version_info().get("Module-Directory") or "/usr/lib/syslog-ng/%d.%d" % version()


def free_tcp_port():
    """A port for syslog-ng's own network() source (syslog-ng cannot bind port 0 and tell us);
    the websocket listeners use port(0) and report the port they bound instead."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SyslogNg:
    def __init__(self, workdir, name, config, module_dir):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.name = name
        self.module_dir = module_dir
        self.cfg = os.path.join(self.dir, "syslog-ng.conf")
        self.pid = os.path.join(self.dir, "syslog-ng.pid")
        self.persist = os.path.join(self.dir, "syslog-ng.persist")
        self.ctl = os.path.join(self.dir, "syslog-ng.ctl")
        if len(self.ctl) > 100:
            # A unix socket path holds at most 107 bytes; deep build trees (make distcheck) exceed it.
            self.ctl = os.path.join(tempfile.mkdtemp(prefix="sng-ctl-"), "syslog-ng.ctl")
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.proc = None
        self.lines = []
        self.cond = threading.Condition()
        self.write_config(config)

    def write_config(self, config):
        with open(self.cfg, "w") as f:
            f.write("@version: %s\n" % version_info().get("Config version", "3.38"))
            # stats(level(1)) is 4.x's spelling; 3.x only knows stats-level(). use-dns(no): the
            # tests' peers are 127.0.0.x or addresses named in forwarding headers, and no test may
            # make syslog-ng ask the machine's resolver for their names (traffic off loopback).
            stats = "stats(level(1));" if version() >= (4, 0) else "stats-level(1);"
            f.write("options { %s use-dns(no); dns-cache(no); };\n" % stats)
            f.write(config)

    def args(self, *extra):
        return SYSLOG_NG + ["-F", "-e", "-v", "--no-caps",
                "--module-path=%s:%s" % (self.module_dir, system_module_dir()),
                "-f", self.cfg, "-p", self.pid, "-R", self.persist, "-c", self.ctl] + list(extra)

    def syntax_only(self):
        r = subprocess.run(self.args("--syntax-only"), capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout + r.stderr

    def _reader(self, stream):
        with open(self.log_path, "a") as log:
            for line in stream:
                log.write(line)
                log.flush()
                with self.cond:
                    self.lines.append(line)
                    self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # EOF marker
            self.cond.notify_all()

    def wait_for(self, pattern, timeout=30, start=0):
        """Waits until a stderr line from index `start` on matches; returns (match, index)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        i = start
        with self.cond:
            while True:
                while i < len(self.lines):
                    line = self.lines[i]
                    if line is None:
                        raise Failure("%s exited (status %s) while waiting for /%s/; log: %s"
                                      % (self.name, self.proc.poll(), pattern, self.log_path))
                    m = rx.search(line)
                    if m:
                        return m, i + 1
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Failure("%s: timeout waiting for /%s/; log: %s" % (self.name, pattern, self.log_path))
                self.cond.wait(left)

    def mark(self):
        with self.cond:
            return len(self.lines)

    def start(self, wait=True):
        with self.cond:
            self.lines = []
        self.proc = subprocess.Popen(self.args(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, errors="replace")
        threading.Thread(target=self._reader, args=(self.proc.stdout,), daemon=True).start()
        if wait:
            self.wait_for(r"syslog-ng starting up")
        return self

    def wait_exit(self, timeout=60):
        """Waits until the process exited and its output was read to the end; returns its exit
        status (the reader thread may still hold the last lines when the process is gone)."""
        rc = self.proc.wait(timeout)
        deadline = time.monotonic() + timeout
        with self.cond:
            while not self.lines or self.lines[-1] is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Failure("%s: its output did not end within %ss" % (self.name, timeout))
                self.cond.wait(left)
        return rc

    def log_text(self):
        with self.cond:
            return "".join(l for l in self.lines if l)

    def reload(self):
        start = self.mark()
        self.proc.send_signal(signal.SIGHUP)
        self.wait_for(r"Configuration reload finished|Error initializing new configuration", start=start)
        check("Configuration reload finished" in self.log_text()[0:] and
              "Error initializing new configuration" not in self.log_text(),
              "%s: reload failed; log: %s" % (self.name, self.log_path))

    def stats(self, *extra):
        """`syslog-ng-ctl stats` (extra: e.g. "prometheus" on 4.x)."""
        r = subprocess.run(SYSLOG_NG_CTL + ["stats"] + list(extra) + ["-c", self.ctl],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 0, "syslog-ng-ctl stats failed: %s" % r.stderr)
        return r.stdout

    def stat(self, instance_part, kind, source_name="websocket"):
        """Value of a counter from `syslog-ng-ctl stats` (CSV: SourceName;SourceId;SourceInstance;State;Type;Number)."""
        for line in self.stats().splitlines():
            f = line.split(";")
            if len(f) == 6 and f[0].endswith(source_name) and instance_part in f[2] and f[4] == kind:
                return int(f[5])
        return None

    def wait_stat(self, instance_part, kind, expected, timeout=30):
        """Waits until a counter reaches `expected` (counters are updated by syslog-ng's worker
        threads a moment after the effect a test observes); returns the last value."""
        deadline = time.monotonic() + timeout
        while True:
            v = self.stat(instance_part, kind)
            if v == expected or time.monotonic() > deadline:
                return v
            time.sleep(0.05)

    def stop(self, timeout=60):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise Failure("%s did not stop within %ss" % (self.name, timeout))
        rc = self.proc.returncode if self.proc else 0
        self.proc = None
        return rc

    def kill(self):
        """SIGKILL; returns once the process is gone and its output read to the end (so that a
        start() right after cannot see the end of the killed process's output)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.wait_exit()
        self.proc = None


def tcp_send_lines(port, lines):
    """Sends newline-terminated lines to syslog-ng's network() source and closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall("".join(l + "\n" for l in lines).encode())


def read_lines(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def wait_file_lines(path, count, timeout=60, proc=None):
    """Waits until the file has `count` lines; polls the file, since a file written by another
    process has no event to wait for (inotify is not worth a dependency here)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = read_lines(path)
        if len(lines) >= count:
            return lines
        if time.monotonic() > deadline:
            raise Failure("%s: %d of %d lines after %ss" % (path, len(lines), count, timeout))
        if proc is not None and proc.proc is not None and proc.proc.poll() is not None:
            raise Failure("%s exited while waiting for %s" % (proc.name, path))
        time.sleep(0.05)


def run_tests(tests, wanted, root, make_ctx):
    """Runs each test function of `tests` whose name contains one of `wanted` (all without),
    each in a fresh work directory under `root` with a context from `make_ctx(workdir)` that is
    closed afterwards; prints one line per test and answers (passed, failed, skipped) counts."""
    results = {}
    for t in tests:
        name = t.__name__
        if wanted and not any(w in name for w in wanted):
            continue
        workdir = os.path.join(root, name)
        shutil.rmtree(workdir, ignore_errors=True)
        os.makedirs(workdir)
        ctx = make_ctx(workdir)
        t0 = time.monotonic()
        try:
            t(ctx)
            results[name] = "PASS"
        except Skip as e:
            results[name] = "SKIP (%s)" % e
        except Exception as e:
            results[name] = "FAIL"
            print("---- %s failed: %s" % (name, e))
            traceback.print_exc()
        finally:
            ctx.close()
        print("%-40s %s (%.1fs)" % (name, results[name], time.monotonic() - t0), flush=True)
    print("output: %s" % root)
    failed = sum(r == "FAIL" for r in results.values())
    passed = sum(r == "PASS" for r in results.values())
    return passed, failed, len(results) - passed - failed
