"""``chat.slack``, ``slack.post_message``, ``chat.teams`` and ``chat.discord``.

Credentials: ``slack`` holds ``token`` (a bot token, ``xoxb-…``) and/or ``webhook_url``, plus
``api_url`` to point the Web API elsewhere (a proxy, or a local server in tests); ``teams`` and
``discord`` hold ``webhook_url``. Webhook URLs carry their own secret, so they are never shown
in messages or error data.

``chat.teams``'s ``theme_color`` belonged to the retired Office 365 connector cards; Adaptive
Cards, which Workflows webhooks take, have no accent color, so it is not sent (the step logs a
warning).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flowpilot.stdlib.context import NodeContext
from flowpilot.stdlib.errors import InvalidNodeInput, NodeError
from flowpilot.stdlib.nodes._http import (
    decode_text,
    post_json,
    redact,
    retry_after_seconds,
    secret_variants,
    webhook_secrets,
)

SLACK_API_URL = "https://slack.com/api"
# Slack answers `ok: false` with these when trying again later can succeed.
_SLACK_TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


def _optional(args: Mapping[str, Any], *names: str) -> dict[str, Any]:
    return {name: args[name] for name in names if args.get(name) is not None}


# --------------------------------------------------------------------------------------------
# Slack
# --------------------------------------------------------------------------------------------


def chat_slack(ctx: NodeContext, args: dict[str, Any]) -> dict[str, Any]:
    webhook = args.get("webhook_url")
    credential: Mapping[str, Any] = {}
    if not webhook:
        credential = ctx.credential("slack", args.get("connection"))
        # The bot token needs a channel; without one, the credential's webhook can still post.
        if not (credential.get("token") and args.get("channel")):
            webhook = credential.get("webhook_url")
    message = {
        "text": args["text"],
        "unfurl_links": args.get("unfurl_links", False),
        **_optional(args, "blocks", "thread_ts", "username", "icon_emoji"),
    }
    if webhook:
        secrets = webhook_secrets(webhook)
        post_json(ctx, webhook, message, what="Slack webhook", secrets=secrets)
        return {"ok": True, "ts": None, "channel": None}
    if not credential.get("token"):
        raise NodeError(
            "chat.slack: the slack credential has neither `token` nor `webhook_url`",
            type="credential_invalid",
            retryable=False,
        )
    if not args.get("channel"):
        raise InvalidNodeInput(
            "chat.slack: `channel` is required when posting with the bot token "
            "(only an incoming webhook fixes the channel itself)",
            field="with.channel",
        )
    reply = _slack_api(ctx, credential, "chat.postMessage", {"channel": args["channel"], **message})
    return {"ok": True, "ts": reply.get("ts"), "channel": reply.get("channel")}


def slack_post_message(ctx: NodeContext, args: dict[str, Any]) -> dict[str, Any]:
    credential = ctx.credential("slack", args.get("connection"))
    if not credential.get("token"):
        raise NodeError(
            "slack.post_message: the slack credential has no bot `token` (webhooks cannot "
            "use chat.postMessage; see chat.slack)",
            type="credential_invalid",
            retryable=False,
        )
    payload = {
        "channel": args["channel"],
        "text": args["text"],
        "mrkdwn": args.get("mrkdwn", True),
        "unfurl_links": args.get("unfurl_links", False),
        "unfurl_media": args.get("unfurl_media", True),
        **_optional(
            args, "blocks", "attachments", "thread_ts", "username", "icon_emoji", "icon_url",
            "metadata",
        ),
    }  # fmt: skip
    if args.get("thread_ts"):
        payload["reply_broadcast"] = args.get("reply_broadcast", False)
    reply = _slack_api(ctx, credential, "chat.postMessage", payload)
    return {
        "ok": True,
        "ts": reply["ts"],
        "channel": reply["channel"],
        "permalink": _permalink(ctx, credential, reply["channel"], reply["ts"]),
    }


def _permalink(
    ctx: NodeContext, credential: Mapping[str, Any], channel: str, ts: str
) -> str | None:
    """The message's permalink; the message is already posted, so failing here is not fatal."""
    try:
        reply = _slack_api(
            ctx, credential, "chat.getPermalink", {"channel": channel, "message_ts": ts}
        )
    except NodeError as exc:
        ctx.log("warning", "could not get the Slack permalink", error=exc.message)
        return None
    return reply.get("permalink")


