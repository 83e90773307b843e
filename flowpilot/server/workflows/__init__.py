"""Workflows and their git-like versions."""
