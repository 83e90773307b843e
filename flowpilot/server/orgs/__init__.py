"""Organizations, their members and roles, API keys, and the audit trail an organization reads."""
