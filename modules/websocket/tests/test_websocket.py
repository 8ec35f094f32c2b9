#!/usr/bin/env python3
"""End-to-end tests of the syslog-ng websocket() source and destination.

Real syslog-ng processes (own pid, persist and control files, --module-path pointing at the
module under test) on loopback, with Python `websockets` peers:

  a  network source -> websocket destination (client) -> a WebSocket server gets every line in order;
     headers() go out in the written order
  b  websocket destination (server) -> two subscribers both get every line
  c  websocket source -> file: every message, a burst of 10,000 through a small window, none lost,
     SOURCEIP / HOST_FROM from the peer, one log message per WebSocket message
  d  TLS variants of a and c (skipped while the library reports TLS as not built)
  e  destination client whose server is down for 5 s, then comes up: nothing lost
  f  reload (SIGHUP) and restart keep working with no loss
  g  bad configurations refused with clear errors (--syntax-only and at start)
  h  the 2016 module's two statements, as written, over wss
  i  destination client with workers(3): three connections, lines spread, order per connection
  j  source in mode("client"): ingests what a server pushes, flow control, reconnect
  k  metrics of both drivers (4.x names and labels on syslog-ng 4.x)
  l  access control: auth-token() / auth-token-file() on the source (401 without the right token,
     the token kept out of the log and the persist file, a reload rebuilds only when it changed),
     allowed-origins() on a server-mode destination (403 for another origin)
  m  max-buffered-bytes() and message-timeout(): a half-sent message is closed with 1008
  n  trusted-proxies(): SOURCEIP from X-Forwarded-For only when the peer is a trusted proxy; a
     reload with a changed list rebuilds the context
  o  proxy(): the destination client through an HTTP CONNECT proxy
  q  compression(yes): a client-mode destination feeds a server-mode source over permessage-deflate
     (both ends count the connection as compressed), lines intact and in order; a Python peer on each
     side sees the extension negotiated; without compression(yes) it is not
  p  acknowledged when written: with a server that reads nothing, the lines the engine holds stay
     unacknowledged in syslog-ng's queue; with disk-buffer(reliable(yes)), kill -9 and a restart
     lose none of them
  q  end-to-end acknowledgements: a client offering them is acknowledged only for what
     syslog-ng acknowledged to the source; between two syslog-ng processes the sender
     acknowledges its queue only for what the receiver acknowledged

The syslog-ng under test is `syslog-ng` on PATH, or WS_SNG_PREFIX + syslog-ng (sngtest.py), so
the same tests run against syslog-ng 3.38 and 4.8 (scripts/check.d/30-syslog-ng.sh, 31-syslog-ng-4.sh).

Usage: test_websocket.py MODULE_DIR [TEST...]   (environment: WS_SNG_WORKDIR for the output)
Exit status: 0 all passed, 1 a failure, 77 nothing could run (no websockets package / syslog-ng).
"""

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import warnings

# No __pycache__ next to the sources (a read-only source tree, and `make dist` takes every
# untracked file git does not ignore).
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sngtest import (SYSLOG_NG, Failure, Skip, SyslogNg, check, free_tcp_port, read_lines,  # noqa: E402
                     run_tests, tcp_send_lines, version, version_info, wait_file_lines)

try:
    from websockets.exceptions import ConnectionClosed, InvalidStatus
    from websockets.sync.client import connect as ws_connect
    from websockets.sync.server import serve as ws_serve
except ImportError:  # pragma: no cover - reported as a skip of the whole suite
    ws_connect = ws_serve = ConnectionClosed = InvalidStatus = None

HERE = os.path.dirname(os.path.abspath(__file__))
# The repository's one certificate script (the Rust TLS tests use it too).
MKCERTS = os.path.join(HERE, "..", "..", "..", "tests", "peers", "mkcerts.sh")
# The tests keep some connections open across steps without a `with` block.
warnings.filterwarnings("ignore", category=DeprecationWarning)
TLS_NOT_BUILT = "TLS support is not built yet"


# ---------------------------------------------------------------------------------------------
# Peers

class Recorder:
    """What a peer received: every message in arrival order (`msgs`) and per connection
    (`by_conn`, in the order the connections opened)."""

    def __init__(self):
        self.msgs = []
        self.by_conn = []
        self.cond = threading.Condition()

    @property
    def connections(self):
        with self.cond:
            return len(self.by_conn)

    def _record(self, ws):
        """Reads `ws` until it closes (a peer's own thread)."""
        with self.cond:
            mine = []
            self.by_conn.append(mine)
            self.cond.notify_all()
        try:
            for m in ws:
                with self.cond:
                    self.msgs.append(m)
                    mine.append(m)
                    self.cond.notify_all()
        except Exception:
            pass

    def _wait_until(self, cond, what, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not cond():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Failure("%s after %ss (%s got %d messages on %d connections)"
                                  % (what, timeout, type(self).__name__, len(self.msgs), len(self.by_conn)))
                self.cond.wait(left)

    def wait(self, count, timeout=60):
        """Waits for `count` messages in all; returns them."""
        self._wait_until(lambda: len(self.msgs) >= count, "fewer than %d messages" % count, timeout)
        with self.cond:
            return list(self.msgs)

    def wait_connections(self, count, timeout=30):
        self._wait_until(lambda: len(self.by_conn) >= count, "fewer than %d connections" % count, timeout)


class Collector(Recorder):
    """A WebSocket server that records what its clients send, the headers of each
    connection's handshake request (`requests`: (name, value) lists in the order received) and
    the extensions each connection negotiated (`extensions`: its answer's
    Sec-WebSocket-Extensions, or None). Like every `websockets` server it accepts
    permessage-deflate when a client offers it."""

    def __init__(self, port=0, tls=None, subprotocols=None):
        super().__init__()
        self.requests = []
        self.extensions = []
        self.server = ws_serve(self._record, "127.0.0.1", port, ssl=tls, subprotocols=subprotocols,
                               max_size=None)
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _record(self, ws):
        with self.cond:
            self.requests.append(list(ws.request.headers.raw_items()))
            self.extensions.append(ws.response.headers.get("Sec-WebSocket-Extensions"))
        super()._record(ws)

    def close(self):
        self.server.shutdown()
        self.thread.join(10)


class StalledServer(Recorder):
    """A WebSocket server (raw sockets, so that nothing reads behind the test's back) that
    accepts connections and answers the handshake, then reads nothing until `start_reading()`:
    the client's messages pile up in the kernel buffers (the receive buffer is made small) and
    then in the client's own queue. Once reading, it records every complete text message of
    every connection, old or new; a frame cut by the end of a connection is ignored."""

    def __init__(self, port=0):
        super().__init__()
        self.reading = threading.Event()
        self.closed = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # inherited by the accepted sockets: the kernel holds little on this side
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.threads = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def start_reading(self):
        self.reading.set()

    def _accept(self):
        while not self.closed.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(c,), daemon=True)
            self.threads.append(t)
            t.start()

    @staticmethod
    def _read_exact(c, n):
        data = b""
        while len(data) < n:
            chunk = c.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def _serve(self, c):
        with c:
            self._serve_conn(c)

    def _serve_conn(self, c):
        with self.cond:
            mine = []
            self.by_conn.append(mine)
            self.cond.notify_all()
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = c.recv(1)
                if not chunk:
                    return
                head += chunk
            key = re.search(rb"(?i)sec-websocket-key:\s*(\S+)", head).group(1)
            accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            while not self.reading.wait(0.1):
                if self.closed.is_set():
                    return
            parts = b""
            while True:
                b0, b1 = self._read_exact(c, 2)
                n = b1 & 0x7F
                if n == 126:
                    n = struct.unpack("!H", self._read_exact(c, 2))[0]
                elif n == 127:
                    n = struct.unpack("!Q", self._read_exact(c, 8))[0]
                mask = self._read_exact(c, 4) if b1 & 0x80 else b"\0\0\0\0"
                payload = bytes(x ^ mask[i % 4] for i, x in enumerate(self._read_exact(c, n)))
                op = b0 & 0x0F
                if op == 8:
                    c.sendall(bytes([0x88, len(payload[:2])]) + payload[:2])
                    return
                if op == 9:
                    c.sendall(bytes([0x8A, len(payload)]) + payload)
                    continue
                if op in (0, 1, 2):
                    parts += payload
                    if b0 & 0x80:
                        with self.cond:
                            m = parts.decode()
                            self.msgs.append(m)
                            mine.append(m)
                            self.cond.notify_all()
                        parts = b""
        except (EOFError, OSError):
            pass

    def wait_closed(self, timeout=30):
        """Waits until every connection ended (read to its end: nothing more can arrive)."""
        deadline = time.monotonic() + timeout
        for t in list(self.threads):
            t.join(max(0, deadline - time.monotonic()))
            check(not t.is_alive(), "a connection to the stalled server is still open after %ss" % timeout)

    def close(self):
        self.closed.set()
        self.sock.close()
        for t in self.threads:
            t.join(10)


class Subscriber(Recorder):
    """A WebSocket client that records what the server sends it."""

    def __init__(self, uri, tls=None, **kw):
        super().__init__()
        self.ws = ws_connect(uri, ssl=tls, max_size=None, open_timeout=10, **kw)
        self.thread = threading.Thread(target=self._record, args=(self.ws,), daemon=True)
        self.thread.start()

    def close(self):
        self.ws.close()
        self.thread.join(10)


class Pusher:
    """A WebSocket server that pushes to each client that connects the next batch of messages
    (batches[i] to the i-th connection), then closes that connection once `close_after[i]` is
    set (or keeps it open)."""

    def __init__(self, batches):
        self.batches = batches
        self.close_events = [threading.Event() for _ in batches]
        self.connections = 0
        self.cond = threading.Condition()
        self.server = ws_serve(self._handler, "127.0.0.1", 0, max_size=None)
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _handler(self, ws):
        with self.cond:
            i = self.connections
            self.connections += 1
            self.cond.notify_all()
        if i >= len(self.batches):
            for _ in ws:  # nothing more to push: keep the connection until the client closes it
                pass
            return
        for m in self.batches[i]:
            ws.send(m)
        self.close_events[i].wait(120)

    def wait_connections(self, count, timeout=30):
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.connections < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Failure("the pushing server got %d of %d connections in %ss"
                                  % (self.connections, count, timeout))
                self.cond.wait(left)

    def close(self):
        for e in self.close_events:
            e.set()
        self.server.shutdown()
        self.thread.join(10)


# ---------------------------------------------------------------------------------------------
# Helpers

class Ctx:
    def __init__(self, workdir, module_dir):
        self.workdir = workdir
        self.module_dir = module_dir
        self.cleanup = []
        self._certs = None

    def sng(self, name, config):
        s = SyslogNg(self.workdir, name, config, self.module_dir)
        self.cleanup.append(s.kill)
        return s

    def certs(self):
        if self._certs is None:
            d = os.path.join(self.workdir, "certs")
            subprocess.run(["sh", MKCERTS, d], check=True)
            self._certs = d
        return self._certs

    def close(self):
        for fn in reversed(self.cleanup):
            try:
                fn()
            except Exception:
                pass


def started_port(sng, what, start=0):
    m, _ = sng.wait_for(r"websocket: %s started;.*port='(\d+)'" % what, start=start)
    return int(m.group(1))


def skip_if_tls_missing(sng):
    if TLS_NOT_BUILT in sng.log_text():
        raise Skip("the ws_api library answers WS_ERR_TLS: " + TLS_NOT_BUILT)


def connect_from(uri, source_ip, **kw):
    """A WebSocket client connected from a chosen loopback address, so that SOURCEIP can be told
    apart from the 127.0.0.1 syslog-ng reports for a message without a peer address."""
    port = int(uri.split(":")[2].split("/")[0])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source_ip, 0))
    sock.connect(("127.0.0.1", port))
    return ws_connect(uri, sock=sock, **kw)


def started_ports(sng, what, count, start=0):
    """{path: port} of the `count` drivers of kind `what` ("source", "destination") that logged
    their start from stderr line `start` on (tell them apart with distinct path()s)."""
    ports = {}
    while len(ports) < count:
        m, start = sng.wait_for(r"websocket: %s started; endpoint='[^']*?:\d+(/[^']*)', port='(\d+)'" % what,
                                start=start)
        ports[m.group(1)] = int(m.group(2))
    return ports


