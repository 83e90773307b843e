"""Implemented node types are attached to their signatures without slowing down the compiler."""

from __future__ import annotations

import subprocess
import sys

from flowpilot.stdlib.nodes import IMPLEMENTATION_MODULES, builtin_implementations
from flowpilot.stdlib.registry import default_registry


def test_every_implementation_runs_a_catalogue_signature() -> None:
    implemented = {t.name for t in default_registry() if t.implemented}
    assert implemented == set(builtin_implementations())
    assert len(IMPLEMENTATION_MODULES) == len(set(IMPLEMENTATION_MODULES))


def test_loading_the_registry_does_not_import_network_libraries() -> None:
    # `flowpilot check` loads the registry; httpx and smtplib are only for running nodes.
    code = (
        "import sys; from flowpilot.stdlib.registry import default_registry; default_registry(); "
        "print(sorted(m for m in ('httpx', 'smtplib', 'ssl') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
