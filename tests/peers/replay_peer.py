"""Replay subscriber for tests/combined.rs, with Python's websockets (which negotiates
permessage-deflate by default and checks the RSV1 rules strictly).

  replay_peer.py URL LAST   connects to URL (with ?since=N), prints the extension the server
                            agreed to, reads the replay metadata and then every broadcast up to
                            number LAST (each starts with its number, 8 digits), checking each
                            comes once and in order; prints "ok FIRST LAST"
"""
import json
import sys

from websockets.sync.client import connect


def main(url, last):
    with connect(url, open_timeout=10, close_timeout=5, max_size=1 << 20) as ws:
        print("extensions", ws.response.headers.get("Sec-WebSocket-Extensions"), flush=True)
        meta = json.loads(ws.recv(timeout=10))
        if meta.get("ws_api") != "replay" or meta.get("missed") != 0:
            raise SystemExit("bad metadata %r" % meta)
        first = want = meta["first"]
        while want <= last:
            msg = ws.recv(timeout=30)
            got = int(msg[:8])
            if got != want:
                raise SystemExit("got %d, wanted %d" % (got, want))
            want += 1
        print("ok", first, last, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