def refused_status(uri, **kw):
    """The HTTP status a WebSocket handshake to `uri` is refused with (a failure when it is accepted)."""
    try:
        ws = ws_connect(uri, open_timeout=10, **kw)
    except InvalidStatus as e:
        return e.response.status_code
    ws.close()
    raise Failure("%s: the handshake was accepted (%r)" % (uri, kw))


def raw_partial_frame(port, path, declared, sent):
    """A hand-made WebSocket client that opens `path`, then sends the header of a text frame of
    `declared` payload bytes followed by only `sent` of them, and waits (at most 30 s) for the
    server to close. Answers the close code the server sent (None when the connection ended
    without a readable Close frame)."""
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            check(chunk, "the server closed during the handshake")
            head += chunk
        check(head.startswith(b"HTTP/1.1 101"), "handshake refused: %r" % head[:40])
        rest = head.split(b"\r\n\r\n", 1)[1]
        mask = os.urandom(4)
        frame = bytes([0x81, 0x80 | 127]) + struct.pack("!Q", declared) + mask
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(b"x" * sent))
        try:
            s.sendall(frame + payload)
        except OSError:
            pass  # closed while sending: the Close frame may still be readable
        data = rest
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
    # The server sends nothing but a Close frame here: 0x88, a 7-bit length, the code.
    if len(data) >= 4 and data[0] == 0x88:
        return struct.unpack("!H", data[2:4])[0]
    return None


def lines(prefix, n):
    return ["%s %05d" % (prefix, i) for i in range(n)]


def net_source(port):
    return ("source s_net { network(transport(tcp) ip(127.0.0.1) port(%d) flags(no-parse) "
            "log-iw-size(20000)); };\n" % port)


# ---------------------------------------------------------------------------------------------
# Tests

def run_dest_client(ctx, tls, queue_capacity=None):
    """(a) / (d): network source -> websocket(mode client) -> Collector, every line in order."""
    certs = ctx.certs() if tls else None
    server_tls = None
    ssl_opt = ""
    if tls:
        server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_tls.load_cert_chain(os.path.join(certs, "server.pem"), os.path.join(certs, "server.key"))
        ssl_opt = 'ssl( cacert("%s/ca.pem") )' % certs
    coll = Collector(tls=server_tls, subprotocols=["example-protocol"])
    ctx.cleanup.append(coll.close)
    net = free_tcp_port()
    if queue_capacity:
        ssl_opt += " queue-capacity(%d)" % queue_capacity
    sng = ctx.sng("dest-client-tls" if tls else "dest-client", net_source(net) + """
destination d_ws { websocket( mode("client") address("127.0.0.1") port(%d) path("/") protocol("example-protocol")
                              template("$MSG") %s ); };
log { source(s_net); destination(d_ws); flags(flow-control); };
""" % (coll.port, ssl_opt))
    sng.start()
    sent = lines("line", 20000 if queue_capacity else 2000)
    tcp_send_lines(net, sent)
    try:
        got = coll.wait(len(sent), timeout=60)
    except Failure:
        if tls:
            skip_if_tls_missing(sng)
        raise
    check(got == sent, "messages differ or out of order (first difference at %d)"
          % next((i for i, (a, b) in enumerate(zip(got, sent)) if a != b), -1))
    written = sng.wait_stat("websocket", "written", len(sent))
    check(written == len(sent), "syslog-ng-ctl stats: written=%s, expected %d" % (written, len(sent)))
    check(sng.stat("websocket", "dropped") == 0, "syslog-ng-ctl stats: dropped is not 0")
    check(sng.stop() == 0, "syslog-ng exited with an error")


def test_a_dest_client(ctx):
    run_dest_client(ctx, tls=False)


def test_a_dest_client_full_engine_queue(ctx):
    """queue-capacity(4): the engine's queue is full most of the time; the messages wait in
    syslog-ng's queue (WS_ERR_QUEUE_FULL -> wait for on_writable / suspend) and none is lost."""
    run_dest_client(ctx, tls=False, queue_capacity=4)


def test_a_dest_client_headers_order(ctx):
    """headers() go out in the order they are written, within one headers() and across several
    (names chosen out of alphabetical order, so neither sorting nor reversing passes)."""
    coll = Collector()
    ctx.cleanup.append(coll.close)
    net = free_tcp_port()
    sng = ctx.sng("dest-headers", net_source(net) + """
destination d_ws { websocket( address("127.0.0.1") port(%d) template("$MSG")
                              headers("X-Zulu: 1" "X-Alpha: 2" "X-Mike: 3") headers("X-Bravo: 4") ); };
log { source(s_net); destination(d_ws); flags(flow-control); };
""" % coll.port)
    sng.start()
    coll.wait_connections(1)
    tcp_send_lines(net, ["after the handshake"])
    check(coll.wait(1) == ["after the handshake"], "the line did not arrive")
    with coll.cond:
        request = coll.requests[0]
    ours = [(k, v) for k, v in request if k.lower().startswith("x-")]
    check(ours == [("X-Zulu", "1"), ("X-Alpha", "2"), ("X-Mike", "3"), ("X-Bravo", "4")],
          "headers() went out as %r, not in the written order" % ours)
    check(sng.stop() == 0, "syslog-ng exited with an error")


def test_b_dest_server_two_subscribers(ctx):
    net = free_tcp_port()
    sng = ctx.sng("dest-server", net_source(net) + """
destination d_ws { websocket( mode("server") address("127.0.0.1") port(0) path("/feed") template("$MSG") ); };
log { source(s_net); destination(d_ws); flags(flow-control); };
""")
    sng.start(wait=False)
    port = started_port(sng, "destination")
    sng.wait_for(r"syslog-ng starting up")
    subs = [Subscriber("ws://127.0.0.1:%d/feed" % port) for _ in range(2)]
    for s in subs:
        ctx.cleanup.append(s.close)
    _, i = sng.wait_for(r"websocket: connection open")
    sng.wait_for(r"websocket: connection open", start=i)
    sent = lines("bcast", 2000)
    tcp_send_lines(net, sent)
    for n, s in enumerate(subs):
        got = s.wait(len(sent))
        check(got == sent, "subscriber %d: messages differ or out of order" % n)
    check(sng.stat("websocket", "dropped") == 0, "dropped is not 0 with two fast subscribers")

    # With no subscriber, no-subscriber("drop") (the default) drops and counts.
    start = sng.mark()
    for s in subs:
        s.close()
    _, i = sng.wait_for(r"websocket: connection closed", start=start)
    sng.wait_for(r"websocket: connection closed", start=i)
    start = sng.mark()
    tcp_send_lines(net, ["nobody-listens"])
    sng.wait_for(r"no subscriber connected", start=start)
    check(sng.wait_stat("websocket", "dropped", 1) == 1, "a message without subscriber is not counted as dropped")
    check(sng.stop() == 0, "syslog-ng exited with an error")


def test_b_dest_server_no_subscriber_wait(ctx):
    """no-subscriber("wait"): lines sent while nobody is connected stay in syslog-ng's queue and
    all reach the first subscriber, in order."""
    net = free_tcp_port()
    sng = ctx.sng("dest-server-wait", net_source(net) + """
destination d_ws { websocket( mode("server") address("127.0.0.1") port(0) template("$MSG") no-subscriber("wait") ); };
log { source(s_net); destination(d_ws); flags(flow-control); };
""")
    sng.start(wait=False)
    port = started_port(sng, "destination")
    sng.wait_for(r"syslog-ng starting up")
    sent = lines("waiting", 1000)
    tcp_send_lines(net, sent)
    # Every line is in syslog-ng's queue before anyone subscribes.
    deadline = time.monotonic() + 30
    while (sng.stat("websocket", "queued") or 0) < len(sent):
        check(time.monotonic() < deadline, "the lines did not reach the destination's queue")
        time.sleep(0.05)
    sub = Subscriber("ws://127.0.0.1:%d/" % port)
    ctx.cleanup.append(sub.close)
    check(sub.wait(len(sent)) == sent, "the first subscriber did not get the waiting lines in order")
    check(sng.stat("websocket", "dropped") == 0, "dropped is not 0")
    check(sng.stop() == 0, "syslog-ng exited with an error")


def test_b_dest_server_slow_subscriber(ctx):
    """A subscriber that stops reading: slow-policy("disconnect") closes it (1008) and counts what
    it did not get in `dropped`; the other subscriber gets every line, and syslog-ng never blocks.
    throttle() paces the broadcast (1,000 messages a second, after an initial burst of as many)
    and queue-capacity(2000) gives the reading subscriber 2 s of slack, so that it is never the
    slow one even on a loaded machine; 8,000 messages of 4 kB overflow the socket buffers plus
    queue-capacity() of the other."""
    net = free_tcp_port()
    sng = ctx.sng("dest-server-slow", net_source(net) + """
destination d_ws { websocket( mode("server") address("127.0.0.1") port(0) template("$MSG")
                              queue-capacity(2000) slow-policy("disconnect") throttle(1000) ); };
log { source(s_net); destination(d_ws); flags(flow-control); };
""")
    sng.start(wait=False)
    port = started_port(sng, "destination")
    sng.wait_for(r"syslog-ng starting up")
    fast = Subscriber("ws://127.0.0.1:%d/" % port)
    ctx.cleanup.append(fast.close)
    # max_queue=1: the client library stops reading the socket once one message waits unread,
    # and this test never reads it.
    slow = ws_connect("ws://127.0.0.1:%d/" % port, max_queue=1, open_timeout=10, close_timeout=1)
    ctx.cleanup.append(slow.close)
    _, i = sng.wait_for(r"websocket: connection open")
    sng.wait_for(r"websocket: connection open", start=i)
    pad = "x" * 4000
    sent = ["%s %05d" % (pad, n) for n in range(8000)]
    tcp_send_lines(net, sent)
    check(fast.wait(len(sent), timeout=120) == sent, "the fast subscriber's messages differ")
    sng.wait_for(r"websocket: connection closed;.*code='1008'")
    dropped = sng.stat("websocket", "dropped")
    check(dropped and dropped > 0, "the slow subscriber's dropped messages are not counted (dropped=%s)" % dropped)
    check(sng.stop() == 0, "syslog-ng exited with an error")


class ReplaySubscriber:
    """A subscriber that asks for replay (docs/replay.md): connects with ?since=N, reads the
    metadata message, then numbered lines; `got` is every (number, line) it processed."""

    def __init__(self, base_uri):
        self.base_uri = base_uri
        self.got = []
        self.connections = []

    def connect(self):
        since = self.got[-1][0] if self.got else 0
        ws = ws_connect("%s?since=%d" % (self.base_uri, since), max_size=None, open_timeout=10)
        seq_header = ws.response.headers.get("WS-API-Seq")
        check(seq_header is not None and seq_header.isdigit(), "no WS-API-Seq header: %r" % seq_header)
        meta = json.loads(ws.recv(timeout=30))
        check(meta.get("ws_api") == "replay", "the first message is not the replay metadata: %r" % meta)
        check(meta["first"] == since + 1 and meta["missed"] == 0,
              "reconnecting with since=%d: first %d, missed %d" % (since, meta["first"], meta["missed"]))
        meta["next_seq"] = int(seq_header)
        self.connections.append(meta)
        return ws, meta["first"]

    def read(self, ws, seq, count):
        for _ in range(count):
            self.got.append((seq, ws.recv(timeout=60)))
            seq += 1
        return seq


