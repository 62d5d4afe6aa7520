"""A real SMTP server on loopback (Debian's python3-aiosmtpd) that records every message.

    smtp_sink.py --log FILE [--user NAME --password SECRET] [--tls starttls|implicit]

Recipients whose local part starts with `tempfail` get `451` (try again later), with `reject`
`550` (no such user). With --user, AUTH (PLAIN/LOGIN, without TLS: loopback only) is required.
With --tls, a fresh test CA is written to ca.pem beside the log and the server offers STARTTLS
(`starttls`) or speaks TLS from the first byte (`implicit`, smtps).
Each accepted message becomes one JSON line: envelope, the headers that matter, and the decoded
text/plain and text/html parts (parsed by Python's email package, independently of Lookout).
"""
import argparse
import asyncio
import email
import email.policy
import os
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from fixture_common import Log, announce, exit_when_stdin_closes


class Recorder:
    def __init__(self, log):
        self.log = log

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0]
        if local.startswith("tempfail"):
            return "451 4.3.0 mailbox busy, try again later"
        if local.startswith("reject"):
            return "550 5.1.1 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        parts = {}
        for part in message.walk():
            if part.get_content_maintype() == "multipart":
                continue
            parts[part.get_content_type()] = {
                "content": part.get_content(),
                "charset": part.get_content_charset(),
                "encoding": part.get("Content-Transfer-Encoding"),
            }
        login = getattr(session, "lookout_login", None)
        tls = session.ssl is not None or getattr(server, "_lookout_implicit_tls", False)
        self.log.write(
            {
                "mailFrom": envelope.mail_from,
                "rcptTos": envelope.rcpt_tos,
                "login": login,
                "tls": tls,
                "from": str(message["From"]),
                "to": str(message["To"]),
                "subject": str(message["Subject"]),
                "date": str(message["Date"]),
                "messageId": str(message["Message-ID"]),
                "idempotencyKey": str(message["X-Lookout-Idempotency-Key"]),
                "contentType": message.get_content_type(),
                "text": parts.get("text/plain", {}).get("content"),
                "html": parts.get("text/html", {}).get("content"),
                "partEncodings": sorted(p["encoding"] or "" for p in parts.values()),
                "longestLine": max(len(line) for line in raw.split(b"\r\n")),
            }
        )
        return "250 2.0.0 message accepted"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--tls", choices=["starttls", "implicit"])
    args = parser.parse_args()
    # "AUTH without TLS" is what this loopback sink is for.
    warnings.filterwarnings("ignore")
    handler = Recorder(Log(args.log))

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == args.user.encode()
            and auth_data.password == args.password.encode()
        )
        if ok:
            session.lookout_login = auth_data.login.decode("utf-8", "replace")
        return AuthResult(success=ok, handled=False)

    context = None
    if args.tls:
        from test_tls import server_context

        context = server_context(os.path.dirname(os.path.abspath(args.log)))

    def factory():
        options = {"hostname": "sink.test"}
        if args.user:
            options.update(authenticator=authenticator, auth_required=True, auth_require_tls=False)
        if args.tls == "starttls":
            options.update(tls_context=context, require_starttls=False)
        smtp = SMTP(handler, **options)
        smtp._lookout_implicit_tls = args.tls == "implicit"
        return smtp

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    ssl_context = context if args.tls == "implicit" else None
    server = loop.run_until_complete(loop.create_server(factory, "127.0.0.1", 0, ssl=ssl_context))
    announce(server.sockets[0].getsockname()[1])
    exit_when_stdin_closes(lambda: None)
    loop.run_forever()


if __name__ == "__main__":
    main()
