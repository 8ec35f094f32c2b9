#!/usr/bin/env python3
"""wss echo server for interoperability tests, using the `websockets` package (not our code).

Usage: wss_echo_server.py CERTDIR
Listens on 127.0.0.1, any free port, and prints the port on the first line of stdout. Uses
CERTDIR/server.pem + server.key and requires a client certificate signed by CERTDIR/ca.pem.
Echoes binary messages unchanged and text messages with " sni=<name>" appended, <name> being
the server name the client sent (SNI), or "none". Runs until killed.
"""
import asyncio
import os
import ssl
import sys

import websockets

sni_names = {}


def on_sni(sslobj, name, _ctx):
    sni_names[id(sslobj)] = name or "none"


async def handler(ws, _path=None):
    sslobj = ws.transport.get_extra_info("ssl_object")
    name = sni_names.get(id(sslobj), "none")
    async for msg in ws:
        if isinstance(msg, str):
            await ws.send(f"{msg} sni={name}")
        else:
            await ws.send(msg)


async def main(certdir):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(certdir, "server.pem"), os.path.join(certdir, "server.key"))
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(os.path.join(certdir, "ca.pem"))
    ctx.sni_callback = on_sni
    async with websockets.serve(handler, "127.0.0.1", 0, ssl=ctx, max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(port, flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