def test_q_dest_server_replay_after_a_drop(ctx):
    """replay-retention(): a subscriber that drops for 2 s during a stream of broadcasts and
    reconnects with ?since=<last number> ends with every line exactly once, in order; the
    numbers it counts from the metadata match the lines. throttle() makes the stream last about
    5 s, so that the drop falls in its middle."""
    net = free_tcp_port()
    sng = ctx.sng("dest-server-replay", net_source(net) + """
destination d_ws { websocket( mode("server") address("127.0.0.1") port(0) template("$MSG")
                              replay-retention(100000) replay-retention-bytes(16777216) throttle(2000) ); };
log { source(s_net); destination(d_ws); flags(flow-control); };
""")
    sng.start(wait=False)
    port = started_port(sng, "destination")
    sng.wait_for(r"syslog-ng starting up")
    sub = ReplaySubscriber("ws://127.0.0.1:%d/" % port)
    ws, seq = sub.connect()
    ctx.cleanup.append(ws.close)
    sent = lines("replay", 10000)
    tcp_send_lines(net, sent)
    seq = sub.read(ws, seq, 3000)
    ws.close()
    # Away for 2 s while the stream goes on (this is the scenario, not a wait for an event).
    time.sleep(2)
    ws, seq = sub.connect()
    ctx.cleanup.append(ws.close)
    sub.read(ws, seq, len(sent) - 3000)
    got_lines = [line for _, line in sub.got]
    check(got_lines == sent, "not every line exactly once in order (%d received)" % len(got_lines))
    check([n for n, _ in sub.got] == list(range(1, len(sent) + 1)), "the numbers are not 1..%d" % len(sent))
    check(sub.connections[1]["first"] == 3001, "the second connection did not start after the last line")
    check(sub.connections[1]["next_seq"] > 3001, "nothing was broadcast while the subscriber was away")
    # (The first connection's unwritten lines count in `dropped` when it goes, as for any
    # subscriber that leaves: the engine cannot know that it will come back for them.)
    check(sng.stop() == 0, "syslog-ng exited with an error")


def run_source(ctx, tls):
    """(c) / (d): websocket source -> file; a 10,000-message burst through a 100-message window."""
    certs = ctx.certs() if tls else None
    ssl_opt = ""
    client_tls = None
    if tls:
        ssl_opt = 'ssl( cert("%s/server.pem") key("%s/server.key") )' % (certs, certs)
        client_tls = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
    name = "source-tls" if tls else "source"
    out = os.path.join(ctx.workdir, name + ".out")
    sng = ctx.sng(name, """
source s_ws { websocket( address("127.0.0.1") port(0) path("/") protocol("example-protocol") %s
                         flags(no-parse) log-iw-size(100) ); };
destination d_file { file("%s" template("$(format-json msg=$MSG ip=$SOURCEIP host_from=$HOST_FROM)\\n")); };
log { source(s_ws); destination(d_file); flags(flow-control); };
""" % (ssl_opt, out))
    sng.start(wait=False)
    try:
        port = started_port(sng, "source")
    except Failure:
        if tls:
            skip_if_tls_missing(sng)
        raise
    sng.wait_for(r"syslog-ng starting up")
    uri = "%s://127.0.0.1:%d/" % ("wss" if tls else "ws", port)
    sent = ["first", "two\nlines in one message", "third\n"]
    sent += lines("burst", 10000)
    with connect_from(uri, "127.0.0.2", ssl=client_tls, subprotocols=["example-protocol"], open_timeout=10) as ws:
        for m in sent:
            ws.send(m)
        # A second connection from another address, kept open until its message is written.
        with connect_from(uri, "127.0.0.3", ssl=client_tls, subprotocols=["example-protocol"],
                          open_timeout=10) as ws2:
            ws2.send("from the second connection")
            got = wait_file_lines(out, len(sent) + 1, timeout=120, proc=sng)
    recs = [json.loads(l) for l in got]
    expected = [m.rstrip("\n") for m in sent]
    # Order holds within one connection; the two connections' messages may interleave.
    first = [r["msg"] for r in recs if r["ip"] == "127.0.0.2"]
    second = [r for r in recs if r["ip"] != "127.0.0.2"]
    check(first == expected, "messages from 127.0.0.2 differ or are out of order (%d of %d)"
          % (len(first), len(expected)))
    check(len(second) == 1 and second[0]["msg"] == "from the second connection",
          "the second connection's message is missing or its SOURCEIP is not 127.0.0.3: %r" % second)
    check(len(recs) == len(sent) + 1, "more records than messages sent")
    check(all(r.get("host_from") for r in recs), "HOST_FROM is empty")
    check(sng.stop() == 0, "syslog-ng exited with an error")


def test_c_source_to_file(ctx):
    run_source(ctx, tls=False)


def test_c_short_lived_peer_sourceip(ctx):
    """A connection that opens, sends one message and closes while the source's window is full:
    its message must still carry its own SOURCEIP (127.0.0.3). The source dispatches the engine's
    events only when the window has room (WS_DISPATCH_MANUAL), so this needs the engine to answer
    ws_peer_address for a connection until its on_close has been dispatched.

    Deterministic: the source feeds a websocket destination whose server is down, so with
    flow-control the window (log-iw-size(10)) stays full until the server comes up."""
    coll_port = free_tcp_port()
    sng = ctx.sng("short-lived", """
source s_ws { websocket( address("127.0.0.1") port(0) flags(no-parse) log-iw-size(10) ); };
destination d_ws { websocket( address("127.0.0.1") port(%d) template("$SOURCEIP $MSG") reconnect-backoff(0.1 0.2) ); };
log { source(s_ws); destination(d_ws); flags(flow-control); };
""" % coll_port)
    sng.start(wait=False)
    port = started_port(sng, "source")
    sng.wait_for(r"syslog-ng starting up")
    uri = "ws://127.0.0.1:%d/" % port
    first = lines("fill", 50)
    with connect_from(uri, "127.0.0.2", open_timeout=10) as ws:
        for m in first:
            ws.send(m)
        # Closed (closing handshake complete) before the source can dispatch any of its events.
        with connect_from(uri, "127.0.0.3", open_timeout=10) as ws2:
            ws2.send("short-lived")
        coll = Collector(port=coll_port)
        ctx.cleanup.append(coll.close)
        got = coll.wait(len(first) + 1)
    check(["127.0.0.2 " + m for m in first] == [g for g in got if g.startswith("127.0.0.2 ")],
          "the first connection's messages differ")
    short = [g for g in got if g.endswith(" short-lived")]
    check(short == ["127.0.0.3 short-lived"],
          "SOURCEIP of the short-lived connection: got %r, expected '127.0.0.3 short-lived' (the engine "
          "forgot the peer's address before the source dispatched its on_connect)" % short)
    check(sng.stop() == 0, "syslog-ng exited with an error")


def test_d_tls_dest_client(ctx):
    run_dest_client(ctx, tls=True)


def test_d_tls_source(ctx):
    run_source(ctx, tls=True)


def test_e_server_down_then_up(ctx):
    port = free_tcp_port()
    net = free_tcp_port()
    sng = ctx.sng("server-down", net_source(net) + """
destination d_ws { websocket( address("127.0.0.1") port(%d) template("$MSG") reconnect-backoff(0.1 1) ); };
log { source(s_net); destination(d_ws); flags(flow-control); };
""" % port)
    sng.start()
    first = lines("while-down", 500)
    tcp_send_lines(net, first)
    sng.wait_for(r"websocket: connection error")
    # The scenario itself: the server stays down for 5 seconds.
    time.sleep(5)
    coll = Collector(port=port)
    ctx.cleanup.append(coll.close)
    second = lines("after-up", 500)
    tcp_send_lines(net, second)
    got = coll.wait(len(first) + len(second))
    # The lines of one TCP connection keep their order; the two batches came on two connections.
    check(got[:len(first)] == first, "lines queued while the server was down differ or are out of order")
    check(sorted(got) == sorted(first + second), "lines lost or duplicated")
    check(sng.stat("websocket", "dropped") == 0, "dropped is not 0")
    check(sng.stop() == 0, "syslog-ng exited with an error")


def test_e_disk_buffer_across_restart(ctx):
    """Server down, reliable disk buffer: the lines wait on disk across a syslog-ng restart and are
    all delivered, in order, once the server comes up."""
    port = free_tcp_port()
    net = free_tcp_port()
    sng = ctx.sng("disk-buffer", net_source(net) + """
destination d_ws { websocket( address("127.0.0.1") port(%d) template("$MSG") reconnect-backoff(0.1 0.5)
                              disk-buffer(reliable(yes) dir("%s") disk-buf-size(10485760)) ); };
log { source(s_net); destination(d_ws); flags(flow-control); };
""" % (port, ctx.workdir))
    sng.start()
    sent = lines("buffered", 1000)
    tcp_send_lines(net, sent)
    m, _ = sng.wait_for(r"websocket: connection error")
    # Every line is on disk once the source's connection is closed and the queue counter shows
    # them; then the process goes away while the server is still down.
    deadline = time.monotonic() + 30
    while (sng.stat("websocket", "queued") or 0) < len(sent):
        check(time.monotonic() < deadline, "the lines did not reach the disk buffer")
        time.sleep(0.05)
    check(sng.stop() == 0, "syslog-ng exited with an error")
    coll = Collector(port=port)
    ctx.cleanup.append(coll.close)
    sng.start()
    got = coll.wait(len(sent), timeout=60)
    check(got == sent, "lines from the disk buffer differ or are out of order")
    check(sng.stop() == 0, "syslog-ng exited with an error")


def test_h_original_configs(ctx):
    """The 2016 module's two statements as written (certificate paths filled in), the destination
    (wss client with a client certificate and allow_self_signed) feeding the source (wss server
    with a self-signed certificate, requiring client certificates signed by the CA)."""
    certs = ctx.certs()
    net = free_tcp_port()
    wsport = free_tcp_port()
    out = os.path.join(ctx.workdir, "original.out")
    c = certs
    sng = ctx.sng("original", net_source(net) + """
destination d { websocket( mode("client") address("127.0.0.1") port(%(port)d) path("/") protocol("example-protocol")
                           template("$HOST $ISODATE $MSG") ssl( cert("%(c)s/client.pem") key("%(c)s/client.key") cacert("%(c)s/ca.pem") allow_self_signed ) ); };
source s { websocket( address("0.0.0.0") port(%(port)d) path("/") protocol("example-protocol") ssl( cert("%(c)s/self.pem") key("%(c)s/self.key") cacert("%(c)s/ca.pem") ) ); };
destination d_file { file("%(out)s" template("$MSG\n")); };
log { source(s_net); destination(d); flags(flow-control); };
log { source(s); destination(d_file); flags(flow-control); };
""" % {"port": wsport, "c": c, "out": out})
    sng.start()
    sent = lines("original", 500)
    tcp_send_lines(net, sent)
    try:
        got = wait_file_lines(out, len(sent), proc=sng)
    except Failure:
        skip_if_tls_missing(sng)
        raise
    # Each line is "$HOST $ISODATE $MSG" parsed again as syslog by the source: the sent text
    # ends every line, in order.
    check(len(got) == len(sent) and all(g.endswith(t) for g, t in zip(got, sent)),
          "lines differ or are out of order: %r ... vs %r" % (got[:2], sent[:2]))
    check(sng.stop() == 0, "syslog-ng exited with an error")


def test_f_reload_and_restart(ctx):
    coll = Collector()
    ctx.cleanup.append(coll.close)
    net = free_tcp_port()
    wsport = free_tcp_port()
    out = os.path.join(ctx.workdir, "reload.out")
    sng = ctx.sng("reload", net_source(net) + """
destination d_ws { websocket( address("127.0.0.1") port(%d) template("$MSG") ); };
source s_ws { websocket( address("127.0.0.1") port(%d) flags(no-parse) log-iw-size(100) ); };
destination d_file { file("%s" template("$MSG\\n")); };
log { source(s_net); destination(d_ws); flags(flow-control); };
log { source(s_ws); destination(d_file); flags(flow-control); };
""" % (coll.port, wsport, out))
    sng.start()
    uri = "ws://127.0.0.1:%d/" % wsport
    expected_ws, expected_file = [], []

    client = ws_connect(uri, open_timeout=10)
    ctx.cleanup.append(client.close)
    b1 = lines("before-reload", 1000)
    tcp_send_lines(net, b1)
    for m in b1:
        client.send(m)
    expected_ws += b1
    expected_file += b1
    coll.wait(len(expected_ws))
    wait_file_lines(out, len(expected_file), proc=sng)

    # Reload while a client keeps sending: the same connection goes on working.
    stop = threading.Event()
    during = []

    def keep_sending():
        i = 0
        while not stop.is_set() and i < 5000:
            m = "during-reload %05d" % i
            client.send(m)
            during.append(m)
            i += 1

    t = threading.Thread(target=keep_sending)
    t.start()
    reload_mark = sng.mark()
    sng.reload()
    stop.set()
    t.join()
    expected_file += during
    b2 = lines("after-reload", 1000)
    tcp_send_lines(net, b2)
    for m in b2:
        client.send(m)
    expected_ws += b2
    expected_file += b2
    check(coll.wait(len(expected_ws)) == expected_ws, "destination: lines differ across the reload")
    check(wait_file_lines(out, len(expected_file), proc=sng) == expected_file,
          "source: messages differ across the reload")
    # Both drivers kept their connections: the server saw one connection from the destination,
    # and the source's client was never closed (it kept sending on the same connection).
    check(coll.connections == 1, "the destination reconnected at the reload (%d connections)" % coll.connections)
    text = "".join(l for l in sng.lines[reload_mark:] if l)
    check("websocket: connection closed" not in text and "websocket: connection open" not in text,
          "a connection was closed or opened by the reload:\n" + text)
    client.close()

    # Restart: a new process with the same persist file; the clients reconnect.
    check(sng.stop() == 0, "syslog-ng exited with an error")
    sng.start()
    b3 = lines("after-restart", 1000)
    tcp_send_lines(net, b3)
    with ws_connect(uri, open_timeout=10) as c2:
        for m in b3:
            c2.send(m)
        expected_ws += b3
        expected_file += b3
        check(coll.wait(len(expected_ws)) == expected_ws, "destination: lines differ across the restart")
        check(wait_file_lines(out, len(expected_file), proc=sng) == expected_file,
              "source: messages differ across the restart")
    check(sng.stop() == 0, "syslog-ng exited with an error")


