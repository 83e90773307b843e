"""``email.send`` over SMTP (smtplib).

Server settings come from the ``smtp`` argument or, when it is absent, from the ``smtp``
credential (keys ``host``, ``port``, ``security`` — ``starttls|tls|none`` —, ``username``,
``password``, ``from``, and optionally ``from_name`` and ``ca_cert``, a PEM bundle for relays
with a private CA). The ``smtp`` argument replaces the credential entirely, so a stored password
is never sent to a host named in a flow. The Message-ID embeds the step attempt's idempotency
key: a redelivered attempt sends the same Message-ID, which lets mail systems drop the
duplicate.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowpilot.stdlib.context import NodeContext
from flowpilot.stdlib.errors import InvalidNodeInput, NodeError
from flowpilot.stdlib.nodes._http import duration_seconds, redact, secret_variants

if TYPE_CHECKING:
    from email.message import EmailMessage

_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
_PRIORITIES = {"high": ("1 (Highest)", "high"), "low": ("5 (Lowest)", "low")}
# Headers the node writes itself; setting them through `headers` would contradict the arguments.
_RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        "From", "To", "Cc", "Bcc", "Reply-To", "Subject", "Date", "Message-ID",
        "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "X-Priority", "Importance",
    )
)  # fmt: skip
_NOT_ATEXT = re.compile(rb"[^A-Za-z0-9_-]")


def email_send(ctx: NodeContext, args: dict[str, Any]) -> dict[str, Any]:
    settings = _settings(ctx, args)
    secrets = secret_variants(settings.get("password"))
    sender = args.get("from")
    default_name = settings.get("from_name")
    if not sender and settings.get("from"):
        from email.utils import parseaddr

        # A credential may hold `Name <address>`.
        name, sender = parseaddr(settings["from"])
        default_name = default_name or name or None
    if not sender:
        raise InvalidNodeInput(
            "email.send: no sender: give `from`, or set `from` on the smtp credential",
            field="with.from",
        )
    message = _build_message(ctx, args, sender, default_name)
    recipients = _unique(
        _addresses(args.get("to")) + _addresses(args.get("cc")) + _addresses(args.get("bcc"))
    )
    timeout = ctx.remaining(duration_seconds(args.get("timeout", "30s")))
    refused = _deliver(settings, message, sender, recipients, timeout, secrets)
    return {
        "message_id": message["Message-ID"],
        "accepted": [r for r in recipients if r not in refused],
        "rejected": [r for r in recipients if r in refused],
    }


def _settings(ctx: NodeContext, args: Mapping[str, Any]) -> dict[str, Any]:
    if args.get("smtp"):
        settings = dict(args["smtp"])
    else:
        settings = dict(ctx.credential("smtp", args.get("connection")))
        if not settings.get("host"):
            raise NodeError(
                "email.send: the smtp credential has no `host`",
                type="credential_invalid",
                retryable=False,
            )
    settings.setdefault("security", "starttls")
    settings.setdefault("port", _DEFAULT_PORTS.get(settings["security"], 587))
    return settings


def _addresses(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _unique(addresses: list[str]) -> list[str]:
    seen: set[str] = set()
    kept = []
    for address in addresses:
        if address.lower() not in seen:
            seen.add(address.lower())
            kept.append(address)
    return kept


def message_id(idempotency_key: str, sender: str) -> str:
    """``<fp.KEY@DOMAIN>``: KEY is the idempotency key (escaped), DOMAIN the sender's domain."""
    escaped = _NOT_ATEXT.sub(lambda m: f"={m.group(0)[0]:02X}".encode(), idempotency_key.encode())
    domain = sender.rpartition("@")[2] or "flowpilot.invalid"
    return f"<fp.{escaped.decode('ascii')}@{domain}>"


