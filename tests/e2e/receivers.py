"""Real receivers for the notification tests: an HTTP server (webhooks, Slack-compatible) and an SMTP server
(aiosmtpd), each on a port of its own that can be stopped and started again (a receiver that is down)."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpReceiver:
    """Records every POST; answers `fail_status` to the first `fail_first` of them (up but failing)."""

    port: int = field(default_factory=free_port)
    fail_first: int = 0
    fail_status: int = 503
    requests: list[Request] = field(default_factory=list)
    refused: int = 0
    _server: ThreadingHTTPServer | None = None

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    if receiver.refused < receiver.fail_first:
                        receiver.refused += 1
                        self.send_response(receiver.fail_status)
                    else:
                        receiver.requests.append(Request(self.path, dict(self.headers.items()), body))
                        self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _Collect:
    def __init__(self, messages: list[EmailMessage]) -> None:
        self.messages = messages

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802 - aiosmtpd's interface
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@dataclass
class SmtpReceiver:
    """A real SMTP server (aiosmtpd) keeping every message it accepts; with `credentials` it requires AUTH."""

    port: int = field(default_factory=free_port)
    credentials: tuple[str, str] | None = None
    messages: list[EmailMessage] = field(default_factory=list)
    _controller: Controller | None = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:  # noqa: ANN001
        ok = isinstance(auth_data, LoginPassword) and self.credentials == (
            auth_data.login.decode(), auth_data.password.decode())  # fmt: skip
        return AuthResult(success=ok, handled=False)

    def start(self) -> SmtpReceiver:
        auth = {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": False}
        self._controller = Controller(_Collect(self.messages), hostname="127.0.0.1", port=self.port,
                                      **(auth if self.credentials else {}))  # fmt: skip
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller:
            self._controller.stop()
            self._controller = None
