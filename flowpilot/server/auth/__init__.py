"""Accounts and sessions: register, log in, refresh-token rotation with reuse detection,
log out, and ``GET /me``."""
