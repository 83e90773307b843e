"""Storage: PostgreSQL (embedded via pgserver, or any external one), models and migrations."""
