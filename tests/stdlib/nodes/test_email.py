"""``email.send`` against a real aiosmtpd server on 127.0.0.1 (STARTTLS, implicit TLS, AUTH)."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from flowpilot.stdlib.errors import CredentialMissing, InvalidNodeInput, NodeError
from flowpilot.stdlib.nodes.email import message_id

from .conftest import Certificate, Recorder, run_node

PASSWORD = "s3cret-Passw0rd"
USER = "robot@example.com"


@dataclass
class Mailbox:
    """The aiosmtpd handler: records what it receives; refuses recipients by local part."""

    messages: list[tuple[str, list[str], email.message.EmailMessage]] = field(default_factory=list)
    data_reply: str = "250 OK"
    quit_reply: str = "221 Bye"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        if address.startswith("later@"):
            return "450 4.2.1 mailbox busy"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_QUIT(self, server, session, envelope):
        return self.quit_reply

    async def handle_DATA(self, server, session, envelope):
        if not self.data_reply.startswith("250"):
            return self.data_reply
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)  # unhandled: aiosmtpd answers 535 itself


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class SmtpServer:
    mailbox: Mailbox
    port: int


@contextmanager
def smtp_server(
    cert: Certificate | None = None, *, implicit_tls: bool = False
) -> Iterator[SmtpServer]:
    mailbox = Mailbox()
    port = _free_port()
    kwargs: dict[str, Any] = {"authenticator": _authenticate}
    if cert is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert.cert, cert.key)
        if implicit_tls:
            # aiosmtpd only counts STARTTLS as TLS when deciding whether to offer AUTH.
            kwargs.update(ssl_context=context, auth_require_tls=False)
        else:
            kwargs.update(tls_context=context, require_starttls=True)
    else:
        kwargs["auth_require_tls"] = False
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield SmtpServer(mailbox, port)
    finally:
        controller.stop()


@pytest.fixture
def starttls_server(self_signed: Certificate) -> Iterator[SmtpServer]:
    with smtp_server(self_signed) as server:
        yield server


@pytest.fixture
def plain_server() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


def _credential(server: SmtpServer, cert: Certificate, **extra: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": server.port,
        "security": "starttls",
        "username": USER,
        "password": PASSWORD,
        "from": "finance@example.com",
        "ca_cert": cert.pem,
        **extra,
    }


def test_sends_multipart_mail_over_starttls_with_auth(
    starttls_server: SmtpServer, self_signed: Certificate, recorder: Recorder
) -> None:
    recorder.credentials[("smtp", None)] = _credential(starttls_server, self_signed)
    recorder.files["doc"] = b"%PDF-1.7 invoice"
    out = run_node(
        "email.send",
        {
            "to": "requester@example.com",
            "cc": ["finance@example.org"],
            "bcc": "audit@example.com",
            "reply_to": "help@example.com",
            "from_name": "FlowPilot Finance",
            "subject": "Invoice 42 approved\n",
            "body": "Hello,\n\nthe invoice was approved.\n",
            "html": "<p>Hello,</p><p>the invoice was <b>approved</b>.</p>",
            "attachments": [
                {"id": "doc", "name": "invoice-42.pdf", "mime_type": "application/pdf", "size": 16}
            ],
            "headers": {"X-Ticket-Id": "T-9"},
            "priority": "high",
        },
        recorder.context(),
    )
    [(sender, recipients, message)] = starttls_server.mailbox.messages
    assert sender == "finance@example.com"
    assert recipients == ["requester@example.com", "finance@example.org", "audit@example.com"]
    assert message["From"] == "FlowPilot Finance <finance@example.com>"
    assert message["To"] == "requester@example.com" and message["Cc"] == "finance@example.org"
    assert message["Bcc"] is None  # blind copies stay blind
    assert message["Reply-To"] == "help@example.com"
    assert message["Subject"] == "Invoice 42 approved"
    assert message["X-Priority"] == "1 (Highest)" and message["X-Ticket-Id"] == "T-9"
    assert message["Message-ID"] == out["message_id"] == "<fp.ex-1=3Asend=3A1@example.com>"
    assert message.get_content_type() == "multipart/mixed"
    plain = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert plain == "Hello,\n\nthe invoice was approved.\n"
    assert "<b>approved</b>" in message.get_body(("html",)).get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "invoice-42.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == b"%PDF-1.7 invoice"
    assert out["accepted"] == recipients and out["rejected"] == []


def test_redelivered_attempts_reuse_the_message_id() -> None:
    assert message_id("ex-1:send:1", "a@example.com") == message_id("ex-1:send:1", "b@example.com")
    assert message_id("a:b", "x@d.com") != message_id("a-b", "x@d.com")
    assert message_id("k=1 é", "x@d.com") == "<fp.k=3D1=20=C3=A9@d.com>"


def test_html_only_and_plain_only(plain_server: SmtpServer, recorder: Recorder) -> None:
    smtp = {"host": "127.0.0.1", "port": plain_server.port, "security": "none"}
    base = {"to": "a@example.com", "from": "me@example.com", "subject": "s", "smtp": smtp}
    run_node("email.send", {**base, "html": "<p>hi</p>"}, recorder.context())
    run_node("email.send", {**base, "body": "hi", "priority": "low"}, recorder.context())
    (_, _, html), (_, _, plain) = plain_server.mailbox.messages
    assert html.get_content_type() == "text/html" and html["X-Priority"] is None
    assert plain.get_content_type() == "text/plain" and plain["X-Priority"] == "5 (Lowest)"


def test_smtp_argument_replaces_the_credential(plain_server: SmtpServer) -> None:
    ctx = Recorder().context()  # no smtp credential at all
    smtp = {"host": "127.0.0.1", "port": plain_server.port, "security": "none"}
    with pytest.raises(InvalidNodeInput, match="no sender"):
        run_node(
            "email.send", {"to": "a@example.com", "subject": "s", "body": "b", "smtp": smtp}, ctx
        )
    with pytest.raises(CredentialMissing):
        run_node("email.send", {"to": "a@example.com", "subject": "s", "body": "b"}, ctx)


def test_wrong_password_is_a_non_retryable_auth_error(
    starttls_server: SmtpServer, self_signed: Certificate, recorder: Recorder
) -> None:
    wrong = "Wr0ng-" + PASSWORD
    recorder.credentials[("smtp", "relay")] = _credential(
        starttls_server, self_signed, password=wrong
    )
    with pytest.raises(NodeError) as info:
        run_node(
            "email.send",
            {"to": "a@example.com", "subject": "s", "body": "b", "connection": "relay"},
            recorder.context(),
        )
    assert info.value.type == "auth_error" and not info.value.retryable
    assert "authentication failed" in info.value.message and "535" in info.value.message
    assert wrong not in info.value.message and starttls_server.mailbox.messages == []


def test_untrusted_certificate_is_a_tls_error(
    starttls_server: SmtpServer, self_signed: Certificate, recorder: Recorder
) -> None:
    credential = _credential(starttls_server, self_signed)
    del credential["ca_cert"]
    recorder.credentials[("smtp", None)] = credential
    with pytest.raises(NodeError) as info:
        run_node(
            "email.send", {"to": "a@example.com", "subject": "s", "body": "b"}, recorder.context()
        )
    assert info.value.type == "tls_error" and not info.value.retryable


def test_implicit_tls(self_signed: Certificate, recorder: Recorder) -> None:
    with smtp_server(self_signed, implicit_tls=True) as server:
        recorder.credentials[("smtp", None)] = _credential(server, self_signed, security="tls")
        out = run_node(
            "email.send", {"to": "a@example.com", "subject": "s", "body": "b"}, recorder.context()
        )
        assert out["accepted"] == ["a@example.com"] and len(server.mailbox.messages) == 1


def test_refused_recipients(plain_server: SmtpServer, recorder: Recorder) -> None:
    smtp = {"host": "127.0.0.1", "port": plain_server.port, "security": "none"}
    base = {"from": "me@example.com", "subject": "s", "body": "b", "smtp": smtp}
    out = run_node(
        "email.send", {**base, "to": ["ok@example.com", "nobody@example.com"]}, recorder.context()
    )
    assert out["accepted"] == ["ok@example.com"] and out["rejected"] == ["nobody@example.com"]

    with pytest.raises(NodeError) as info:
        run_node("email.send", {**base, "to": "nobody@example.com"}, recorder.context())
    assert info.value.type == "smtp_error" and not info.value.retryable
    assert "nobody@example.com: 550" in info.value.message
    with pytest.raises(NodeError) as info:
        run_node("email.send", {**base, "to": "later@example.com"}, recorder.context())
    assert info.value.retryable


@pytest.mark.parametrize(
    ("reply", "retryable"), [("451 4.3.0 try later", True), ("554 5.7.1 spam", False)]
)
def test_data_rejected(
    plain_server: SmtpServer, recorder: Recorder, reply: str, retryable: bool
) -> None:
    plain_server.mailbox.data_reply = reply
    smtp = {"host": "127.0.0.1", "port": plain_server.port, "security": "none"}
    with pytest.raises(NodeError) as info:
        run_node(
            "email.send",
            {
                "to": "a@example.com",
                "from": "me@example.com",
                "subject": "s",
                "body": "b",
                "smtp": smtp,
            },
            recorder.context(),
        )
    assert info.value.type == "smtp_error" and info.value.retryable is retryable
    assert reply.split(" ", 1)[1] in info.value.message


def test_unreachable_server_is_retryable(closed_port: int, recorder: Recorder) -> None:
    smtp = {"host": "127.0.0.1", "port": closed_port, "security": "none", "password": PASSWORD}
    with pytest.raises(NodeError) as info:
        run_node(
            "email.send",
            {
                "to": "a@example.com",
                "from": "me@example.com",
                "subject": "s",
                "body": "b",
                "smtp": smtp,
            },
            recorder.context(),
        )
    assert info.value.type == "connection" and info.value.retryable
    assert f"127.0.0.1:{closed_port}" in info.value.message and PASSWORD not in info.value.message


def test_bad_headers_and_missing_body_are_refused_before_connecting(recorder: Recorder) -> None:
    smtp = {"host": "127.0.0.1", "port": 1, "security": "none"}
    base = {"to": "a@example.com", "from": "me@example.com", "subject": "s", "smtp": smtp}
    with pytest.raises(InvalidNodeInput, match="`body`, `html`"):
        run_node("email.send", base, recorder.context())
    with pytest.raises(InvalidNodeInput, match="header 'Subject'"):
        run_node(
            "email.send", {**base, "body": "b", "headers": {"Subject": "x"}}, recorder.context()
        )
    with pytest.raises(InvalidNodeInput, match="invalid header"):
        run_node(
            "email.send",
            {**base, "body": "b", "headers": {"X-Id": "1\r\nBcc: victim@example.com"}},
            recorder.context(),
        )


def test_a_failing_quit_after_delivery_does_not_fail_the_step(
    plain_server: SmtpServer, recorder: Recorder
) -> None:
    # The message is already delivered; failing the step would make a retry send it again.
    plain_server.mailbox.quit_reply = "500 confused"
    smtp = {"host": "127.0.0.1", "port": plain_server.port, "security": "none"}
    out = run_node(
        "email.send",
        {
            "to": "a@example.com",
            "from": "me@example.com",
            "subject": "s",
            "body": "b",
            "smtp": smtp,
        },
        recorder.context(),
    )
    assert out["accepted"] == ["a@example.com"] and len(plain_server.mailbox.messages) == 1


def test_credential_sender_with_display_name(
    starttls_server: SmtpServer, self_signed: Certificate, recorder: Recorder
) -> None:
    recorder.credentials[("smtp", None)] = _credential(
        starttls_server, self_signed, **{"from": "Billing Robot <billing@example.com>"}
    )
    out = run_node(
        "email.send", {"to": "a@example.com", "subject": "s", "body": "b"}, recorder.context()
    )
    [(sender, _, message)] = starttls_server.mailbox.messages
    assert sender == "billing@example.com"
    assert message["From"] == "Billing Robot <billing@example.com>"
    assert out["message_id"].endswith("@example.com>")