BAD_CONFIGS = [
    ('destination d { websocket(address("127.0.0.1") port(8000) replay-retention(100)); };',
     'replay-retention() and replay-retention-bytes() are only valid in mode("server")'),
    ('destination d { websocket(mode("server") port(8000) replay-retention(-1)); };',
     'replay-retention(), error=-1 is out of range'),
    ('destination d { websocket(mode("server") port(8000) replay-retention(2000000000)); };',
     'replay-retention(), error=2000000000 is out of range'),
    ('destination d { websocket(mode("server") port(8000) replay-retention-bytes(0)); };',
     'replay-retention-bytes(), error=0 is out of range'),
    ('destination d { websocket(mode("bogus") address("127.0.0.1") port(8000)); };',
     'mode() must be "client" or "server", not "bogus"'),
    ('destination d { websocket(address("127.0.0.1") port(70000)); };',
     'port() must be between 0 and 65535, not 70000'),
    ('source s { websocket(port(-1)); };', 'port() must be between 0 and 65535'),
    ('destination d { websocket(address("127.0.0.1") port(8000) ssl(cert("/nonexistent/c.pem") key("/nonexistent/k.pem"))); };',
     "ssl(cert()), error=cannot read '/nonexistent/c.pem'"),
    ('source s { websocket(port(8000) ssl(cacert("/nonexistent/ca.pem"))); };',
     "ssl(cacert()), error=cannot read '/nonexistent/ca.pem'"),
    ('destination d { websocket(port(8000)); };', 'address() is required in mode("client")'),
    ('source s { websocket(address("127.0.0.1")); };', 'port() is required in mode("server")'),
    ('destination d { websocket(mode("server") port(8000) slow-policy("sometimes")); };',
     'slow-policy() must be "disconnect" or "drop-oldest"'),
    ('destination d { websocket(address("127.0.0.1") port(8000) headers("no colon here")); };',
     'headers(): "no colon here" is not of the form "Name: value"'),
    ('destination d { websocket(address("127.0.0.1") port(8000) no-such-option(1)); };',
     'syntax error'),
    ('destination d { websocket(address("127.0.0.1") port(8000) batch-lines(100)); };',
     'batch-lines() is not supported by websocket(): every message is sent as its own WebSocket message'),
    ('destination d { websocket(address("127.0.0.1") port(8000) batch-timeout(100)); };',
     'batch-timeout() is not supported by websocket()'),
    ('destination d { websocket(mode("server") port(8000) workers(2)); };',
     'workers() is only valid in mode("client")'),
    ('source s { websocket(port(8000) workers(2)); };', 'syntax error'),
    ('source s { websocket(mode("client") port(8000)); };', 'address() is required in mode("client")'),
    ('source s { websocket(port(8000) auth-token("two words")); };',
     'auth-token(), error=a bearer token must be letters, digits and -._~+/'),
    ('source s { websocket(port(8000) auth-token()); };', 'auth-token() needs at least one value'),
    ('source s { websocket(port(8000) auth-token-file("/nonexistent/tokens")); };',
     "auth-token-file(), error=cannot read '/nonexistent/tokens'"),
    ('source s { websocket(port(8000) auth-token-file("@WORKDIR@/comments-only")); };',
     "auth-token-file(), error='@WORKDIR@/comments-only' holds no value"),
    ('source s { websocket(port(8000) auth-token-file("@WORKDIR@/bad-line")); };',
     "auth-token-file(), error='@WORKDIR@/bad-line' line 3: a bearer token must be"),
    ('destination d { websocket(mode("server") port(8000) allowed-origins("https://a.example/feed")); };',
     'allowed-origins(), error=origin "https://a.example/feed" is not scheme://host[:port]'),
    ('destination d { websocket(mode("server") port(8000) allowed-origins("null")); };',
     'allowed-origins(), error=origin "null" can be sent by any sandboxed page'),
    ('destination d { websocket(mode("server") port(8000) allowed-origins()); };',
     'allowed-origins() needs at least one value'),
    ('destination d { websocket(address("127.0.0.1") port(8000) auth-token("abc")); };',
     'auth-token() and auth-token-file() are only valid in mode("server")'),
    ('source s { websocket(mode("client") address("127.0.0.1") port(8000) allowed-origins("*")); };',
     'allowed-origins() is only valid in mode("server")'),
    ('source s { websocket(port(8000) max-buffered-bytes(1000)); };',
     'max-buffered-bytes(), error=max_buffered_bytes 1000 is below the minimum 65536'),
    ('destination d { websocket(address("127.0.0.1") port(8000) message-timeout(5000000)); };',
     'message-timeout(), error=must be between 0 (no limit) and 4294967 seconds'),
    ('source s { websocket(port(8000) trusted-proxies("not-an-ip")); };',
     'trusted-proxies(), error=trusted proxy "not-an-ip" is not an IP address or a CIDR block'),
    ('destination d { websocket(mode("server") port(8000) trusted-proxies("127.0.0.1" "10.1.2.3/8")); };',
     'trusted-proxies(), error=trusted proxy "10.1.2.3/8" is not an IP address or a CIDR block such as '
     '"10.0.0.0/8" or "::1/128": host bits are set under the /8 mask (the block starts at 10.0.0.0)'),
    ('source s { websocket(port(8000) trusted-proxies()); };', 'trusted-proxies() needs at least one value'),
    ('destination d { websocket(address("127.0.0.1") port(8000) trusted-proxies("127.0.0.1")); };',
     'trusted-proxies() is only valid in mode("server"): it names the reverse proxies in front of this server'),
    ('source s { websocket(mode("client") address("127.0.0.1") port(8000) trusted-proxies("::1")); };',
     'trusted-proxies() is only valid in mode("server")'),
    ('destination d { websocket(address("127.0.0.1") port(8000) proxy("socks5://u:hidden@127.0.0.1:1080")); };',
     'proxy(), error=proxy URL: only http:// proxies are supported'),
    ('destination d { websocket(address("127.0.0.1") port(8000) proxy("http://u:hidden")); };',
     'proxy(), error=proxy URL: the proxy port is not a number in 1..65535'),
    ('source s { websocket(port(8000) proxy("http://127.0.0.1:3128")); };',
     'proxy() is only valid in mode("client")'),
    ('destination d { websocket(address("127.0.0.1") port(8000) compression(yes) compression-level(10)); };',
     'compression-level(), error=must be between 1 (fastest) and 9 (smallest), not 10'),
    ('source s { websocket(port(8000) compression(yes) compression-level(0)); };',
     'compression-level(), error=must be between 1 (fastest) and 9 (smallest), not 0'),
    ('destination d { websocket(address("127.0.0.1") port(8000) compression-level(5)); };',
     'compression-level() needs compression(yes): compression is off by default'),
    ('source s { websocket(port(8000) compression(maybe)); };', 'syntax error'),
    ('destination d { websocket(mode("server") port(8000) acknowledgements(yes)); };',
     'acknowledgements() is only valid on a destination in mode("client") (the sender) and a source in '
     'mode("server") (the receiver that acknowledges), not on a destination in mode("server")'),
    ('source s { websocket(mode("client") address("127.0.0.1") port(8000) acknowledgements(yes)); };',
     'not on a source in mode("client")'),
    ('destination d { websocket(address("127.0.0.1") port(8000) ack-window(100)); };',
     'ack-window() is only valid with acknowledgements(yes) on a destination in mode("client")'),
    ('source s { websocket(port(8000) acknowledgements(yes) ack-window(100)); };',
     'ack-window() is only valid with acknowledgements(yes) on a destination in mode("client")'),
    ('destination d { websocket(address("127.0.0.1") port(8000) acknowledgements(yes) ack-window(0)); };',
     'ack-window(), error=must be between 1 and 1048576 messages, not 0'),
    ('destination d { websocket(address("127.0.0.1") port(8000) acknowledgements(yes) ack-window(1048577)); };',
     'ack-window(), error=must be between 1 and 1048576 messages, not 1048577'),
]

# Accepted by --syntax-only: the options that also bound what a client receives.
GOOD_CONFIGS = [
    'destination d { websocket(mode("server") port(8000) replay-retention(10000) replay-retention-bytes(1048576)); };',
    'destination d { websocket(mode("server") port(8000) replay-retention(0)); };',
    'destination d { websocket(address("127.0.0.1") port(8000) compression(yes) compression-level(9)); };',
    'destination d { websocket(mode("server") port(8000) compression(yes)); };',
    'source s { websocket(mode("client") address("127.0.0.1") port(8000) compression(yes) compression_level(1)); };',
    'source s { websocket(port(8000) compression(no)); };',
    'destination d { websocket(address("127.0.0.1") port(8000) proxy("http://user:p%40ss@proxy.example:3128")); };',
    'source s { websocket(mode("client") address("127.0.0.1") port(8000) proxy("http://[::1]:3128/")); };',
    'destination d { websocket(address("127.0.0.1") port(8000) max-buffered-bytes(1048576) message-timeout(2.5)); };',
    'source s { websocket(mode("client") address("127.0.0.1") port(8000) max-buffered-bytes(65536) message-timeout(0)); };',
    'source s { websocket(port(8000) allowed-origins("*") auth-token-file("@WORKDIR@/good") auth-token("x.y")); };',
    'destination d { websocket(mode("server") port(8000) trusted-proxies("127.0.0.1" "10.0.0.0/8") trusted-proxies("::1")); };',
    'source s { websocket(port(8000) trusted-proxies("fd00::/8")); };',
    'destination d { websocket(address("127.0.0.1") port(8000) acknowledgements(yes) ack-window(1048576)); };',
    'destination d { websocket(address("127.0.0.1") port(8000) acknowledgements(no)); };',
    'source s { websocket(port(8000) acknowledgements(yes)); };',
]


def test_g_bad_configs(ctx):
    token_files = {"comments-only": "# nothing but comments\n\n   \n# and blank lines\n",
                   "bad-line": "good-token\n\nsecret with spaces\n",
                   "good": "# one token\ngood-token\n"}
    for name, text in token_files.items():
        with open(os.path.join(ctx.workdir, name), "w") as f:
            f.write(text)
    for n, (cfg, expected) in enumerate(BAD_CONFIGS):
        cfg, expected = cfg.replace("@WORKDIR@", ctx.workdir), expected.replace("@WORKDIR@", ctx.workdir)
        sng = SyslogNg(ctx.workdir, "bad%d" % n, cfg + "\n", ctx.module_dir)
        rc, out = sng.syntax_only()
        check(rc != 0, "accepted by --syntax-only: %s" % cfg)
        check(expected in out, "error for %s does not say %r:\n%s" % (cfg, expected, out))
        # The line of a token file is named, its content never shown.
        check("secret with spaces" not in out, "a token file's line appears in the error:\n" + out)
        check("hidden" not in out, "a proxy password appears in the error:\n" + out)
    for n, cfg in enumerate(GOOD_CONFIGS):
        cfg = cfg.replace("@WORKDIR@", ctx.workdir)
        rc, out = SyslogNg(ctx.workdir, "good%d" % n, cfg + "\n", ctx.module_dir).syntax_only()
        check(rc == 0, "refused by --syntax-only: %s\n%s" % (cfg, out))

    # Refused at start: the port is in use (the engine binds synchronously in init).
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    ctx.cleanup.append(busy.close)
    port = busy.getsockname()[1]
    sng = ctx.sng("bad-start", """
source s_ws { websocket(address("127.0.0.1") port(%d)); };
destination d_file { file("/dev/null"); };
log { source(s_ws); destination(d_file); };
""" % port)
    sng.start(wait=False)
    check(sng.wait_exit(60) != 0, "syslog-ng started although the port is in use")
    text = sng.log_text()
    check("websocket: cannot start the source" in text and "cannot listen" in text,
          "the start-up error does not name the cause:\n" + text)


