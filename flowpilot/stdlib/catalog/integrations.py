"""Messaging, support and generic outbound integrations: ``webhook.*``, ``twilio.*``,
``zendesk.*``.

Vendor integrations with several nodes live in their own modules (``crm``, ``devtools``,
``workspace``), all listed in :data:`flowpilot.stdlib.registry.BUILTIN_MODULES`.
"""

from __future__ import annotations

from flowpilot.stdlib.catalog._schemas import (
    HEADERS,
    any_value,
    array,
    boolean,
    connection,
    enum,
    integer,
    node_type,
    nullable,
    number,
    obj,
    open_object,
    secret_string,
    string,
    template,
    timeout_arg,
    uri,
)
from flowpilot.stdlib.registry import Category, NodeType

WEBHOOK_SEND = node_type(
    "webhook.send",
    category=Category.INTEGRATION,
    summary="Deliver a signed webhook event",
    description="""
POSTs `payload` as JSON to `url`, the way SaaS products deliver webhooks: with an event type,
a unique delivery id, a timestamp and — when `signing_secret` is given — an HMAC-SHA256
signature of `<timestamp>.<body>` in the `X-FlowPilot-Signature` header, so the receiver can
verify the sender. Any non-2xx answer fails the step (retry it with `retry`).

Output: `{status, delivery_id, elapsed_ms}`.
""",
    inputs={
        "url": uri("Receiver endpoint."),
        "event": string("Event type, sent as `X-FlowPilot-Event`.", examples=["invoice.approved"]),
        "payload": any_value("The JSON body."),
        "signing_secret": secret_string("Key for the HMAC-SHA256 signature."),
        "headers": HEADERS,
        "timeout": timeout_arg("15s"),
    },
    required=["url", "payload"],
    output=obj(
        "The delivery.",
        {
            "status": integer("HTTP status returned by the receiver.", minimum=100, maximum=599),
            "delivery_id": string("Unique id of this delivery (`X-FlowPilot-Delivery`)."),
            "elapsed_ms": number("Round-trip time in ms.", minimum=0),
        },
        ["status", "delivery_id", "elapsed_ms"],
    ),
    side_effects=True,
    example="""
- id: notify_partner
  uses: webhook.send
  with:
    url: https://partner.example.com/hooks/flowpilot
    event: invoice.approved
    payload:
      invoice: ${{ steps.fields.output.number }}
      approved_by: ${{ steps.approve.output.by }}
    signing_secret: ${{ secrets.PARTNER_HOOK_SECRET }}
""",
)

_E164 = {"type": "string", "pattern": r"^\+[1-9][0-9]{6,14}$"}

TWILIO_SMS = node_type(
    "twilio.send_sms",
    category=Category.INTEGRATION,
    summary="Send an SMS or WhatsApp message with Twilio",
    description="""
Sends `body` (a template) to `to` (E.164 phone number) from `from` or the credential's
messaging service. Set `channel: whatsapp` for WhatsApp (pre-approved templates apply outside
the 24-hour session window). `media_urls` make it an MMS.

Output: `{sid, status, segments}`.
""",
    inputs={
        "to": _E164 | {"description": "Recipient phone number in E.164 format (`+4915112345678`)."},
        "body": template("Message text; a template.", minLength=1, maxLength=1600),
        "from": _E164
        | {"description": "Sender number; the credential's messaging service when omitted."},
        "channel": enum("Delivery channel.", ["sms", "whatsapp"], default="sms"),
        "media_urls": array(
            "Images to attach (MMS / WhatsApp).", {"type": "string", "format": "uri"}, maxItems=10
        ),
        "status_callback": uri("URL Twilio calls with delivery status updates."),
        "connection": connection("twilio"),
    },
    required=["to", "body"],
    output=obj(
        "The queued message.",
        {
            "sid": string("Message SID (`SM…`)."),
            "status": enum(
                "Status at the time of the answer.",
                ["accepted", "queued", "sending", "sent", "delivered", "undelivered", "failed"],
            ),
            "segments": integer("SMS segments billed.", minimum=0),
        },
        ["sid", "status", "segments"],
    ),
    side_effects=True,
    credential="twilio",
    example="""
- id: sms
  uses: twilio.send_sms
  with:
    to: ${{ inputs.on_call_phone }}
    body: "ALERT: {{ steps.check.output.failed }} payments failed"
""",
)

ZENDESK_TICKET = node_type(
    "zendesk.create_ticket",
    category=Category.INTEGRATION,
    summary="Create a Zendesk support ticket",
    description="""
Creates a ticket on behalf of `requester_email` (created as an end user if unknown) with a
first comment (`body`, a template), priority, type, tags and custom fields.

Output: `{id, url, status}`.
""",
    inputs={
        "subject": template("Ticket subject; a template.", minLength=1),
        "body": template("First comment; a template.", minLength=1),
        "requester_email": string("Requester's email address.", format="email"),
        "requester_name": string("Requester's name, used when creating the user."),
        "priority": enum("Priority.", ["low", "normal", "high", "urgent"], default="normal"),
        "type": enum("Ticket type.", ["question", "incident", "problem", "task"]),
        "tags": array("Tags.", {"type": "string", "pattern": r"^\S+$"}),
        "group_id": integer("Group to assign."),
        "custom_fields": open_object("Custom field values by field id."),
        "public": boolean("Whether the first comment is visible to the requester.", default=True),
        "connection": connection("zendesk"),
    },
    required=["subject", "body"],
    output=obj(
        "The ticket.",
        {
            "id": integer("Ticket id."),
            "url": uri("Agent link to the ticket."),
            "status": enum(
                "Ticket status.", ["new", "open", "pending", "hold", "solved", "closed"]
            ),
            "requester_id": nullable(integer("Id of the requester.")),
        },
        ["id", "url", "status", "requester_id"],
    ),
    side_effects=True,
    credential="zendesk",
    example="""
- id: ticket
  uses: zendesk.create_ticket
  with:
    subject: "Refund request from {{ trigger.body.name }}"
    body: ${{ trigger.body.message }}
    requester_email: ${{ trigger.body.email }}
    priority: high
    tags: [refund, web-form]
""",
)

NODE_TYPES: list[NodeType] = [WEBHOOK_SEND, TWILIO_SMS, ZENDESK_TICKET]
