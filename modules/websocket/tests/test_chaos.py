#!/usr/bin/env python3
"""Chaos test of the websocket() path between two real syslog-ng processes (issue 13, "Prove it").

  A: network(tcp, 127.0.0.1) -> websocket() destination, client mode, disk-buffer(reliable(yes))
  B: websocket() source, server mode, a fixed port -> file("b.out", "$MSG\\n")

200,000 numbered lines ("chaos NNNNNN") go into A, paced at 40,000 lines/s (WS_CHAOS_RATE). While
they flow, B is killed with SIGKILL three times and A once, at moments drawn from a seeded random
generator (counts of lines sent; the seed and every moment are printed; WS_CHAOS_SEED replays
them), and each is restarted at once: B on the same port, A with the same persist file and
disk-buffer directory. Then the test waits (with a deadline, polling
B's file) until the file holds every number at least once, or (without acknowledgements) until
nothing moves any more, and reports how many numbers were lost and how many arrived more than once.

Every kill happens while lines are in flight: B is killed only while the sender is ahead of B's
file (it waits, bounded, for such an instant); for A's kill B is paused (SIGSTOP) first, so that
A dies with lines in its queue, unwritten or unacknowledged (the run prints how many A's disk
buffer held at its restart; a kill of A with nothing in flight is a harness failure).

What the test does not measure: the hop into A. A plain TCP syslog connection has no
acknowledgement, so lines in A's socket buffer or not yet read die with A in every mode. Before A
is killed the sender therefore closes its connection and waits until A logged that it read the
connection to its end (every line it sent is then in A's disk buffer); after A's restart it sends
the rest on a new connection.

  chaos_without_acks   the module as today (acknowledged to syslog-ng's queue when written):
                       reports the lost count; fails only when the harness itself breaks
  chaos_with_acks      acknowledgements(yes) on both ends: every number must arrive, and the
                       duplicates are bounded by (restarts) x ack-window()

Usage: test_chaos.py MODULE_DIR [TEST...]   (environment: WS_SNG_WORKDIR for the output,
WS_CHAOS_SEED, WS_CHAOS_LINES (default 200000), WS_SNG_PREFIX as in sngtest.py)
Exit status: 0 all passed, 1 a failure.
"""

import os
import random
import re
import signal
import socket
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sngtest import Failure, Skip, SyslogNg, check, free_tcp_port, run_tests, version_info  # noqa: E402

LINES = int(os.environ.get("WS_CHAOS_LINES", "200000"))
# Every line has the same length, so B's progress is the size of its file divided by it.
FMT = "chaos %06d"
LINE_LEN = len(FMT % 0) + 1
LINE_RX = re.compile(rb"^chaos (\d{6})$")
# Lines per sendall(): the sender's progress is known to this granularity.
CHUNK = 500
# Lines per second the sender offers (a steady flow, not one burst: lines are in flight all
# along, and what one kill can lose stays far below the lines still to come, so that every
# kill moment is reached even without acknowledgements). 200,000 lines take 5 s.
RATE = int(os.environ.get("WS_CHAOS_RATE", "40000"))
B_KILLS = 3
# The ack window the run with acknowledgements configures (the bound on its duplicates).
ACK_WINDOW = 1000
# How long the end may take once the sender is done (every number, or nothing moving).
SETTLE_TIMEOUT = 90
# Without acknowledgements, "nothing moves any more": B's file unchanged this long while A's
# queue is empty.
QUIET_S = 2.0


class Tally:
    """Counts, per number, how often it is in B's file; reads only what was appended since the
    last call (the file only grows: B opens it to append)."""

    def __init__(self, path, total):
        self.path = path
        self.counts = bytearray(total)  # saturates at 255: enough to count duplicates here
        self.offset = 0
        self.rest = b""
        self.distinct = 0
        self.lines = 0
        self.highest = -1  # the highest number seen: lines above it are still in flight
        self.torn = 0  # lines that are not "chaos NNNNNN" (a write cut by a kill)

    def update(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return
        self.offset += len(data)
        data = self.rest + data
        *complete, self.rest = data.split(b"\n")
        for line in complete:
            m = LINE_RX.match(line)
            n = int(m.group(1)) if m else -1
            if not 0 <= n < len(self.counts):
                self.torn += 1
                continue
            self.lines += 1
            self.highest = max(self.highest, n)
            if self.counts[n] == 0:
                self.distinct += 1
            if self.counts[n] < 255:
                self.counts[n] += 1

    @property
    def duplicates(self):
        return self.lines - self.distinct

    @property
    def lost(self):
        return len(self.counts) - self.distinct

    def missing_sample(self, k=5):
        return [i for i, c in enumerate(self.counts) if c == 0][:k]


def file_progress(tally):
    """How far B's file got: one more than the highest number in it. Not its line count,
    which duplicates inflate (with acknowledgements the file can hold more lines than were
    sent, and nothing would ever seem in flight), nor its distinct numbers, which losses keep
    below what was sent (without acknowledgements something would always seem in flight)."""
    tally.update()
    return tally.highest + 1


class Sender(threading.Thread):
    """Sends lines [0, first) to A, closes, waits for `resume`, then sends [first, total) on a
    new connection (A was restarted in between). `sent` is what was handed to the kernel."""

    def __init__(self, port, first, total):
        super().__init__(daemon=True)
        self.port = port
        self.first = first
        self.total = total
        self.sent = 0
        self.first_done = threading.Event()
        self.resume = threading.Event()
        self.done = threading.Event()
        self.error = None

    def _send(self, lo, hi):
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.port), timeout=60) as s:
            for i in range(lo, hi, CHUNK):
                j = min(hi, i + CHUNK)
                s.sendall("".join(FMT % n + "\n" for n in range(i, j)).encode())
                self.sent = j
                # Paced by the clock: line j is due (j - lo) / RATE seconds after the start.
                ahead = t0 + (j - lo) / RATE - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)

    def run(self):
        try:
            self._send(0, self.first)
            self.first_done.set()
            if not self.resume.wait(120):
                raise Failure("the sender was not resumed within 120 s")
            self._send(self.first, self.total)
        except Exception as e:  # reported by the test
            self.error = e
        finally:
            self.first_done.set()
            self.done.set()


