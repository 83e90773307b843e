"""Implementations of the catalogue's node types.

Each module here exposes ``IMPLEMENTATIONS: dict[str, NodeRun]`` mapping a node type name
(``http.request``) to the function that runs it;
:func:`flowpilot.stdlib.registry.builtin_node_types`
attaches them to the signatures declared in ``flowpilot.stdlib.catalog``. A node type absent from
every mapping stays *planned*. Modules import heavy libraries (httpx, smtplib…) inside the
functions so that ``flowpilot check`` does not pay for them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from flowpilot.stdlib.context import NodeContext

NodeRun = Callable[[NodeContext, dict[str, Any]], Any]

IMPLEMENTATION_MODULES: tuple[str, ...] = (
    "flowpilot.stdlib.nodes.core",
    "flowpilot.stdlib.nodes.http",
    "flowpilot.stdlib.nodes.email",
    "flowpilot.stdlib.nodes.chat",
)


def builtin_implementations() -> dict[str, NodeRun]:
    found: dict[str, NodeRun] = {}
    for module_name in IMPLEMENTATION_MODULES:
        module = importlib.import_module(module_name)
        for name, run in module.IMPLEMENTATIONS.items():
            if name in found:
                raise ValueError(f"node type {name} implemented twice")
            found[name] = run
    return found
