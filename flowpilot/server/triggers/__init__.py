"""Triggers of published workflow versions: webhooks, cron schedules and events."""