def config_a(net_port, ws_port, workdir, acks):
    """A small mem-buf-size(): a reliable disk buffer acknowledges a message to its source once
    it is on disk only when its memory buffer is full; otherwise only when the destination
    acknowledges it. With the default (163 MB) A's input would stop while B is paused, and the
    harness could not bring A's input to its end before killing A."""
    ack = " acknowledgements(yes) ack-window(%d)" % ACK_WINDOW if acks else ""
    return """
source s_net { network(transport(tcp) ip(127.0.0.1) port(%d) flags(no-parse) max-connections(1) log-iw-size(10000)); };
destination d_ws { websocket( mode("client") address("127.0.0.1") port(%d) path("/") template("$MSG")
                              reconnect-backoff(0.05 0.2)%s
                              disk-buffer(reliable(yes) dir("%s") disk-buf-size(104857600) mem-buf-size(1048576)) ); };
log { source(s_net); destination(d_ws); flags(flow-control); };
""" % (net_port, ws_port, ack, workdir)


def config_b(ws_port, out, acks):
    ack = " acknowledgements(yes)" if acks else ""
    return """
source s_ws { websocket( address("127.0.0.1") port(%d) path("/") flags(no-parse)%s ); };
destination d_file { file("%s" template("$MSG\\n")); };
log { source(s_ws); destination(d_file); flags(flow-control); };
""" % (ws_port, ack, out)