def test_i_dest_client_workers(ctx):
    """workers(3): three connections; syslog-ng spreads the lines over them; each connection's
    lines arrive in the order they were sent, none lost or duplicated."""
    coll = Collector()
    ctx.cleanup.append(coll.close)
    net = free_tcp_port()
    sng = ctx.sng("dest-workers", net_source(net) + """
destination d_ws { websocket( address("127.0.0.1") port(%d) template("$MSG") workers(3) ); };
log { source(s_net); destination(d_ws); flags(flow-control); };
""" % coll.port)
    sng.start()
    coll.wait_connections(3)
    sent = lines("worker", 3000)
    tcp_send_lines(net, sent)
    got = coll.wait(len(sent))
    check(sorted(got) == sorted(sent), "lines lost or duplicated over three workers")
    position = {m: i for i, m in enumerate(sent)}
    with coll.cond:
        per_conn = [list(c) for c in coll.by_conn]
    check(len(per_conn) == 3, "expected 3 connections, got %d" % len(per_conn))
    for n, c in enumerate(per_conn):
        check(c, "connection %d got no line: the messages were not spread" % n)
        check([position[m] for m in c] == sorted(position[m] for m in c),
              "connection %d: lines out of order" % n)
    check(sng.wait_stat("websocket", "written", len(sent)) == len(sent), "written is not %d" % len(sent))
    check(sng.stop() == 0, "syslog-ng exited with an error")


def test_j_source_client_mode(ctx):
    """mode("client") source: connects to a WebSocket server and ingests what it pushes: a burst
    of 5,000 through log-iw-size(100) (the source pauses reading while the window is full), then
    the server closes the connection; the engine reconnects and the next batch arrives too."""
    first = lines("pushed", 5000)
    second = lines("after-reconnect", 100)
    pusher = Pusher([first, second])
    ctx.cleanup.append(pusher.close)
    out = os.path.join(ctx.workdir, "client-source.out")
    sng = ctx.sng("source-client", """
source s_ws { websocket( mode("client") address("127.0.0.1") port(%d) path("/") reconnect-backoff(0.1 0.5)
                         flags(no-parse) log-iw-size(100) ); };
destination d_file { file("%s" template("$SOURCEIP $MSG\\n")); };
log { source(s_ws); destination(d_file); flags(flow-control); };
""" % (pusher.port, out))
    sng.start()
    pusher.wait_connections(1)
    got = wait_file_lines(out, len(first), timeout=120, proc=sng)
    check(got == ["127.0.0.1 " + m for m in first], "the pushed messages differ or are out of order")
    pusher.close_events[0].set()
    pusher.wait_connections(2)
    got = wait_file_lines(out, len(first) + len(second), timeout=60, proc=sng)
    check(got[len(first):] == ["127.0.0.1 " + m for m in second], "the messages after the reconnect differ")
    check(sng.stop() == 0, "syslog-ng exited with an error")


def test_k_metrics(ctx):
    """The counters of both drivers: on syslog-ng 4.x under the 4.x names with the driver's labels
    (`syslog-ng-ctl stats prometheus`: syslogng_output_events_total / syslogng_input_events_total
    with driver="websocket", mode, url, id); on 3.x the legacy dst.websocket / src.websocket rows."""
    coll = Collector()
    ctx.cleanup.append(coll.close)
    net = free_tcp_port()
    out = os.path.join(ctx.workdir, "metrics.out")
    sng = ctx.sng("metrics", net_source(net) + """
destination d_ws { websocket( address("127.0.0.1") port(%d) template("$MSG") ); };
source s_ws { websocket( address("127.0.0.1") port(0) flags(no-parse) ); };
destination d_file { file("%s" template("$MSG\\n")); };
log { source(s_net); destination(d_ws); flags(flow-control); };
log { source(s_ws); destination(d_file); flags(flow-control); };
""" % (coll.port, out))
    sng.start(wait=False)
    port = started_port(sng, "source")
    sng.wait_for(r"syslog-ng starting up")
    tcp_send_lines(net, lines("out", 7))
    coll.wait(7)
    with ws_connect("ws://127.0.0.1:%d/" % port, open_timeout=10) as ws:
        for m in lines("in", 5):
            ws.send(m)
        wait_file_lines(out, 5, proc=sng)
    dest_url = 'url="ws://127.0.0.1:%d/"' % coll.port
    if version() >= (4, 0):
        def metric(name, *labels):
            for line in sng.stats("prometheus").splitlines():
                if line.startswith(name + "{") and all(l in line for l in labels):
                    return int(float(line.rsplit(" ", 1)[1]))
            return None

        deadline = time.monotonic() + 30
        while True:
            delivered = metric("syslogng_output_events_total", 'driver="websocket"', 'mode="client"', dest_url,
                               'id="d_ws#0"', 'result="delivered"')
            received = metric("syslogng_input_events_total", 'driver="websocket"', 'mode="server"',
                              'url="ws://127.0.0.1:0/"', 'id="s_ws#0"')
            if (delivered, received) == (7, 5) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        check(delivered == 7, "syslogng_output_events_total{driver=\"websocket\",result=\"delivered\"} is %s, "
              "expected 7:\n%s" % (delivered, sng.stats("prometheus")))
        check(received == 5, "syslogng_input_events_total{driver=\"websocket\"} is %s, expected 5" % received)
        dropped = metric("syslogng_output_events_total", 'driver="websocket"', 'id="d_ws#0"', 'result="dropped"')
        check(dropped == 0, "syslogng_output_events_total{result=\"dropped\"} is %s, expected 0" % dropped)
    else:
        check(sng.wait_stat("websocket", "written", 7) == 7, "dst.websocket written is not 7")
        rows = [l.split(";") for l in sng.stats().splitlines()]
        processed = [int(f[5]) for f in rows if len(f) == 6 and f[0] == "src.websocket" and f[4] == "processed"]
        check(processed == [5], "src.websocket processed: %r, expected [5]" % processed)
    check(sng.stop() == 0, "syslog-ng exited with an error")


def test_l_source_auth_token(ctx):
    """auth-token(): a client with one of the tokens gets in, in the Authorization header or in
    the access_token query parameter; a wrong or missing token gets HTTP 401 and no message of
    it is logged. The tokens never appear in syslog-ng's log nor in its persist file."""
    tokens = ["first-Token.1", "second~token/2=="]
    out = os.path.join(ctx.workdir, "auth.out")
    sng = ctx.sng("source-auth", """
source s_ws { websocket( address("127.0.0.1") port(0) path("/in") flags(no-parse)
                         auth-token("%s") auth-token("%s" "third-token") ); };
destination d_file { file("%s" template("$MSG\\n")); };
log { source(s_ws); destination(d_file); flags(flow-control); };
""" % (tokens[0], tokens[1], out))
    sng.start(wait=False)
    port = started_port(sng, "source")
    sng.wait_for(r"syslog-ng starting up")
    uri = "ws://127.0.0.1:%d/in" % port
    check(refused_status(uri) == 401, "no token: not refused with 401")
    check(refused_status(uri, additional_headers={"Authorization": "Bearer wrong-token"}) == 401,
          "a wrong token in the header: not refused with 401")
    check(refused_status(uri + "?access_token=wrong-token") == 401, "a wrong access_token: not refused with 401")
    with ws_connect(uri, additional_headers={"Authorization": "Bearer " + tokens[0]}, open_timeout=10) as ws:
        ws.send("with the header")
        wait_file_lines(out, 1, proc=sng)
    with ws_connect(uri + "?access_token=" + tokens[1].replace("/", "%2F").replace("=", "%3D").replace("~", "%7E"),
                    open_timeout=10) as ws:
        ws.send("with the query")
        got = wait_file_lines(out, 2, proc=sng)
    with ws_connect(uri, additional_headers={"Authorization": "Bearer third-token"}, open_timeout=10) as ws:
        ws.send("with the list's second token")
        got = wait_file_lines(out, 3, proc=sng)
    check(got == ["with the header", "with the query", "with the list's second token"],
          "the accepted clients' messages differ: %r" % got)
    check(sng.stop() == 0, "syslog-ng exited with an error")
    text = sng.log_text()
    with open(sng.persist, "rb") as f:
        persist = f.read()
    for t in tokens + ["third-token", "wrong-token"]:
        check(t not in text, "a token appears in syslog-ng's log: %s" % sng.log_path)
        check(t.encode() not in persist, "a token appears in the persist file %s" % sng.persist)


def test_l_source_auth_token_file_reload(ctx):
    """auth-token-file(): one token per line, blank lines and # comments ignored, read at
    configuration time. A reload with the same file keeps the connections; a reload after the
    file changed rebuilds the context: the old connection is closed, the old token refused and the
    new one accepted."""
    token_file = os.path.join(ctx.workdir, "tokens")
    with open(token_file, "w") as f:
        f.write("# subscribers of the log feed\n\n   file-token-1  \n#not-a-token\n")
    out = os.path.join(ctx.workdir, "auth-file.out")
    sng = ctx.sng("source-auth-file", """
source s_ws { websocket( address("127.0.0.1") port(0) flags(no-parse) auth-token-file("%s") ); };
destination d_file { file("%s" template("$MSG\\n")); };
log { source(s_ws); destination(d_file); flags(flow-control); };
""" % (token_file, out))
    sng.start(wait=False)
    port = started_port(sng, "source")
    sng.wait_for(r"syslog-ng starting up")
    uri = "ws://127.0.0.1:%d/" % port
    check(refused_status(uri, additional_headers={"Authorization": "Bearer not-a-token"}) == 401,
          "a commented-out line is taken as a token")
    client = ws_connect(uri, additional_headers={"Authorization": "Bearer file-token-1"}, open_timeout=10)
    ctx.cleanup.append(client.close)
    client.send("before")
    wait_file_lines(out, 1, proc=sng)

    # Unchanged file: the context and its connection are kept.
    mark = sng.mark()
    sng.reload()
    client.send("after an unchanged reload")
    check(wait_file_lines(out, 2, proc=sng)[1] == "after an unchanged reload", "the message after the reload differs")
    text = "".join(l for l in sng.lines[mark:] if l)
    check("websocket: connection closed" not in text and "websocket: source started" not in text,
          "a reload with an unchanged token file rebuilt the context:\n" + text)

    # Changed file: a new context; the connection authorised by the old token is closed.
    with open(token_file, "w") as f:
        f.write("file-token-2\n")
    mark = sng.mark()
    sng.proc.send_signal(signal.SIGHUP)
    port = started_port(sng, "source", start=mark)
    sng.wait_for(r"Configuration reload finished", start=mark)
    try:
        client.recv(timeout=30)
        raise Failure("the connection authorised by the old token got a message after the reload")
    except ConnectionClosed:
        pass
    except TimeoutError:
        raise Failure("the connection authorised by the old token is still open 30 s after the reload")
    uri = "ws://127.0.0.1:%d/" % port
    check(refused_status(uri, additional_headers={"Authorization": "Bearer file-token-1"}) == 401,
          "the token removed from the file is still accepted after the reload")
    with ws_connect(uri, additional_headers={"Authorization": "Bearer file-token-2"}, open_timeout=10) as ws:
        ws.send("with the new token")
        check(wait_file_lines(out, 3, proc=sng)[2] == "with the new token", "the new token's message differs")
    check(sng.stop() == 0, "syslog-ng exited with an error")
    check("file-token" not in sng.log_text(), "a token appears in syslog-ng's log: %s" % sng.log_path)


