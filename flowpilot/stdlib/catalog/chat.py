"""``chat.*`` and ``slack.*``: messages to Slack, Microsoft Teams and Discord."""

from __future__ import annotations

from flowpilot.stdlib.catalog._schemas import (
    array,
    boolean,
    connection,
    integer,
    node_type,
    nullable,
    obj,
    open_object,
    secret_string,
    string,
    template,
    uri,
)
from flowpilot.stdlib.registry import Category, NodeType

_SLACK_BLOCKS = array(
    "Block Kit blocks (https://api.slack.com/block-kit); `text` is then the notification fallback.",
    open_object(
        "A block; its `type` says which (`section`, `divider`, `actions` …).", required=["type"]
    ),
    maxItems=50,
)
_SLACK_CHANNEL = string(
    "Channel ID (`C0123…`), `#channel-name`, or a user ID for a direct message.",
    minLength=1,
    examples=["#finance-alerts", "C0123456789"],
)
_THREAD_TS = string("Reply in the thread of this parent message (its `ts`).", pattern=r"^\d+\.\d+$")

SLACK = node_type(
    "chat.slack",
    category=Category.ACTION,
    summary="Post a message to Slack",
    description="""
Posts `text` (a template, Slack mrkdwn) and optional Block Kit `blocks` to Slack, either through
an incoming webhook (`webhook_url`; the channel is fixed by the webhook) or with the bot token of
the `slack` credential (then `channel` is required). For the full `chat.postMessage` API use
`slack.post_message`.

Output: `{ok, ts, channel}` — `ts` and `channel` identify the message (null for webhooks, which
do not report them); pass `ts` as `thread_ts` to reply in its thread.
""",
    inputs={
        "text": template("Message text (Slack mrkdwn); a template.", minLength=1, maxLength=40000),
        "channel": _SLACK_CHANNEL,
        "blocks": _SLACK_BLOCKS,
        "thread_ts": _THREAD_TS,
        "webhook_url": secret_string(
            "Incoming-webhook URL; when set, the message goes through it instead of the bot token.",
            format="uri",
        ),
        "username": string("Override the bot's display name (where the app allows it)."),
        "icon_emoji": string("Override the bot's icon with an emoji.", pattern="^:[a-z0-9_+-]+:$"),
        "unfurl_links": boolean("Show previews of links in the text.", default=False),
        "connection": connection("slack"),
    },
    required=["text"],
    output=obj(
        "Result from Slack.",
        {
            "ok": boolean("Whether Slack accepted the message."),
            "ts": nullable(string("Timestamp ID of the message (null for webhooks).")),
            "channel": nullable(
                string("Channel ID the message was posted to (null for webhooks).")
            ),
        },
        ["ok", "ts", "channel"],
    ),
    side_effects=True,
    credential="slack",
    example="""
- id: alert
  uses: chat.slack
  with:
    channel: "#finance-alerts"
    text: ":warning: Invoice *{{ steps.fields.output.number }}* needs approval"
""",
)

POST_MESSAGE = node_type(
    "slack.post_message",
    category=Category.INTEGRATION,
    summary="Post a message with the Slack Web API (chat.postMessage)",
    description="""
Calls Slack's `chat.postMessage` with the bot token of the `slack` credential, exposing its
options: threads, broadcast replies, legacy attachments, message metadata and link unfurling.
For simple notifications (including incoming webhooks) see `chat.slack`.

Output: `{ok, ts, channel, permalink}`.
""",
    inputs={
        "channel": _SLACK_CHANNEL,
        "text": template("Message text (Slack mrkdwn); a template.", maxLength=40000),
        "blocks": _SLACK_BLOCKS,
        "attachments": array(
            "Legacy secondary attachments (colored side bar).",
            open_object("An attachment (`color`, `title`, `text`, `fields` …)."),
            maxItems=100,
        ),
        "thread_ts": _THREAD_TS,
        "reply_broadcast": boolean(
            "With `thread_ts`: also show the reply in the channel.", default=False
        ),
        "mrkdwn": boolean("Interpret `text` as mrkdwn.", default=True),
        "unfurl_links": boolean("Show previews of links.", default=False),
        "unfurl_media": boolean("Show previews of media links.", default=True),
        "username": string("Override the bot's display name (needs `chat:write.customize`)."),
        "icon_emoji": string("Override the bot's icon with an emoji.", pattern="^:[a-z0-9_+-]+:$"),
        "icon_url": uri("Override the bot's icon with an image."),
        "metadata": obj(
            "Message metadata, for apps that react to events.",
            {
                "event_type": string("Event type name.", minLength=1),
                "event_payload": open_object("Event payload."),
            },
            ["event_type", "event_payload"],
        ),
        "connection": connection("slack"),
    },
    required=["channel", "text"],
    output=obj(
        "Result from Slack.",
        {
            "ok": boolean("Whether Slack accepted the message."),
            "ts": string("Timestamp ID of the message."),
            "channel": string("Channel ID the message was posted to."),
            "permalink": nullable(uri("Permanent link to the message.")),
        },
        ["ok", "ts", "channel", "permalink"],
    ),
    side_effects=True,
    credential="slack",
    example="""
- id: thread_reply
  uses: slack.post_message
  with:
    channel: ${{ steps.alert.output.channel }}
    thread_ts: ${{ steps.alert.output.ts }}
    text: "Approved by {{ steps.approve.output.by }}"
    reply_broadcast: true
""",
)

