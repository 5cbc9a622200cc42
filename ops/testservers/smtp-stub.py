#!/usr/bin/env python3
"""Local SMTP relays for Ferry's tests (aiosmtpd), standing in for a real mail relay.

Two relays:
  --port        accepts mail without authentication
  --auth-port   requires AUTH PLAIN/LOGIN as ferry / relay-secret (no TLS: loopback only)
Both reject any recipient whose local part starts with "reject" (550 5.1.1), answer the first
RCPT for each address whose local part starts with "busy" with 421 4.7.0 (try again later) and
accept it afterwards, and write each
accepted message to --maildir as <n>.eml, with the envelope in a first "X-Envelope" line pair.
"""
import argparse
import asyncio
import itertools
import os
import signal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = b"ferry", b"relay-secret"
counter = itertools.count(1)


class Relay:
    def __init__(self, maildir):
        self.maildir = maildir
        self.busy_seen = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        if local.startswith("busy") and address.lower() not in self.busy_seen:
            self.busy_seen.add(address.lower())
            return "421 4.7.0 <%s>: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(counter)
        path = os.path.join(self.maildir, "%06d-%d.eml" % (os.getpid(), n))
        header = "X-Envelope-From: %s\r\nX-Envelope-To: %s\r\n" % (envelope.mail_from, ", ".join(envelope.rcpt_tos))
        with open(path + ".tmp", "wb") as f:
            f.write(header.encode() + envelope.original_content)
        os.rename(path + ".tmp", path)
        return "250 Message accepted for delivery"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER and auth_data.password == PASSWORD
    return AuthResult(success=ok, handled=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=12525)
    parser.add_argument("--auth-port", type=int, default=12526)
    parser.add_argument("--maildir", required=True)
    args = parser.parse_args()
    os.makedirs(args.maildir, exist_ok=True)
    relay = Relay(args.maildir)
    open_relay = Controller(relay, hostname="127.0.0.1", port=args.port)
    auth_relay = Controller(
        relay, hostname="127.0.0.1", port=args.auth_port,
        authenticator=authenticate, auth_required=True, auth_require_tls=False,
    )
    open_relay.start()
    auth_relay.start()
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    open_relay.stop()
    auth_relay.stop()


if __name__ == "__main__":
    main()
