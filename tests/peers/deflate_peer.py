"""permessage-deflate peer for tests/deflate.rs, with Python's websockets (which negotiates
permessage-deflate by default).

  deflate_peer.py client URL N   sends N text messages, prints the extension the server
                                 agreed to, waits for "done" and prints it
  deflate_peer.py server         listens on 127.0.0.1 (port printed first), echoes every
                                 message of one connection until it closes
"""
import sys

from websockets.sync.client import connect
from websockets.sync.server import serve


def client(url, n):
    with connect(url, open_timeout=10, close_timeout=5) as ws:
        print("extensions", ws.response.headers.get("Sec-WebSocket-Extensions"), flush=True)
        for i in range(n):
            ws.send("py %d %s" % (i, "x" * (i % 50)))
        got = ws.recv(timeout=10)
        print("got", got, flush=True)


def server():
    def echo(ws):
        ext = ws.request.headers.get("Sec-WebSocket-Extensions", "")
        if "permessage-deflate" not in ext:
            raise SystemExit("client did not offer permessage-deflate: %r" % ext)
        for msg in ws:
            ws.send(msg)
        srv.shutdown()

    with serve(echo, "127.0.0.1", 0) as srv:
        print(srv.socket.getsockname()[1], flush=True)
        srv.serve_forever()


if __name__ == "__main__":
    if sys.argv[1] == "client":
        client(sys.argv[2], int(sys.argv[3]))
    else:
        server()