def test_l_dest_server_allowed_origins(ctx):
    """allowed-origins() on a server-mode destination: a browser page from an origin not listed
    gets HTTP 403 (cross-site WebSocket hijacking); a listed origin, and a client that sends no
    Origin (not a browser), subscribe and get the lines."""
    net = free_tcp_port()
    sng = ctx.sng("dest-origins", net_source(net) + """
destination d_ws { websocket( mode("server") address("127.0.0.1") port(0) template("$MSG")
                              allowed-origins("https://a.example" "https://b.example:8443") ); };
log { source(s_net); destination(d_ws); flags(flow-control); };
""")
    sng.start(wait=False)
    port = started_port(sng, "destination")
    sng.wait_for(r"syslog-ng starting up")
    uri = "ws://127.0.0.1:%d/" % port
    check(refused_status(uri, origin="https://evil.example") == 403, "another origin: not refused with 403")
    check(refused_status(uri, origin="http://127.0.0.1:%d" % port) == 403,
          "the server's own origin is let in although it is not listed")
    check(refused_status(uri, origin="https://b.example") == 403, "the listed origin on another port is let in")
    subs = [Subscriber(uri, origin="https://b.example:8443"), Subscriber(uri)]
    for s in subs:
        ctx.cleanup.append(s.close)
    _, i = sng.wait_for(r"websocket: connection open")
    sng.wait_for(r"websocket: connection open", start=i)
    sent = lines("origin", 100)
    tcp_send_lines(net, sent)
    for n, s in enumerate(subs):
        check(s.wait(len(sent)) == sent, "subscriber %d: messages differ" % n)
    check(sng.stop() == 0, "syslog-ng exited with an error")


def test_m_message_limits(ctx):
    """message-timeout() and max-buffered-bytes() reach the engine: on /timeout
    (message-timeout(0.5)) a frame whose bytes stop arriving is closed with 1008 well before the
    engine's 60 s default; on /budget (max-buffered-bytes(65536), message-timeout(0) = no limit)
    a client holding 100,000 bytes of an incomplete message is closed with 1008."""
    out = os.path.join(ctx.workdir, "limits.out")
    sng = ctx.sng("message-limits", """
source s_timeout { websocket( address("127.0.0.1") port(0) path("/timeout") flags(no-parse) message-timeout(0.5) ); };
source s_budget { websocket( address("127.0.0.1") port(0) path("/budget") flags(no-parse)
                             max-buffered-bytes(65536) message-timeout(0) ); };
destination d_file { file("%s" template("$MSG\\n")); };
log { source(s_timeout); source(s_budget); destination(d_file); flags(flow-control); };
""" % out)
    sng.start(wait=False)
    ports = started_ports(sng, "source", 2)
    sng.wait_for(r"syslog-ng starting up")
    t0 = time.monotonic()
    code = raw_partial_frame(ports["/timeout"], "/timeout", declared=100, sent=10)
    check(code == 1008, "a half-sent message: closed with %s, expected 1008" % code)
    check(time.monotonic() - t0 < 20, "the half-sent message was closed only after %.1fs" % (time.monotonic() - t0))
    sng.wait_for(r"websocket: connection closed; endpoint='[^']*/timeout'.*code='1008'")

    mark = sng.mark()
    code = raw_partial_frame(ports["/budget"], "/budget", declared=200000, sent=100000)
    check(code in (1008, None), "over max-buffered-bytes(): closed with %s, expected 1008" % code)
    sng.wait_for(r"websocket: connection closed; endpoint='[^']*/budget'.*code='1008'", start=mark)
    # Both sources still take whole messages.
    for path in ("/timeout", "/budget"):
        with ws_connect("ws://127.0.0.1:%d%s" % (ports[path], path), open_timeout=10) as ws:
            ws.send("whole message on " + path)
    got = wait_file_lines(out, 2, proc=sng)
    check(sorted(got) == ["whole message on /budget", "whole message on /timeout"], "messages differ: %r" % got)
    check(sng.stop() == 0, "syslog-ng exited with an error")


def test_n_trusted_proxies(ctx):
    """trusted-proxies(): a client connecting from a trusted proxy's address (127.0.0.1) with
    X-Forwarded-For is logged with the address the header names; without trusted-proxies() the
    same client is logged as 127.0.0.1 (a client cannot choose its SOURCEIP). A server-mode
    destination names the forwarded client too. A reload with a changed list rebuilds the
    context: the open connection is closed and the new list applies."""
    out = os.path.join(ctx.workdir, "proxied.out")
    # use-dns(no): HOST_FROM is not looked up, so 192.0.2.7 is never sent to a resolver.
    config = """
source s_proxied { websocket( address("127.0.0.1") port(0) path("/proxied") flags(no-parse) use-dns(no) %s ); };
source s_direct { websocket( address("127.0.0.1") port(0) path("/direct") flags(no-parse) use-dns(no) ); };
destination d_file { file("%s" template("$SOURCEIP $MSG\\n")); };
log { source(s_proxied); source(s_direct); destination(d_file); flags(flow-control); };
destination d_feed { websocket( mode("server") address("127.0.0.1") port(0) path("/feed")
                                trusted-proxies("127.0.0.1") ); };
log { source(s_direct); destination(d_feed); };
"""
    sng = ctx.sng("trusted-proxies", config % ('trusted-proxies("10.0.0.0/8" "127.0.0.1")', out))
    sng.start(wait=False)
    ports = started_ports(sng, "source", 2)
    feed = started_port(sng, "destination")
    sng.wait_for(r"syslog-ng starting up")
    xff = {"X-Forwarded-For": "192.0.2.7"}
    proxied = ws_connect("ws://127.0.0.1:%d/proxied" % ports["/proxied"], additional_headers=xff, open_timeout=10)
    ctx.cleanup.append(proxied.close)
    proxied.send("through the proxy")
    check(wait_file_lines(out, 1, proc=sng) == ["192.0.2.7 through the proxy"],
          "SOURCEIP behind a trusted proxy is not the address X-Forwarded-For names: %r" % read_lines(out))
    with ws_connect("ws://127.0.0.1:%d/direct" % ports["/direct"], additional_headers=xff, open_timeout=10) as ws:
        ws.send("spoofing")
        check(wait_file_lines(out, 2, proc=sng)[1] == "127.0.0.1 spoofing",
              "without trusted-proxies() a client's own X-Forwarded-For was believed: %r" % read_lines(out))
    mark = sng.mark()
    sub = Subscriber("ws://127.0.0.1:%d/feed" % feed, additional_headers=xff)
    ctx.cleanup.append(sub.close)
    sng.wait_for(r"websocket: connection open; endpoint='server ws://127.0.0.1:0/feed'.*peer='192\.0\.2\.7'",
                 start=mark)
    sub.close()

    # A changed list is a changed context: the connection admitted under the old list is
    # closed, and 127.0.0.1 is no longer believed.
    sng.write_config(config % ('trusted-proxies("10.0.0.0/8")', out))
    mark = sng.mark()
    sng.proc.send_signal(signal.SIGHUP)
    port = started_port(sng, "source", start=mark)
    sng.wait_for(r"Configuration reload finished", start=mark)
    text = "".join(l for l in sng.lines[mark:] if l)
    check(re.findall(r"websocket: \w+ started; endpoint='([^']*)'", text) == ["server ws://127.0.0.1:0/proxied"],
          "the reload did not rebuild exactly the changed source:\n" + text)
    try:
        proxied.recv(timeout=30)
        raise Failure("the connection of the old context got a message after the reload")
    except ConnectionClosed:
        pass
    except TimeoutError:
        raise Failure("the connection of the old context is still open 30 s after the reload")
    with ws_connect("ws://127.0.0.1:%d/proxied" % port, additional_headers=xff, open_timeout=10) as ws:
        ws.send("no longer trusted")
        check(wait_file_lines(out, 3, proc=sng)[2] == "127.0.0.1 no longer trusted",
              "after the reload 127.0.0.1 is still a trusted proxy: %r" % read_lines(out))
    check(sng.stop() == 0, "syslog-ng exited with an error")


