"""A local SMTP server that keeps every message, for Alertmanager's email notifier: the
commands Go's net/smtp client sends (EHLO, AUTH PLAIN with its initial response, MAIL, RCPT,
DATA, QUIT; RFC 5321 and RFC 4616), answered with the codes those RFCs give. It advertises
AUTH PLAIN and no STARTTLS, so a receiver with `require_tls: false` signs in over plain TCP
(Go allows PLAIN unencrypted only to localhost). Standard library only."""

from __future__ import annotations

import base64
import socketserver
import threading
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message


class SmtpSink:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.logins: list[tuple[str, str]] = []
        self.changed = threading.Condition()
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 lab-sink ESMTP")
                while line := self.rfile.readline():
                    command = line.decode(errors="replace").rstrip("\r\n")
                    verb = command.split(" ", 1)[0].upper()
                    if verb == "EHLO":
                        self.reply("250-lab-sink")
                        self.reply("250 AUTH PLAIN")
                    elif verb == "HELO":
                        self.reply("250 lab-sink")
                    elif verb == "AUTH":
                        _auth, mechanism, *initial = command.split(" ")
                        if mechanism.upper() != "PLAIN" or not initial:
                            self.reply("504 5.5.4 only PLAIN with an initial response")
                            continue
                        _zid, user, password = base64.b64decode(initial[0]).decode().split("\0")
                        with sink.changed:
                            sink.logins.append((user, password))
                        self.reply("235 2.7.0 Authentication successful")
                    elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                        self.reply("250 2.0.0 OK")
                    elif verb == "DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        body = []
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            body.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                        with sink.changed:
                            sink.messages.append(message_from_bytes(b"".join(body)))
                            sink.changed.notify_all()
                        self.reply("250 2.0.0 queued")
                    elif verb == "QUIT":
                        self.reply("221 2.0.0 Bye")
                        return
                    else:
                        self.reply("502 5.5.2 command not recognized")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> SmtpSink:
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def wait_for(self, found, timeout: float = 20) -> list[Message]:
        with self.changed:
            if not self.changed.wait_for(lambda: found(self.messages), timeout=timeout):
                raise AssertionError(f"no such mail within {timeout} s: {self.subjects()}")
            return list(self.messages)

    def subjects(self) -> list[str]:
        """Each subject as a reader sees it (Alertmanager may MIME-encode it, RFC 2047)."""
        return [str(make_header(decode_header(m["Subject"] or ""))) for m in self.messages]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
