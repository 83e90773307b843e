"""Operations: health and readiness, request ids, structured logs, security headers."""
