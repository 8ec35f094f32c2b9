#!/usr/bin/env python3
"""wss client for interoperability tests, using the `websockets` package (not our code).

Usage: wss_client.py URL CERTDIR COUNT
Verifies the server against CERTDIR/ca.pem (host name included), presents CERTDIR/client.pem,
sends COUNT text messages "py 0", "py 1", ..., then waits for one message, prints
"got <message>" and closes normally. Exit status 0 on success.
"""
import asyncio
import os
import ssl
import sys

import websockets


async def main(url, certdir, count):
    ctx = ssl.create_default_context(cafile=os.path.join(certdir, "ca.pem"))
    ctx.load_cert_chain(os.path.join(certdir, "client.pem"), os.path.join(certdir, "client.key"))
    async with websockets.connect(url, ssl=ctx, max_size=None) as ws:
        for i in range(count):
            await ws.send(f"py {i}")
        msg = await asyncio.wait_for(ws.recv(), timeout=20)
        print(f"got {msg}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