TEAMS = node_type(
    "chat.teams",
    category=Category.ACTION,
    summary="Post a message to a Microsoft Teams channel",
    description="""
Posts to a Teams channel through a Workflows (Power Automate) webhook — `webhook_url`, or the one
stored in the `teams` credential. Give `text` (a template, Markdown) with an optional `title`,
or a full Adaptive Card in `card` for rich layouts and buttons.

Output: `{ok, status}`.
""",
    inputs={
        "text": template("Message text (Markdown); a template."),
        "title": template("Title shown above the text; a template.", maxLength=250),
        "card": open_object(
            "An Adaptive Card (https://adaptivecards.io), sent instead of `title`/`text`.",
            required=["type"],
            examples=[{"type": "AdaptiveCard", "version": "1.5", "body": []}],
        ),
        "theme_color": string("Accent color as hex.", pattern="^#?[0-9A-Fa-f]{6}$"),
        "webhook_url": secret_string("Teams webhook URL (overrides the credential).", format="uri"),
        "connection": connection("teams"),
    },
    output=obj(
        "Result from Teams.",
        {
            "ok": boolean("Whether Teams accepted the message."),
            "status": integer("HTTP status of the webhook call.", minimum=100, maximum=599),
        },
        ["ok", "status"],
    ),
    side_effects=True,
    credential="teams",
    example="""
- id: teams
  uses: chat.teams
  with:
    title: Nightly sync finished
    text: "Imported **{{ steps.sync.output.row_count }}** rows."
""",
)

_EMBED = obj(
    "A Discord embed.",
    {
        "title": string("Embed title.", maxLength=256),
        "description": string("Embed text (Markdown).", maxLength=4096),
        "url": uri("Link on the title."),
        "color": integer("Side bar color as an RGB integer.", minimum=0, maximum=16777215),
        "timestamp": string("Timestamp shown in the footer.", format="date-time"),
        "footer": obj("Footer.", {"text": string("Footer text.", maxLength=2048)}, ["text"]),
        "image": obj("Large image.", {"url": uri("Image URL.")}, ["url"]),
        "thumbnail": obj("Small image.", {"url": uri("Image URL.")}, ["url"]),
        "fields": array(
            "Name/value fields.",
            obj(
                "A field.",
                {
                    "name": string("Field name.", maxLength=256),
                    "value": string("Field value.", maxLength=1024),
                    "inline": boolean("Show side by side with other inline fields.", default=False),
                },
                ["name", "value"],
            ),
            maxItems=25,
        ),
    },
)

DISCORD = node_type(
    "chat.discord",
    category=Category.ACTION,
    summary="Post a message to a Discord channel",
    description="""
Executes a Discord webhook (`webhook_url`, or the one in the `discord` credential) with
`content` (a template, up to 2000 characters) and/or up to 10 `embeds`.

Output: `{ok, message_id}`.
""",
    inputs={
        "content": template("Message text (Discord Markdown); a template.", maxLength=2000),
        "embeds": array("Rich embeds.", _EMBED, maxItems=10),
        "username": string("Override the webhook's display name.", maxLength=80),
        "avatar_url": uri("Override the webhook's avatar."),
        "thread_id": string("Post into this thread of the channel."),
        "tts": boolean("Send as text-to-speech.", default=False),
        "webhook_url": secret_string(
            "Discord webhook URL (overrides the credential).", format="uri"
        ),
        "connection": connection("discord"),
    },
    output=obj(
        "Result from Discord.",
        {
            "ok": boolean("Whether Discord accepted the message."),
            "message_id": nullable(string("ID of the created message.")),
        },
        ["ok", "message_id"],
    ),
    side_effects=True,
    credential="discord",
    example="""
- id: discord
  uses: chat.discord
  with:
    content: "Deploy of {{ inputs.version }} finished"
    embeds:
      - { title: Changelog, url: "https://example.com/releases", color: 5814783 }
""",
)

NODE_TYPES: list[NodeType] = [SLACK, POST_MESSAGE, TEAMS, DISCORD]