def start_tinyproxy(ctx, connect_port, auth):
    """Debian's tinyproxy on a free 127.0.0.1 port, allowing CONNECT to `connect_port` only and
    requiring Basic `auth` (user, password); killed at cleanup. Skips without tinyproxy unless
    WS_REQUIRE_TINYPROXY=1."""
    binary = shutil.which("tinyproxy") or shutil.which("tinyproxy", path="/usr/bin:/usr/sbin")
    if binary is None:
        check(os.environ.get("WS_REQUIRE_TINYPROXY") != "1",
              "tinyproxy is not installed (apt-get install tinyproxy) and WS_REQUIRE_TINYPROXY=1")
        raise Skip("tinyproxy is not installed (apt-get install tinyproxy)")
    port = free_tcp_port()
    d = os.path.join(ctx.workdir, "tinyproxy")
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "tinyproxy.conf")
    log = os.path.join(d, "tinyproxy.log")
    with open(conf, "w") as f:
        f.write("Port %d\nListen 127.0.0.1\nTimeout 10\nMaxClients 16\nAllow 127.0.0.1\n"
                "ConnectPort %d\nLogLevel Info\nLogFile \"%s\"\nPidFile \"%s/tinyproxy.pid\"\n"
                "BasicAuth %s %s\n" % (port, connect_port, log, d, auth[0], auth[1]))
    proc = subprocess.Popen([binary, "-d", "-c", conf], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    ctx.cleanup.append(lambda: (proc.kill(), proc.wait()))
    deadline = time.monotonic() + 30
    while True:
        check(proc.poll() is None, "tinyproxy exited at start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return port, log
        except OSError:
            check(time.monotonic() < deadline, "tinyproxy does not listen on %d" % port)
            time.sleep(0.05)


def test_o_dest_client_through_proxy(ctx):
    """proxy(): a client-mode destination goes through Debian's tinyproxy with Basic
    credentials, every line in order; without the credentials the proxy's 407 is logged (and
    the password never is)."""
    coll = Collector()
    ctx.cleanup.append(coll.close)
    proxy_port, proxy_log = start_tinyproxy(ctx, coll.port, ("logger", "s3cret"))
    net = free_tcp_port()
    config = net_source(net) + """
destination d_ws { websocket( address("127.0.0.1") port(%d) template("$MSG") reconnect-backoff(0.1 0.5)
                              proxy("%s") ); };
log { source(s_net); destination(d_ws); flags(flow-control); };
"""
    refused = ctx.sng("dest-proxy-407", config % (coll.port, "http://127.0.0.1:%d" % proxy_port))
    refused.start()
    refused.wait_for(r"websocket: connection error.*proxy answered 407")
    check(not coll.by_conn, "a connection reached the server without the proxy's consent")
    check(refused.stop() == 0, "syslog-ng exited with an error")
    sng = ctx.sng("dest-proxy", config % (coll.port, "http://logger:s3cret@127.0.0.1:%d" % proxy_port))
    sng.start()
    sent = lines("proxied", 500)
    tcp_send_lines(net, sent)
    got = coll.wait(len(sent), timeout=60)
    check(got == sent, "messages through the proxy differ or are out of order")
    with open(proxy_log) as f:
        check("CONNECT 127.0.0.1:%d" % coll.port in f.read(), "the lines did not go through the proxy")
    check(sng.stop() == 0, "syslog-ng exited with an error")
    for s in (refused, sng):
        check("s3cret" not in s.log_text(), "the proxy password appears in syslog-ng's output")


# Acknowledged when written: 10,000 lines of 1 kB (10 MB) to a server that reads nothing. The
# kernel can hold only a few MB of them (the client's send buffer grows to net.ipv4.tcp_wmem's
# maximum, 4 MB by default; the server's receive buffer is 4 kB), so most of them wait unwritten
# in the engine's queue.
ACK_LINES = 10000
ACK_FILL = "x" * 1000


def ack_lines(prefix):
    return ["%s %05d %s" % (prefix, i, ACK_FILL) for i in range(ACK_LINES)]


def ack_source(port):
    """One connection with a window for every line: with flags(flow-control) and no disk buffer,
    the lines the engine holds unwritten count against the source's window (they are not
    acknowledged), and net_source()'s window is shared by 10 connections."""
    return ("source s_net { network(transport(tcp) ip(127.0.0.1) port(%d) flags(no-parse) max-connections(1) "
            "log-iw-size(%d)); };\n" % (port, 2 * ACK_LINES))


def wait_handed_to_engine(sng, count, timeout=60):
    """Waits until the destination took all `count` lines from its queue (processed == count,
    queued == 0): every one was accepted by the engine (one it refused would be back in the
    queue). Polls the counters (no event to wait for)."""
    deadline = time.monotonic() + timeout
    while True:
        processed, queued = sng.stat("websocket", "processed"), sng.stat("websocket", "queued")
        if processed == count and queued == 0:
            return
        check(time.monotonic() < deadline, "the destination did not take the lines (processed=%s queued=%s)"
              % (processed, queued))
        time.sleep(0.05)


def check_not_acked(sng, count):
    """The lines the kernel cannot hold are not acknowledged (written counts acknowledged
    lines); the previous module acknowledged every line the engine accepted (written == count)."""
    written = sng.stat("websocket", "written") or 0
    check(written <= count // 2,
          "written=%d of %d while the server reads nothing: lines acknowledged before they were written"
          % (written, count))
    return written


def wait_every_line(peer, sent, timeout=120):
    """Waits until `peer` received every line of `sent` at least once."""
    want = set(sent)
    seen = set()
    pos = 0

    def covered():
        nonlocal pos
        for m in peer.msgs[pos:]:
            if m in want:
                seen.add(m)
        pos = len(peer.msgs)
        return len(seen) == len(want)
    try:
        peer._wait_until(covered, "not every line arrived", timeout)
    except Failure as e:
        raise Failure("%s: %d distinct lines of %d" % (e, len(seen), len(want)))


def count_duplicates(srv, sent):
    """Once syslog-ng stopped and every connection ended: how many lines arrived more than once
    (and that nothing else arrived)."""
    srv.wait_closed()
    with srv.cond:
        got = list(srv.msgs)
    check(set(got) == set(sent), "lines that were not sent arrived")
    return len(got) - len(sent)


def test_p_dest_client_acked_when_written(ctx):
    """Client mode acknowledges syslog-ng's queue only for the lines the engine wrote to the
    socket: with a server that reads nothing, the lines in the engine's queue stay
    unacknowledged (written stays below the count); once the server reads, all are acknowledged.
    One line in the middle is larger than max-message-size(): refused while the lines before it
    are unwritten, it is dropped in its turn (dropped = 1) and the others are all acknowledged."""
    srv = StalledServer()
    ctx.cleanup.append(srv.close)
    net = free_tcp_port()
    sng = ctx.sng("acked-when-written", ack_source(net) + """
destination d_ws { websocket( address("127.0.0.1") port(%d) template("$MSG") max-message-size(2000) ); };
log { source(s_net); destination(d_ws); flags(flow-control); };
""" % srv.port)
    sng.start()
    srv.wait_connections(1)
    sent = ack_lines("acked")
    too_large = "acked too-large " + "y" * 3000
    tcp_send_lines(net, sent[:len(sent) // 2] + [too_large] + sent[len(sent) // 2:])
    wait_handed_to_engine(sng, len(sent) + 1)
    check_not_acked(sng, len(sent))
    srv.start_reading()
    got = srv.wait(len(sent), timeout=120)
    check(got == sent, "lines differ, duplicated or out of order")
    written = sng.wait_stat("websocket", "written", len(sent), timeout=60)
    check(written == len(sent), "written=%s after the server read everything, expected %d" % (written, len(sent)))
    check(sng.wait_stat("websocket", "dropped", 1) == 1, "dropped is not 1 (the line above max-message-size())")
    check(sng.stop() == 0, "syslog-ng exited with an error")


def test_p_dest_client_reload_unacked(ctx):
    """A reload (the context kept) while the engine holds unwritten lines: syslog-ng gives the
    unacknowledged lines back to the new configuration's worker, which sends them again, while
    the kept context writes its copies (duplicates). Every line arrives, and the acknowledgements
    stay exact: written ends at the line count, never above (acknowledging a line that was not
    written would count it twice)."""
    srv = StalledServer()
    ctx.cleanup.append(srv.close)
    net = free_tcp_port()
    sng = ctx.sng("reload-unacked", ack_source(net) + """
destination d_ws { websocket( address("127.0.0.1") port(%d) template("$MSG") ); };
log { source(s_net); destination(d_ws); flags(flow-control); };
""" % srv.port)
    sng.start()
    srv.wait_connections(1)
    sent = ack_lines("reload")
    tcp_send_lines(net, sent)
    wait_handed_to_engine(sng, len(sent))
    acked_at_reload = check_not_acked(sng, len(sent))
    sng.reload()
    srv.start_reading()
    wait_every_line(srv, sent)
    written = sng.wait_stat("websocket", "written", len(sent), timeout=60)
    check(written == len(sent), "written=%s after the server read everything, expected %d" % (written, len(sent)))
    check(srv.connections == 1, "the reload reconnected (%d connections)" % srv.connections)
    check(sng.stop() == 0, "syslog-ng exited with an error")
    print("    reload with %d unwritten lines: every line arrived, %d duplicates"
          % (len(sent) - acked_at_reload, count_duplicates(srv, sent)), flush=True)


def test_p_dest_client_kill9_reliable_disk_buffer(ctx):
    """disk-buffer(reliable(yes)) and kill -9 while the server reads nothing: the lines the engine
    held unwritten were not acknowledged, so the restarted syslog-ng sends them again from the disk
    buffer and every line arrives (duplicates allowed: written but not yet acknowledged ones).
    The previous module acknowledged them on acceptance and lost them here."""
    srv = StalledServer()
    ctx.cleanup.append(srv.close)
    net = free_tcp_port()
    sng = ctx.sng("kill9-disk-buffer", ack_source(net) + """
destination d_ws { websocket( address("127.0.0.1") port(%d) template("$MSG") reconnect-backoff(0.1 0.5)
                              disk-buffer(reliable(yes) dir("%s") disk-buf-size(104857600)) ); };
log { source(s_net); destination(d_ws); flags(flow-control); };
""" % (srv.port, ctx.workdir))
    sng.start()
    srv.wait_connections(1)
    sent = ack_lines("kill9")
    tcp_send_lines(net, sent)
    wait_handed_to_engine(sng, len(sent))
    written = check_not_acked(sng, len(sent))
    sng.kill()
    sng.start()
    srv.wait_connections(2)
    srv.start_reading()
    wait_every_line(srv, sent)
    check(sng.stop() == 0, "syslog-ng exited with an error")
    print("    kill -9 with %d of %d lines acknowledged: every line arrived, %d duplicates"
          % (written, len(sent), count_duplicates(srv, sent)), flush=True)


def varied_lines(n):
    """Log-like lines that differ from each other (hosts, programs, pids, numbers, addresses,
    some beyond ASCII, some long), so that a compressed stream is a real one: a repeated string
    would not show a window or a back-reference handled wrongly."""
    hosts = ["web-01", "db3.eu-west.example.net", "ip-10-4-2-9", "node-3fa9c0de", "mail2"]
    progs = ["sshd", "nginx", "postgres", "CRON", "app-worker", "kernel"]
    users = ["alice", "bob", "zoë", "jürgen", "root"]
    out = []
    for i in range(n):
        line = "%s %s[%d]: request %d from 192.0.2.%d user=%s path=/api/v1/orders/%d took %d ms" % (
            hosts[i % 5], progs[(i * 7) % 6], 1000 + (i * 7919) % 50000, i, i % 255, users[i % 5],
            (i * 104729) % 100000, (i * 37) % 1000)
        if i % 97 == 5:
            line += " trace=" + "".join("%08x" % ((i * k * 2654435761) % 2 ** 32) for k in range(1, 200))
        if i % 10 == 3:
            line += " ✓ 日本語 %d" % i
        out.append(line)
    return out


def test_q_compression(ctx):
    """compression(yes): a client-mode destination (level 6) sends to a server-mode source in
    the same syslog-ng over permessage-deflate: 3,000 varied lines arrive intact and in order,
    and both ends log the connection as compressed (the engine's count of compressed
    connections, in the "connection open" message of a driver with compression(yes)). A second destination with compression(yes)
    and the default level sends the same lines to a Python `websockets` server, which
    negotiates the extension with it; a Python client offering it to the source gets it; a
    source without compression() (the default: off) does not answer the offer."""
    coll = Collector()
    ctx.cleanup.append(coll.close)
    net = free_tcp_port()
    src = free_tcp_port()  # the destination must name it in the configuration
    out = os.path.join(ctx.workdir, "compressed.out")
    sng = ctx.sng("compression", net_source(net) + """
destination d_ws { websocket( address("127.0.0.1") port(%d) path("/deflate") template("$MSG")
                              compression(yes) compression-level(6) ); };
destination d_py { websocket( address("127.0.0.1") port(%d) template("$MSG") compression(yes) ); };
source s_ws { websocket( address("127.0.0.1") port(%d) path("/deflate") compression(yes)
                         flags(no-parse) log-iw-size(1000) ); };
source s_plain { websocket( address("127.0.0.1") port(0) path("/plain") flags(no-parse) ); };
destination d_file { file("%s" template("$MSG\\n")); };
log { source(s_net); destination(d_ws); destination(d_py); flags(flow-control); };
log { source(s_ws); source(s_plain); destination(d_file); flags(flow-control); };
""" % (src, coll.port, src, out))
    sng.start(wait=False)
    ports = started_ports(sng, "source", 2)
    sng.wait_for(r"syslog-ng starting up")
    # The destination's connection to the source, seen from both ends: each end's context counts
    # it among its connections that negotiated permessage-deflate (ws_stats).
    sng.wait_for(r"websocket: connection open; endpoint='client ws://127\.0\.0\.1:%d/deflate'.*"
                 r"compressed_connections='1'" % src)
    sng.wait_for(r"websocket: connection open; endpoint='server ws://127\.0\.0\.1:%d/deflate'.*"
                 r"compressed_connections='1'" % src)
    coll.wait_connections(1)
    with coll.cond:
        negotiated = coll.extensions[0]
    check(negotiated and negotiated.startswith("permessage-deflate"),
          "the Python server did not negotiate permessage-deflate with compression(yes): %r" % negotiated)

    sent = varied_lines(3000)
    tcp_send_lines(net, sent)
    got = wait_file_lines(out, len(sent), timeout=120, proc=sng)
    check(got == sent, "lines through the compressed connection differ or are out of order "
          "(first difference at %d)" % next((i for i, (a, b) in enumerate(zip(got, sent)) if a != b), -1))
    check(coll.wait(len(sent)) == sent, "the Python server's lines differ or are out of order")

    # A Python client offering permessage-deflate (as browsers do): accepted by the source with
    # compression(yes), not by the one without it.
    with ws_connect("ws://127.0.0.1:%d/deflate" % ports["/deflate"], open_timeout=10) as ws:
        ext = ws.response.headers.get("Sec-WebSocket-Extensions")
        check(ext and ext.startswith("permessage-deflate"),
              "the source with compression(yes) did not accept permessage-deflate: %r" % ext)
        ws.send("from a compressing client ✓")
    with ws_connect("ws://127.0.0.1:%d/plain" % ports["/plain"], open_timeout=10) as ws:
        ext = ws.response.headers.get("Sec-WebSocket-Extensions")
        check(ext is None, "the source without compression() negotiated %r" % ext)
        ws.send("from a plain connection")
    got = wait_file_lines(out, len(sent) + 2, proc=sng)
    check(sorted(got[len(sent):]) == ["from a compressing client ✓", "from a plain connection"],
          "the Python clients' lines: %r" % got[len(sent):])
    check(sng.stop() == 0, "syslog-ng exited with an error")


class RawAckClient:
    """A hand-made WebSocket client that offers end-to-end acknowledgements (`WS-API-Ack: 1`),
    sends text messages and collects the server's acknowledgements: unsolicited pongs whose
    payload is `ack <N>` (docs/acks.md). Raw sockets, so that nothing answers or hides a pong."""

    def __init__(self, port, path="/"):
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nWS-API-Ack: 1\r\n\r\n"
                           % (path, port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            check(chunk, "the server closed during the handshake")
            head += chunk
        self.head, self.buf = head.split(b"\r\n\r\n", 1)
        check(self.head.startswith(b"HTTP/1.1 101"), "handshake refused: %r" % self.head[:40])
        self.acked = 0
        self.close_code = None
        self.ended = False
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def accepted_acks(self):
        return any(l.strip().lower() == b"ws-api-ack: 1" for l in self.head.split(b"\r\n")[1:])

    def send(self, text):
        data, mask = text.encode(), os.urandom(4)
        n = len(data)
        head = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0x80 | 126]) + struct.pack("!H", n)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self):
        data = self.buf
        try:
            while True:
                while len(data) >= 2:
                    n, off = data[1] & 0x7F, 2
                    if n == 126:
                        if len(data) < 4:
                            break
                        n, off = struct.unpack("!H", data[2:4])[0], 4
                    if len(data) < off + n:
                        break
                    opcode, payload, data = data[0] & 0x0F, data[off:off + n], data[off + n:]
                    if opcode == 0x0A and payload.startswith(b"ack "):
                        with self.cond:
                            self.acked = max(self.acked, int(payload[4:]))
                            self.cond.notify_all()
                    elif opcode == 0x08 and len(payload) >= 2:
                        with self.cond:
                            self.close_code = struct.unpack("!H", payload[:2])[0]
                            self.cond.notify_all()
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        with self.cond:
            self.ended = True
            self.cond.notify_all()

    def wait_closed(self, timeout=30):
        """Waits until the server closed the connection; answers its close code (None without one)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not self.ended:
                left = deadline - time.monotonic()
                check(left > 0, "the server did not close the connection within %ss" % timeout)
                self.cond.wait(left)
            return self.close_code

    def wait_acked(self, n, timeout=30):
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.acked < n:
                left = deadline - time.monotonic()
                check(left > 0, "acknowledged up to %d, expected %d within %ss" % (self.acked, n, timeout))
                self.cond.wait(left)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def accept_late_server(ctx, port, timeout):
    """A plain TCP server that comes up on `port` only now (a network() destination's server that
    was down until this point); answers the connection syslog-ng makes to it, reads bounded by
    `timeout` seconds."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(1)
    ctx.cleanup.append(srv.close)
    conn, _ = srv.accept()
    ctx.cleanup.append(conn.close)
    conn.settimeout(timeout)
    return conn


def recv_lines(conn, got, count, who):
    """Reads from `conn` onto `got` until it holds `count` lines; `who` names the writer."""
    while got.count(b"\n") < count:
        chunk = conn.recv(65536)
        check(chunk, "%s closed before writing every line" % who)
        got += chunk
    return got


def test_q_source_acks_when_syslog_ng_acks(ctx):
    """acknowledgements(yes) on a server-mode source: the handshake accepts a client's offer, and
    a message is acknowledged to the client only once syslog-ng acknowledged it to the source.
    The source's log path goes (flow-control) to a network() destination whose server is down:
    the messages wait in its queue, unacknowledged, and the client gets no acknowledgement;
    once the server is up and syslog-ng wrote them, the client gets `ack 20`. A client that
    offers nothing is served as before."""
    down = free_tcp_port()
    sng = ctx.sng("source-acks", """
source s_ws { websocket( address("127.0.0.1") port(0) path("/") flags(no-parse) acknowledgements(yes) ); };
destination d_net { network("127.0.0.1" port(%d) transport(tcp) template("$MSG\n") time-reopen(1)); };
log { source(s_ws); destination(d_net); flags(flow-control); };
""" % down)
    sng.start(wait=False)
    port = started_port(sng, "source")
    sng.wait_for(r"syslog-ng starting up")
    client = RawAckClient(port)
    ctx.cleanup.append(client.close)
    check(client.accepted_acks(), "the 101 does not accept acknowledgements: %r" % client.head)
    sent = lines("ack", 20)
    for m in sent:
        client.send(m)
    # Every message was posted (syslog-ng has them, unwritten: the destination cannot connect).
    processed = sng.wait_stat("websocket", "processed", len(sent))
    check(processed == len(sent), "the source posted %s of %d messages" % (processed, len(sent)))
    # The engine acknowledges within 5 ms of a message being safe; none is, through the next
    # failed connection attempt of the destination (time-reopen(1)).
    sng.wait_for(r"Syslog connection failed", start=sng.mark())
    check(client.acked == 0, "acknowledged up to %d while syslog-ng had written nothing" % client.acked)
    conn = accept_late_server(ctx, down, 30)
    got = recv_lines(conn, b"", len(sent), "the network() destination")
    check(got.decode().splitlines() == sent, "the destination wrote other lines: %r" % got[:200])
    client.wait_acked(len(sent))
    check(client.acked == len(sent), "acknowledged up to %d of %d" % (client.acked, len(sent)))
    # A client that does not offer acknowledgements is served as before.
    with ws_connect("ws://127.0.0.1:%d/" % port, open_timeout=10) as ws:
        check(ws.response.headers.get("WS-API-Ack") is None, "acknowledgements answered to a client that did not offer them")
        ws.send("plain")
        while b"plain" not in got:
            chunk = conn.recv(65536)
            check(chunk, "the network() destination closed")
            got += chunk
    check(sng.stop() == 0, "syslog-ng exited with an error")


def test_q_source_window_bounds_batches(ctx):
    """The source dispatches the engine's events in batches (up to 64 per ws_dispatch call) but
    never posts more than its window has room for: with log-iw-size(10) and a network()
    destination whose server is down (flow-control), exactly 10 of 200 messages are posted and
    the count stays at 10 across the destination's next failed connection attempt (the source
    suspends; 3.38 would abort on a post into a closed window). None is acknowledged to the
    client meanwhile. Once the server is up, all 200 arrive in order, the client gets `ack 200`
    (the bookmarks of batched messages), and nothing is posted twice."""
    down = free_tcp_port()
    sng = ctx.sng("source-window", """
source s_ws { websocket( address("127.0.0.1") port(0) path("/") flags(no-parse) acknowledgements(yes)
                         log-iw-size(10) ); };
destination d_net { network("127.0.0.1" port(%d) transport(tcp) template("$MSG\n") time-reopen(1)); };
log { source(s_ws); destination(d_net); flags(flow-control); };
""" % down)
    sng.start(wait=False)
    port = started_port(sng, "source")
    sng.wait_for(r"syslog-ng starting up")
    client = RawAckClient(port)
    ctx.cleanup.append(client.close)
    sent = lines("window", 200)
    for m in sent:
        client.send(m)
    processed = sng.wait_stat("websocket", "processed", 10)
    check(processed == 10, "the source posted %s messages through a window of 10" % processed)
    # The engine holds the other 190 (or TCP does); through two more failed connection attempts
    # of the destination the window stays closed and nothing more is posted.
    for _ in range(2):
        sng.wait_for(r"Syslog connection failed", start=sng.mark())
    processed = sng.stat("websocket", "processed")
    check(processed == 10, "the source posted %s messages into a closed window of 10" % processed)
    check(client.acked == 0, "acknowledged up to %d while syslog-ng had written nothing" % client.acked)
    conn = accept_late_server(ctx, down, 60)
    got = recv_lines(conn, b"", len(sent), "the network() destination")
    check(got.decode().splitlines() == sent, "the destination wrote other lines or another order")
    client.wait_acked(len(sent))
    check(client.acked == len(sent), "acknowledged up to %d of %d" % (client.acked, len(sent)))
    check(sng.wait_stat("websocket", "processed", len(sent)) == len(sent), "processed != messages sent")
    check(sng.stop() == 0, "syslog-ng exited with an error")


def test_q_dest_acked_when_receiver_acks(ctx):
    """acknowledgements(yes) between two syslog-ng processes: the sender's destination
    acknowledges its queue (`written`) only once the receiving syslog-ng acknowledged the lines
    back to its source. The receiver's destination (a network() server) is down: the receiver
    holds all 50 lines, written to it long ago, and the sender's `written` stays 0 (without
    acknowledgements it would be 50); once the server is up and the receiver wrote them, it
    reaches 50."""
    down, ws_port, net = free_tcp_port(), free_tcp_port(), free_tcp_port()
    b = ctx.sng("receiver", """
source s_ws { websocket( address("127.0.0.1") port(%d) path("/") flags(no-parse) acknowledgements(yes) ); };
destination d_net { network("127.0.0.1" port(%d) transport(tcp) template("$MSG\n") time-reopen(1)); };
log { source(s_ws); destination(d_net); flags(flow-control); };
""" % (ws_port, down))
    b.start()
    a = ctx.sng("sender", net_source(net) + """
destination d_ws { websocket( address("127.0.0.1") port(%d) template("$MSG") acknowledgements(yes) ack-window(100) ); };
log { source(s_net); destination(d_ws); flags(flow-control); };
""" % ws_port)
    a.start()
    sent = lines("e2e", 50)
    tcp_send_lines(net, sent)
    processed = b.wait_stat("websocket", "processed", len(sent))
    check(processed == len(sent), "the receiver's source posted %s of %d lines" % (processed, len(sent)))
    b.wait_for(r"Syslog connection failed", start=b.mark())
    written = a.stat("websocket", "written")
    check(written == 0, "the sender acknowledged %s lines that the receiver had not stored" % written)
    conn = accept_late_server(ctx, down, 30)
    got = recv_lines(conn, b"", len(sent), "the receiver's network() destination")
    check(got.decode().splitlines() == sent, "the receiver wrote other lines: %r" % got[:200])
    written = a.wait_stat("websocket", "written", len(sent))
    check(written == len(sent), "the sender acknowledged %s of %d lines after the receiver stored them"
          % (written, len(sent)))
    check(a.stop() == 0, "the sender exited with an error")
    check(b.stop() == 0, "the receiver exited with an error")


TESTS = [test_a_dest_client, test_a_dest_client_full_engine_queue, test_a_dest_client_headers_order,
         test_b_dest_server_two_subscribers,
         test_b_dest_server_no_subscriber_wait,
         test_b_dest_server_slow_subscriber, test_c_source_to_file, test_c_short_lived_peer_sourceip,
         test_d_tls_dest_client,
         test_d_tls_source, test_e_server_down_then_up, test_e_disk_buffer_across_restart,
         test_f_reload_and_restart, test_g_bad_configs, test_h_original_configs, test_i_dest_client_workers,
         test_j_source_client_mode, test_k_metrics, test_l_source_auth_token, test_l_source_auth_token_file_reload,
         test_l_dest_server_allowed_origins, test_m_message_limits, test_n_trusted_proxies,
         test_o_dest_client_through_proxy, test_p_dest_client_acked_when_written,
         test_p_dest_client_reload_unacked, test_p_dest_client_kill9_reliable_disk_buffer,
         test_q_dest_server_replay_after_a_drop,
         test_q_compression,
         test_q_source_acks_when_syslog_ng_acks, test_q_source_window_bounds_batches,
         test_q_dest_acked_when_receiver_acks]


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    module_dir = os.path.abspath(sys.argv[1])
    wanted = sys.argv[2:]
    if ws_connect is None:
        print("SKIP: the Python package 'websockets' (>= 13) is not installed")
        return 77
    if shutil.which(SYSLOG_NG[0]) is None:
        print("SKIP: %s is not installed" % SYSLOG_NG[0])
        return 77
    sng_version = version_info().get("Installer-Version", "?")
    print("syslog-ng %s (%s), module %s" % (sng_version, " ".join(SYSLOG_NG), module_dir), flush=True)
    check(os.path.exists(os.path.join(module_dir, "libwebsocket.so")),
          "no libwebsocket.so in %s" % module_dir)
    root = os.environ.get("WS_SNG_WORKDIR") or tempfile.mkdtemp(prefix="ws-sng-")
    os.makedirs(root, exist_ok=True)
    passed, failed, skipped = run_tests(TESTS, wanted, root, lambda d: Ctx(d, module_dir))
    # One summary line, named after the syslog-ng under test unless WS_SNG_LABEL says otherwise.
    label = os.environ.get("WS_SNG_LABEL") or "syslog-ng %s" % sng_version
    print("%s: %d passed, %d failed%s" % (label, passed, failed,
                                          ", %d skipped" % skipped if skipped else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
