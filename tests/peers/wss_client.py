#!/usr/bin/env python3
"""wss client for interoperability tests, using the `websockets` package (not our code).

Usage: wss_client.py URL CERTDIR COUNT
Verifies the server against CERTDIR/ca.pem (host name included), presents CERTDIR/client.pem,
sends COUNT text messages "py 0", "py 1", ..., then waits for one message, prints
"got <message>" and closes normally. Exit status 0 on success.
"""
import os
import ssl
import sys

from websockets.sync.client import connect


def main(url, certdir, count):
    ctx = ssl.create_default_context(cafile=os.path.join(certdir, "ca.pem"))
    ctx.load_cert_chain(os.path.join(certdir, "client.pem"), os.path.join(certdir, "client.key"))
    # The synchronous client reads until the server's EOF after the closing handshake, so its
    # OpenSSL reacts to the server ending TLS without close_notify (see tests/tls.rs).
    with connect(url, ssl=ctx, max_size=None) as ws:
        for i in range(count):
            ws.send(f"py {i}")
        msg = ws.recv(timeout=20)
        print(f"got {msg}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
