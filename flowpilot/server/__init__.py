"""The FlowPilot server: a Litestar application over the compiler, the runtime and the store.

One package per domain (``auth``, ``orgs``, ``workflows``, ``executions``, ``triggers``,
``ops``), each with ``controllers`` (HTTP), ``services`` (transactions) and ``schemas``
(msgspec structs); the app is assembled in :mod:`flowpilot.server.app`.
"""