def wait_until(cond, what, timeout, poll=0.02):
    """Polls `cond` (another process's file or counters: nothing to wait on) until true."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise Failure("%s: not within %ss" % (what, timeout))
        time.sleep(poll)


def plan(seed, total):
    """The kill moments, drawn from `seed`, as counts of lines the (clock-paced) sender has
    sent, so that every moment comes whatever was lost before it: A's first connection
    carries lines [0, first); B is paused at `a_at` (before `first`, so lines queue in A) and A
    is killed once it read its first connection to the end; B is killed at each of `b_at`
    (one that falls while B is paused comes right after A's restart)."""
    rng = random.Random(seed)
    first = int(total * rng.uniform(0.35, 0.65))
    a_at = int(first * rng.uniform(0.3, 0.8))
    b_at = sorted(int(total * rng.uniform(0.05, 0.95)) for _ in range(B_KILLS))
    return first, a_at, b_at


def run_chaos(ctx, acks):
    seed = int(os.environ.get("WS_CHAOS_SEED") or random.SystemRandom().randrange(1, 1 << 31))
    first, a_at, b_at = plan(seed, LINES)
    print("    seed %d (WS_CHAOS_SEED=%d replays it): %d lines, A's first connection %d lines, "
          "kill A at sent=%d, kill B at sent=%s" % (seed, seed, LINES, first, a_at, ", ".join(map(str, b_at))),
          flush=True)
    net_port, ws_port = free_tcp_port(), free_tcp_port()
    out = os.path.join(ctx.workdir, "b.out")
    seen = Tally(out, LINES)  # B's progress while lines flow (file_progress)
    dbuf = os.path.join(ctx.workdir, "disk-buffer")
    os.makedirs(dbuf, exist_ok=True)
    b = ctx.sng("B", config_b(ws_port, out, acks))
    a = ctx.sng("A", config_a(net_port, ws_port, dbuf, acks))
    b.start()
    a.start()
    sender = Sender(net_port, first, LINES)
    events = sorted([(a_at, "A")] + [(at, "B") for at in b_at])
    t0 = time.monotonic()
    sender.start()
    restarts = 0
    for at, who in events:
        def reached():
            check(sender.error is None, "the sender failed: %s" % sender.error)
            return sender.sent >= at
        wait_until(reached, "the sender to reach line %d (before killing %s)" % (at, who), 120, poll=0.002)
        if who == "A":
            # A reads and forwards as fast as B writes here, so B is paused (SIGSTOP) first: A's
            # queue then holds lines while A reads its input to the end, and A dies with them.
            # The hop into A has no acknowledgement: the sender ends its connection and A must
            # have read all of it before the kill (every line is then in the disk buffer).
            b.proc.send_signal(signal.SIGSTOP)
            if not sender.first_done.wait(120):
                raise Failure("the sender did not finish its first connection")
            a.wait_for(r"Syslog connection closed", timeout=60)
            progress = file_progress(seen)
            in_flight = first - progress
            check(in_flight > 0, "killing A: nothing in flight (B has %d lines of %d sent); "
                  "the harness needs another moment" % (progress, first))
            a.kill()
            a.start()
            m, _ = a.wait_for(r"disk-buffer state loaded;.*number_of_messages='(\d+)'", timeout=30)
            print("    %5.1fs kill -9 A (B paused): sent %d, B's file %d, in flight %d, of which %s in "
                  "A's disk buffer at its restart" % (time.monotonic() - t0, first, progress, in_flight,
                                                      m.group(1)), flush=True)
            b.proc.send_signal(signal.SIGCONT)
            sender.resume.set()
        else:
            # B may have caught up with the sender for an instant: the next chunk is due
            # within milliseconds.
            wait_until(lambda: sender.sent > file_progress(seen), "lines in flight to kill B with", 10, poll=0.001)
            sent, progress = sender.sent, file_progress(seen)
            in_flight = sent - progress
            b.kill()
            print("    %5.1fs kill -9 B: sent %d, B's file %d, in flight %d" % (
                time.monotonic() - t0, sent, progress, in_flight), flush=True)
            b.start()
        restarts += 1
    if not sender.done.wait(120):
        raise Failure("the sender did not finish")
    check(sender.error is None, "the sender failed: %s" % sender.error)
    tally = Tally(out, LINES)
    quiet = {"size": -1, "since": time.monotonic()}

    def settled():
        tally.update()
        if tally.distinct == LINES:
            return True
        if acks:
            return False
        # Without acknowledgements lost lines never come: done once nothing moves any more.
        size = tally.offset
        now = time.monotonic()
        if size != quiet["size"]:
            quiet["size"], quiet["since"] = size, now
            return False
        return now - quiet["since"] >= QUIET_S and a.stat("websocket", "queued") == 0
    try:
        wait_until(settled, "every number in B's file", SETTLE_TIMEOUT, poll=0.2)
    except Failure as e:
        raise Failure("%s: %d of %d numbers, %d duplicates, %d torn lines; missing e.g. %s"
                      % (e, tally.distinct, LINES, tally.duplicates, tally.torn, tally.missing_sample()))
    elapsed = time.monotonic() - t0
    check(a.stop() == 0, "A exited with an error")
    check(b.stop() == 0, "B exited with an error")
    tally.update()
    print("    RESULT %s: %d lines, %d kills of B, 1 of A: lost %d, duplicates %d, torn %d (%.1fs)"
          % ("with acknowledgements" if acks else "without acknowledgements", LINES, B_KILLS,
             tally.lost, tally.duplicates, tally.torn, elapsed), flush=True)
    if acks:
        check(tally.lost == 0, "%d numbers lost with acknowledgements(yes), e.g. %s"
              % (tally.lost, tally.missing_sample()))
        check(tally.duplicates <= restarts * ACK_WINDOW,
              "%d duplicates: more than %d restarts x ack-window(%d)" % (tally.duplicates, restarts, ACK_WINDOW))
    return tally


def test_chaos_without_acks(ctx):
    run_chaos(ctx, acks=False)


def test_chaos_with_acks(ctx):
    run_chaos(ctx, acks=True)


class Ctx:
    def __init__(self, workdir, module_dir):
        self.workdir = workdir
        self.module_dir = module_dir
        self.cleanup = []

    def sng(self, name, config):
        s = SyslogNg(self.workdir, name, config, self.module_dir)
        self.cleanup.append(s.kill)
        return s

    def close(self):
        for fn in reversed(self.cleanup):
            try:
                fn()
            except Exception:
                pass


TESTS = [test_chaos_without_acks, test_chaos_with_acks]


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    module_dir = os.path.abspath(sys.argv[1])
    wanted = sys.argv[2:]
    sng_version = version_info().get("Installer-Version", "?")
    print("chaos: syslog-ng %s, module %s" % (sng_version, module_dir), flush=True)
    check(os.path.exists(os.path.join(module_dir, "libwebsocket.so")), "no libwebsocket.so in %s" % module_dir)
    root = os.environ.get("WS_SNG_WORKDIR") or tempfile.mkdtemp(prefix="ws-chaos-")
    passed, failed, skipped = run_tests(TESTS, wanted, root, lambda d: Ctx(d, module_dir))
    print("syslog-ng %s chaos: %d passed, %d failed%s" % (sng_version, passed, failed,
                                                          ", %d skipped" % skipped if skipped else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
