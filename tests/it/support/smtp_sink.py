"""A loopback SMTP sink for the send_email tests (tests/it/send_email.rs).

Usage: smtp_sink.py OUTPUT_FILE. Listens on 127.0.0.1 on a free port, prints the port on its
first line of output, appends one JSON line per message received to OUTPUT_FILE
({"mail_from", "rcpt_tos", "data"}: the envelope and the message exactly as it arrived), and
exits when its standard input closes (the test ended). Needs aiosmtpd (pinned in the
Makefile's venv target).
"""

import asyncio
import json
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, path):
        self.path = path

    async def handle_DATA(self, server, session, envelope):
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.original_content.decode("utf-8", "replace"),
        }
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
        return "250 Message accepted"


async def main(path):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Sink(path), hostname="sink.test"), "127.0.0.1", 0
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
