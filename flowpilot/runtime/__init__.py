"""The durable runtime: a pure engine that advances plans, and the services that persist its
decisions in PostgreSQL and carry step work over Dramatiq."""
