"""``human.*``: steps that wait for a person — approvals and forms.

The execution is parked durably (no worker is held) until someone responds in the FlowPilot
inbox, through the link in the notification, or the timeout timer fires.
"""

from __future__ import annotations

from flowpilot.stdlib.catalog._schemas import (
    any_value,
    array,
    boolean,
    date_time,
    duration,
    enum,
    integer,
    json_schema_arg,
    node_type,
    nullable,
    obj,
    open_object,
    string,
    template,
)
from flowpilot.stdlib.registry import Category, NodeType

_ASSIGNEES_ITEM = {
    "type": "string",
    "pattern": r"^(role:[a-z0-9_-]+|group:[a-z0-9_-]+|[^@\s]+@[^@\s]+\.[^@\s]+)$",
}
_NOTIFY = array(
    "Channels used to notify the assignees (besides the FlowPilot inbox).",
    {"type": "string", "enum": ["email", "slack", "teams"]},
    default=["email"],
    uniqueItems=True,
)
_DECISIONS = ["approved", "rejected", "timed_out"]

APPROVAL = node_type(
    "human.approval",
    category=Category.HUMAN,
    summary="Ask one or more people to approve or reject",
    description="""
Sends an approval request (`message`, a template, with `details`) to the `approvers` — email
addresses, `role:<name>` or `group:<name>` — and waits until `min_approvals` of them approve,
one rejects, or `timeout` passes (then `on_timeout` decides). Approvers may add a comment and,
with `form`, fill in extra fields (a JSON Schema).

Custom `options` replace the default Approve/Reject buttons; each says whether it counts as an
approval, and the chosen `value` is reported as `choice`.

Output: `{approved, decision, choice, by, comment, at, form, responses}`.
""",
    inputs={
        "message": template("What to approve (Markdown); a template.", minLength=1),
        "title": template(
            "Short title for the inbox and notifications; a template.", maxLength=200
        ),
        "approvers": array(
            "Who may decide: email addresses, `role:<name>` or `group:<name>`.",
            _ASSIGNEES_ITEM,
            minItems=1,
        ),
        "min_approvals": integer(
            "Approvals needed; one rejection always ends it.", minimum=1, default=1
        ),
        "details": open_object("Key facts shown to the approver as a table."),
        "options": array(
            "Custom choices instead of Approve/Reject.",
            obj(
                "A choice.",
                {
                    "value": string("Reported as `choice`.", minLength=1),
                    "label": string("Button label."),
                    "approve": boolean("Whether this choice counts as an approval."),
                    "style": enum(
                        "Button style.", ["primary", "danger", "default"], default="default"
                    ),
                },
                ["value", "approve"],
            ),
            minItems=2,
        ),
        "form": json_schema_arg("JSON Schema of extra fields the approver fills in."),
        "require_comment": enum(
            "When a comment is mandatory.", ["never", "on_reject", "always"], default="on_reject"
        ),
        "timeout": duration("How long to wait for a decision.", default="3d"),
        "on_timeout": enum(
            "Outcome when nobody decides in time: report `timed_out` as a rejection, approve "
            "automatically, or fail the step (error type `human_timeout`).",
            ["reject", "approve", "fail"],
            default="reject",
        ),
        "reminder_every": duration("Remind pending approvers at this interval."),
        "notify": _NOTIFY,
    },
    required=["message", "approvers"],
    output=obj(
        "The decision.",
        {
            "approved": boolean("Whether the request was approved."),
            "decision": enum("How it ended.", _DECISIONS),
            "choice": nullable(string("`value` of the chosen option (custom `options`).")),
            "by": nullable(string("Email of the person who decided (null on timeout).")),
            "comment": nullable(string("The decider's comment.")),
            "at": date_time("When the decision was made."),
            "form": any_value("Values of the `form` fields, or null."),
            "responses": array(
                "Every individual response (useful with `min_approvals` > 1).",
                obj(
                    "A response.",
                    {
                        "by": string("Email of the responder."),
                        "approved": boolean("Whether they approved."),
                        "comment": nullable(string("Their comment.")),
                        "at": date_time("When they responded."),
                    },
                    ["by", "approved", "comment", "at"],
                ),
            ),
        },
        ["approved", "decision", "choice", "by", "comment", "at", "form", "responses"],
    ),
    side_effects=True,
    example="""
- id: approve
  uses: human.approval
  with:
    title: "Invoice {{ steps.fields.output.number }}"
    message: |
      **{{ steps.fields.output.vendor }}** asks for {{ steps.fields.output.total }} EUR.
      Approve the payment?
    approvers: ["role:finance-lead", cfo@example.com]
    details:
      vendor: ${{ steps.fields.output.vendor }}
      total: ${{ steps.fields.output.total }}
    timeout: 2d
""",
)

FORM = node_type(
    "human.form",
    category=Category.HUMAN,
    summary="Ask a person to fill in a form and wait for it",
    description="""
Sends a form built from `schema` (a JSON Schema; `ui_schema` tunes widgets) to the `assignees`
and waits for the first submission. `defaults` pre-fill fields. The compiler types the step's
output with `schema`. When nobody submits before `timeout`, the step fails with error type
`human_timeout` (use `try` or `continue_on_error` to handle it).

Output: the submitted data, matching `schema`.
""",
    inputs={
        "title": template("Form title; a template.", minLength=1, maxLength=200),
        "message": template("Instructions shown above the form (Markdown); a template."),
        "assignees": array(
            "Who may fill it in: email addresses, `role:<name>` or `group:<name>`.",
            _ASSIGNEES_ITEM,
            minItems=1,
        ),
        "schema": json_schema_arg("JSON Schema of the form; it types the output."),
        "ui_schema": open_object("react-jsonschema-form UI schema (widgets, order, help texts)."),
        "defaults": open_object("Initial field values."),
        "timeout": duration("How long to wait for a submission.", default="7d"),
        "reminder_every": duration("Remind the assignees at this interval."),
        "notify": _NOTIFY,
    },
    required=["title", "assignees", "schema"],
    output=open_object("The submitted data, matching `schema`."),
    output_from="schema",
    side_effects=True,
    example="""
- id: shipping
  uses: human.form
  with:
    title: Shipping details for order {{ inputs.order_id }}
    assignees: [warehouse@example.com]
    schema:
      type: object
      properties:
        carrier: { type: string, enum: [DHL, UPS, FedEx] }
        tracking_number: { type: string }
      required: [carrier, tracking_number]
""",
)

NODE_TYPES: list[NodeType] = [APPROVAL, FORM]
