"""A real SMTP server on 127.0.0.1 for the accounts tests (aiosmtpd from PyPI).

Usage: smtp_server.py DIR [starttls|tls CERT KEY]

Binds port 0, prints the port on stdout, writes each message it receives to DIR as
NNNN.eml (written to a temporary name first, then renamed), and exits when its stdin
closes (the test process dropped it). With `starttls` it offers and requires STARTTLS; with
`tls` it speaks TLS from the first byte; both with the given certificate and key.
"""
import asyncio
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP


class Spool:
    def __init__(self, folder):
        self.folder = folder
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = os.path.join(self.folder, "%04d.eml" % self.count)
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".tmp", path)
        return "250 OK"


async def main():
    spool = Spool(sys.argv[1])
    mode = sys.argv[2] if len(sys.argv) > 2 else "plain"
    context = None
    if mode in ("starttls", "tls"):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[3], sys.argv[4])
    loop = asyncio.get_running_loop()
    if mode == "starttls":
        factory = lambda: SMTP(
            spool, hostname="localhost", tls_context=context, require_starttls=True
        )
        server = await loop.create_server(factory, "127.0.0.1", 0)
    elif mode == "tls":
        factory = lambda: SMTP(spool, hostname="localhost")
        server = await loop.create_server(factory, "127.0.0.1", 0, ssl=context)
    else:
        factory = lambda: SMTP(spool, hostname="localhost")
        server = await loop.create_server(factory, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)


asyncio.run(main())
