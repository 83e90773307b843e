"""``email.*``: sending mail over SMTP."""

from __future__ import annotations

from flowpilot.stdlib.catalog._schemas import (
    array,
    connection,
    email,
    email_list,
    enum,
    file_list,
    integer,
    node_type,
    obj,
    secret_string,
    string,
    string_map,
    template,
    timeout_arg,
)
from flowpilot.stdlib.registry import Category, NodeType

_SMTP = obj(
    "SMTP server settings overriding those of the `smtp` credential (e.g. for a one-off relay).",
    {
        "host": string("SMTP host name.", minLength=1),
        "port": integer("SMTP port.", minimum=1, maximum=65535, default=587),
        "security": enum(
            "Transport security: STARTTLS upgrade, implicit TLS (port 465), or none.",
            ["starttls", "tls", "none"],
            default="starttls",
        ),
        "username": string("Login user name."),
        "password": secret_string("Login password."),
    },
    ["host"],
)

SEND = node_type(
    "email.send",
    category=Category.ACTION,
    summary="Send an email",
    description="""
Sends one email through the organization's SMTP server (the `smtp` credential) or the `smtp`
override. `subject`, `body` and `html` are templates; give `body` (plain text), `html`, or both
(a multipart/alternative message). `to`, `cc` and `bcc` take one address or a list.

Output: `{message_id, accepted, rejected}` — the Message-ID header and the recipients the server
accepted or refused.
""",
    inputs={
        "to": email_list("Recipient address(es)."),
        "cc": email_list("Carbon-copy address(es)."),
        "bcc": email_list("Blind carbon-copy address(es)."),
        "from": email("Sender address; defaults to the credential's sender."),
        "from_name": string("Display name of the sender.", examples=["FlowPilot Finance"]),
        "reply_to": email_list("Reply-To address(es)."),
        "subject": template("Subject line; a template.", minLength=1),
        "body": template("Plain-text body; a template."),
        "html": template("HTML body; a template (values are HTML-escaped)."),
        "attachments": file_list("Files to attach.", maxItems=50),
        "headers": string_map("Extra headers, e.g. `X-Ticket-Id`."),
        "priority": enum(
            "Message priority (X-Priority).", ["high", "normal", "low"], default="normal"
        ),
        "smtp": _SMTP,
        "connection": connection("smtp"),
        "timeout": timeout_arg("30s", "delivery attempt"),
    },
    required=["to", "subject"],
    output=obj(
        "Delivery result.",
        {
            "message_id": string("Message-ID header of the sent message."),
            "accepted": array(
                "Recipients the server accepted.", {"type": "string", "format": "email"}
            ),
            "rejected": array(
                "Recipients the server refused.", {"type": "string", "format": "email"}
            ),
        },
        ["message_id", "accepted", "rejected"],
    ),
    side_effects=True,
    credential="smtp",
    example="""
- id: notify
  uses: email.send
  with:
    to: ${{ inputs.requester }}
    cc: [finance@example.com]
    subject: "Invoice {{ steps.fields.output.number }} approved"
    body: |
      Hello,

      the invoice from {{ steps.fields.output.vendor }} over
      {{ steps.fields.output.total }} EUR was approved by {{ steps.approve.output.by }}.
    attachments: ["${{ inputs.document }}"]
""",
)

NODE_TYPES: list[NodeType] = [SEND]
