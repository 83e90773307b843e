"""``chat.*`` and ``slack.post_message`` against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from flowpilot.stdlib.errors import CredentialMissing, InvalidNodeInput, NodeError

from .conftest import Received, Recorder, RecordingServer, run_node

HOOK_SECRET = "XyZ9wEbHoOkSeCrEt"
BOT_TOKEN = "xoxb-1234-5678-abcdefSECRET"


def _no_secret(error: NodeError, secret: str) -> None:
    assert secret not in error.message and secret not in json.dumps(error.data)


# --------------------------------------------------------------------------------------------
# Slack
# --------------------------------------------------------------------------------------------


def test_slack_webhook_posts_the_message(http_server: RecordingServer) -> None:
    http_server.route(f"/services/T1/B1/{HOOK_SECRET}", body=b"ok", Content_Type="text/plain")
    out = run_node(
        "chat.slack",
        {
            "webhook_url": f"{http_server.url}/services/T1/B1/{HOOK_SECRET}",
            "text": ":warning: Invoice *42* needs approval",
            "blocks": [{"type": "divider"}],
            "icon_emoji": ":robot_face:",
        },
    )
    assert out == {"ok": True, "ts": None, "channel": None}
    seen = http_server.last
    assert seen.method == "POST" and seen.headers["content-type"] == "application/json"
    assert seen.json() == {
        "text": ":warning: Invoice *42* needs approval",
        "unfurl_links": False,
        "blocks": [{"type": "divider"}],
        "icon_emoji": ":robot_face:",
    }


def test_slack_webhook_from_the_credential(
    http_server: RecordingServer, recorder: Recorder
) -> None:
    recorder.credentials[("slack", None)] = {"webhook_url": f"{http_server.url}/hook"}
    run_node("chat.slack", {"text": "hi"}, recorder.context())
    assert http_server.last.path == "/hook" and http_server.last.json()["text"] == "hi"
    with pytest.raises(CredentialMissing):
        run_node("chat.slack", {"text": "hi", "connection": "other"}, recorder.context())


def _slack_api(received: Received) -> tuple[int, dict[str, str], bytes]:
    if received.path == "/api/chat.getPermalink":
        link = f"https://acme.slack.com/archives/C1/p{received.json()['message_ts']}"
        return 200, {}, json.dumps({"ok": True, "permalink": link}).encode()
    channel = received.json()["channel"]
    if channel == "#nowhere":
        return 200, {}, b'{"ok": false, "error": "channel_not_found"}'
    if channel == "#busy":
        return 200, {"Retry-After": "3"}, b'{"ok": false, "error": "ratelimited"}'
    return 200, {}, json.dumps({"ok": True, "channel": "C1", "ts": "1700000000.000100"}).encode()


@pytest.fixture
def slack_bot(http_server: RecordingServer, recorder: Recorder) -> RecordingServer:
    recorder.credentials[("slack", None)] = {
        "token": BOT_TOKEN,
        "api_url": f"{http_server.url}/api",
    }
    http_server.routes["/api/chat.postMessage"] = _slack_api
    http_server.routes["/api/chat.getPermalink"] = _slack_api
    return http_server


def test_slack_bot_token_calls_chat_post_message(
    slack_bot: RecordingServer, recorder: Recorder
) -> None:
    out = run_node(
        "chat.slack",
        {"channel": "#finance", "text": "hello", "thread_ts": "1699999999.000001"},
        recorder.context(),
    )
    assert out == {"ok": True, "ts": "1700000000.000100", "channel": "C1"}
    seen = slack_bot.last
    assert seen.path == "/api/chat.postMessage"
    assert seen.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    assert seen.json() == {
        "channel": "#finance",
        "text": "hello",
        "unfurl_links": False,
        "thread_ts": "1699999999.000001",
    }


def test_slack_bot_token_needs_a_channel(slack_bot: RecordingServer, recorder: Recorder) -> None:
    with pytest.raises(InvalidNodeInput, match="`channel` is required"):
        run_node("chat.slack", {"text": "hello"}, recorder.context())
    assert slack_bot.requests == []
    # …unless the credential also has a webhook, which has a channel of its own.
    credential = recorder.credentials[("slack", None)]
    recorder.credentials[("slack", None)] = {**credential, "webhook_url": f"{slack_bot.url}/hook"}
    run_node("chat.slack", {"text": "hello"}, recorder.context())
    assert slack_bot.last.path == "/hook" and "authorization" not in slack_bot.last.headers


def test_slack_api_errors(slack_bot: RecordingServer, recorder: Recorder) -> None:
    with pytest.raises(NodeError) as info:
        run_node("chat.slack", {"channel": "#nowhere", "text": "x"}, recorder.context())
    assert info.value.type == "slack_error" and not info.value.retryable
    assert "channel_not_found" in info.value.message
    _no_secret(info.value, BOT_TOKEN)
    with pytest.raises(NodeError) as info:
        run_node("chat.slack", {"channel": "#busy", "text": "x"}, recorder.context())
    assert info.value.retryable and info.value.retry_after == 3


def test_slack_rate_limit_and_bad_webhook(http_server: RecordingServer) -> None:
    http_server.route(f"/hook/{HOOK_SECRET}", status=429, body=b"rate limited", Retry_After="30")
    url = f"{http_server.url}/hook/{HOOK_SECRET}"
    with pytest.raises(NodeError) as info:
        run_node("chat.slack", {"webhook_url": url, "text": "x"})
    assert info.value.type == "http_status" and info.value.retryable
    assert info.value.retry_after == 30 and info.value.message.startswith("Slack webhook: HTTP 429")
    _no_secret(info.value, HOOK_SECRET)

    http_server.route(
        f"/hook/{HOOK_SECRET}", status=404, body=f"no_service {url} ({HOOK_SECRET})".encode()
    )
    with pytest.raises(NodeError) as info:
        run_node("chat.slack", {"webhook_url": url, "text": "x"})
    assert not info.value.retryable and "no_service" in info.value.data["body"]
    _no_secret(info.value, HOOK_SECRET)


def test_slack_post_message_with_permalink(slack_bot: RecordingServer, recorder: Recorder) -> None:
    out = run_node(
        "slack.post_message",
        {
            "channel": "C1",
            "text": "Approved",
            "thread_ts": "1699999999.000001",
            "reply_broadcast": True,
            "metadata": {"event_type": "invoice_approved", "event_payload": {"id": 42}},
        },
        recorder.context(),
    )
    assert out == {
        "ok": True,
        "ts": "1700000000.000100",
        "channel": "C1",
        "permalink": "https://acme.slack.com/archives/C1/p1700000000.000100",
    }
    posted = slack_bot.requests[0].json()
    assert posted["reply_broadcast"] is True and posted["mrkdwn"] is True
    assert posted["metadata"] == {"event_type": "invoice_approved", "event_payload": {"id": 42}}


def test_slack_post_message_survives_a_failed_permalink(
    slack_bot: RecordingServer, recorder: Recorder
) -> None:
    slack_bot.route("/api/chat.getPermalink", status=500, body=b"boom")
    out = run_node("slack.post_message", {"channel": "C1", "text": "x"}, recorder.context())
    assert out["ts"] == "1700000000.000100" and out["permalink"] is None
    assert recorder.logs[0][0] == "warning"


# --------------------------------------------------------------------------------------------
# Teams
# --------------------------------------------------------------------------------------------


def test_teams_posts_an_adaptive_card_from_title_and_text(
    http_server: RecordingServer, recorder: Recorder
) -> None:
    http_server.route(f"/workflows/{HOOK_SECRET}", status=202, body=b"")
    out = run_node(
        "chat.teams",
        {
            "webhook_url": f"{http_server.url}/workflows/{HOOK_SECRET}",
            "title": "Nightly sync finished",
            "text": "Imported **12** rows.",
            "theme_color": "#00ff00",
        },
        recorder.context(),
    )
    assert [level for level, _, _ in recorder.logs] == ["warning"]
    assert out == {"ok": True, "status": 202}
    payload = http_server.last.json()
    assert payload["type"] == "message"
    [attachment] = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert [b["text"] for b in card["body"]] == ["Nightly sync finished", "Imported **12** rows."]
    assert card["body"][0]["weight"] == "Bolder"


def test_teams_sends_a_given_card_through_the_credential(
    http_server: RecordingServer, recorder: Recorder
) -> None:
    recorder.credentials[("teams", "ops")] = {"webhook_url": f"{http_server.url}/wf"}
    card = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "x"}]}
    run_node("chat.teams", {"card": card, "connection": "ops"}, recorder.context())
    assert http_server.last.json()["attachments"][0]["content"] == card
    with pytest.raises(InvalidNodeInput):
        run_node("chat.teams", {"connection": "ops"}, recorder.context())


def test_teams_server_error_is_retryable(http_server: RecordingServer) -> None:
    # Workflows URLs carry their token in the `sig` query parameter.
    http_server.route(
        "/workflows/1/triggers/manual/paths/invoke",
        status=502,
        body=f"bad gateway for sig={HOOK_SECRET}".encode(),
    )
    url = f"{http_server.url}/workflows/1/triggers/manual/paths/invoke?sv=1.0&sig={HOOK_SECRET}"
    with pytest.raises(NodeError) as info:
        run_node("chat.teams", {"webhook_url": url, "text": "x"})
    assert info.value.type == "http_status" and info.value.retryable
    assert info.value.message == "Teams webhook: HTTP 502 Bad Gateway"
    _no_secret(info.value, HOOK_SECRET)


# --------------------------------------------------------------------------------------------
# Discord
# --------------------------------------------------------------------------------------------


def test_discord_executes_the_webhook_and_waits_for_the_message(
    http_server: RecordingServer,
) -> None:
    http_server.route(f"/api/webhooks/1/{HOOK_SECRET}", body={"id": "112233", "content": "x"})
    embed = {"title": "Changelog", "url": "https://example.com/releases", "color": 5814783}
    out = run_node(
        "chat.discord",
        {
            "webhook_url": f"{http_server.url}/api/webhooks/1/{HOOK_SECRET}",
            "content": "Deploy of 1.2 finished",
            "embeds": [embed],
            "username": "deploy-bot",
            "thread_id": "998877",
        },
    )
    assert out == {"ok": True, "message_id": "112233"}
    seen = http_server.last
    assert seen.query == {"wait": ["true"], "thread_id": ["998877"]}
    assert seen.json() == {
        "tts": False,
        "content": "Deploy of 1.2 finished",
        "embeds": [embed],
        "username": "deploy-bot",
    }


def test_discord_rate_limit_and_missing_content(
    http_server: RecordingServer, recorder: Recorder
) -> None:
    recorder.credentials[("discord", None)] = {
        "webhook_url": f"{http_server.url}/api/webhooks/1/{HOOK_SECRET}"
    }
    http_server.route(
        f"/api/webhooks/1/{HOOK_SECRET}", status=429, body={"retry_after": 2.5}, Retry_After="2.5"
    )
    with pytest.raises(NodeError) as info:
        run_node("chat.discord", {"content": "x"}, recorder.context())
    assert info.value.retryable and info.value.retry_after == 2.5
    _no_secret(info.value, HOOK_SECRET)
    with pytest.raises(InvalidNodeInput, match="`content`, `embeds`"):
        run_node("chat.discord", {}, recorder.context())


def test_unreachable_webhook_hides_its_url(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/api/webhooks/1/{HOOK_SECRET}"
    with pytest.raises(NodeError) as info:
        run_node("chat.discord", {"webhook_url": url, "content": "x"})
    assert info.value.type == "connection" and info.value.retryable
    assert info.value.message.startswith("Discord webhook: connection failed")
    _no_secret(info.value, HOOK_SECRET)
