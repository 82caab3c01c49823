"""A real SMTP server on 127.0.0.1 for the accounts tests (aiosmtpd from PyPI).

Binds port 0, prints the port on stdout, writes each message it receives to DIR as
NNNN.eml (written to a temporary name first, then renamed), and exits when its stdin
closes (the test process dropped it).
"""
import asyncio
import os
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
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(spool, hostname="localhost"), "127.0.0.1", 0
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)


asyncio.run(main())