def _build_message(
    ctx: NodeContext, args: Mapping[str, Any], sender: str, default_name: str | None
) -> EmailMessage:
    from email.message import EmailMessage
    from email.utils import formataddr, formatdate

    if not (args.get("body") or args.get("html")):
        raise InvalidNodeInput("email.send: give `body`, `html` or both", field="with.body")
    message = EmailMessage()
    try:
        name = args.get("from_name") or default_name
        message["From"] = formataddr((name, sender)) if name else sender
        message["To"] = ", ".join(_addresses(args["to"]))
        if args.get("cc"):
            message["Cc"] = ", ".join(_addresses(args["cc"]))
        if args.get("reply_to"):
            message["Reply-To"] = ", ".join(_addresses(args["reply_to"]))
        # A rendered template easily ends with a newline; a subject is one line.
        message["Subject"] = " ".join(args["subject"].split())
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = message_id(ctx.idempotency_key, sender)
        priority = _PRIORITIES.get(args.get("priority", "normal"))
        if priority:
            message["X-Priority"], message["Importance"] = priority
        for header, value in (args.get("headers") or {}).items():
            if header.lower() in _RESERVED_HEADERS:
                raise InvalidNodeInput(
                    f"email.send: header {header!r} is set from the arguments; use the "
                    "matching argument instead",
                    field=f"with.headers.{header}",
                )
            message[header] = value
    except ValueError as exc:  # CR/LF in a header value: refuse rather than inject headers
        raise InvalidNodeInput(f"email.send: invalid header value: {exc}") from None
    if args.get("body") and args.get("html"):
        message.set_content(args["body"])
        message.add_alternative(args["html"], subtype="html")
    elif args.get("html"):
        message.set_content(args["html"], subtype="html")
    else:
        message.set_content(args["body"])
    for ref in args.get("attachments") or []:
        maintype, _, subtype = (ref.get("mime_type") or "").partition("/")
        if not maintype or not subtype:
            maintype, subtype = "application", "octet-stream"
        message.add_attachment(
            ctx.read_file(ref), maintype=maintype, subtype=subtype, filename=ref["name"]
        )
    return message


def _deliver(
    settings: Mapping[str, Any],
    message: EmailMessage,
    sender: str,
    recipients: list[str],
    timeout: float,
    secrets: tuple[str, ...],
) -> dict[str, Any]:
    import smtplib
    import socket
    import ssl

    host, port, security = settings["host"], int(settings["port"]), settings["security"]
    where = f"SMTP server {host}:{port}"
    context = ssl.create_default_context()
    if settings.get("ca_cert"):
        context.load_verify_locations(cadata=settings["ca_cert"])
    local_name = socket.gethostname() or "flowpilot"
    try:
        if security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=timeout, context=context, local_hostname=local_name
            )
        else:
            client = smtplib.SMTP(host, port, timeout=timeout, local_hostname=local_name)
        try:
            if security == "starttls":
                client.starttls(context=context)
            if settings.get("username"):
                client.login(settings["username"], settings.get("password") or "")
            refused = client.send_message(message, from_addr=sender, to_addrs=recipients)
        finally:
            _close(client)
        return refused
    except smtplib.SMTPAuthenticationError as exc:
        raise NodeError(
            f"{where}: authentication failed ({_reply(exc, secrets)})",
            type="auth_error",
            retryable=False,
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise NodeError(
            f"{where}: {redact(str(exc), secrets)} (check `security` and the login settings)",
            type="smtp_error",
            retryable=False,
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise NodeError(
            f"{where}: every recipient was refused: "
            + "; ".join(f"{r}: {c} {_text(m, secrets)}" for r, (c, m) in exc.recipients.items()),
            type="smtp_error",
            retryable=all(400 <= c < 500 for c in codes),
            data={"rejected": sorted(exc.recipients), "codes": codes},
        ) from None
    except smtplib.SMTPResponseException as exc:
        raise NodeError(
            f"{where}: {exc.smtp_code} {_text(exc.smtp_error, secrets)}",
            type="smtp_error",
            retryable=400 <= exc.smtp_code < 500,
            data={"code": exc.smtp_code},
        ) from None
    except ssl.SSLCertVerificationError as exc:
        raise NodeError(
            f"{where}: the server's TLS certificate is not trusted ({exc.verify_message})",
            type="tls_error",
            retryable=False,
        ) from None
    except TimeoutError:
        raise NodeError(f"{where}: timed out", type="timeout") from None
    except smtplib.SMTPServerDisconnected as exc:
        raise NodeError(
            f"{where}: the server closed the connection ({redact(str(exc), secrets)})",
            type="connection",
        ) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise NodeError(
            f"{where}: connection failed ({redact(str(exc) or type(exc).__name__, secrets)})",
            type="connection",
        ) from None


def _close(client: Any) -> None:
    """QUIT politely; the mail is already sent, so a failing QUIT must not fail the step (a
    retry would send it twice)."""
    import smtplib

    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _text(reply: bytes | str, secrets: tuple[str, ...]) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return redact(" ".join(text.split()), secrets)


def _reply(exc: Any, secrets: tuple[str, ...]) -> str:
    return f"{exc.smtp_code} {_text(exc.smtp_error, secrets)}"


IMPLEMENTATIONS = {"email.send": email_send}
