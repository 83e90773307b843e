"""FlowPilot: a typed workflow DSL, its compiler and a durable runtime."""

__version__ = "0.1.0"
