"""Executions over the API: start, dry-run, list, inspect, logs, cancel, retry, approvals, and
live event streams over WebSockets."""