def _slack_api(
    ctx: NodeContext, credential: Mapping[str, Any], method: str, payload: dict[str, Any]
) -> dict[str, Any]:
    token = credential["token"]
    base = (credential.get("api_url") or SLACK_API_URL).rstrip("/")
    secrets = secret_variants(token)
    what = f"Slack {method}"
    response, body = post_json(
        ctx,
        f"{base}/{method}",
        payload,
        what=what,
        secrets=secrets,
        headers={"Authorization": f"Bearer {token}"},
    )
    try:
        reply = json.loads(body)
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        raise NodeError(
            f"{what}: unexpected answer (not a JSON object)",
            type="invalid_response",
            retryable=False,
            data={
                "status": response.status_code,
                "body": redact(decode_text(response, body), secrets)[:1000],
            },
        )
    if not reply.get("ok"):
        error = str(reply.get("error") or "unknown_error")
        transient = error in _SLACK_TRANSIENT
        raise NodeError(
            f"{what}: Slack refused the request: {redact(error, secrets)}",
            type="slack_error",
            retryable=transient,
            retry_after=retry_after_seconds(response.headers.get("retry-after"))
            if transient
            else None,
            data={"error": error},
        )
    return reply


# --------------------------------------------------------------------------------------------
# Microsoft Teams
# --------------------------------------------------------------------------------------------


def chat_teams(ctx: NodeContext, args: dict[str, Any]) -> dict[str, Any]:
    webhook = args.get("webhook_url") or _credential_webhook(ctx, "teams", args)
    card = args.get("card") or _teams_card(args)
    if args.get("theme_color"):
        ctx.log(
            "warning", "chat.teams: theme_color is ignored: Adaptive Cards have no accent color"
        )
    payload = {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }
    response, _ = post_json(
        ctx, webhook, payload, what="Teams webhook", secrets=webhook_secrets(webhook)
    )
    return {"ok": True, "status": response.status_code}


def _teams_card(args: Mapping[str, Any]) -> dict[str, Any]:
    if not args.get("text") and not args.get("title"):
        raise InvalidNodeInput(
            "chat.teams: give `text` (and optionally `title`) or `card`", field="with.text"
        )
    body: list[dict[str, Any]] = []
    if args.get("title"):
        body.append(
            {
                "type": "TextBlock",
                "text": args["title"],
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
                "style": "heading",
            }
        )
    if args.get("text"):
        body.append({"type": "TextBlock", "text": args["text"], "wrap": True})
    return {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "msteams": {"width": "Full"},
    }


def _credential_webhook(ctx: NodeContext, kind: str, args: Mapping[str, Any]) -> str:
    credential = ctx.credential(kind, args.get("connection"))
    webhook = credential.get("webhook_url")
    if not webhook:
        raise NodeError(
            f"the {kind} credential has no `webhook_url`",
            type="credential_invalid",
            retryable=False,
        )
    return webhook


# --------------------------------------------------------------------------------------------
# Discord
# --------------------------------------------------------------------------------------------


def chat_discord(ctx: NodeContext, args: dict[str, Any]) -> dict[str, Any]:
    if not args.get("content") and not args.get("embeds"):
        raise InvalidNodeInput(
            "chat.discord: give `content`, `embeds` or both", field="with.content"
        )
    webhook = args.get("webhook_url") or _credential_webhook(ctx, "discord", args)
    payload = {
        "tts": args.get("tts", False),
        **_optional(args, "content", "embeds", "username", "avatar_url"),
    }
    params = {"wait": "true"}
    if args.get("thread_id"):
        params["thread_id"] = args["thread_id"]
    _, body = post_json(
        ctx, webhook, payload, what="Discord webhook", secrets=webhook_secrets(webhook),
        params=params,
    )  # fmt: skip
    try:
        message = json.loads(body) if body.strip() else {}
    except ValueError:
        message = {}
    message_id = message.get("id") if isinstance(message, dict) else None
    return {"ok": True, "message_id": str(message_id) if message_id is not None else None}


IMPLEMENTATIONS = {
    "chat.slack": chat_slack,
    "slack.post_message": slack_post_message,
    "chat.teams": chat_teams,
    "chat.discord": chat_discord,
}
