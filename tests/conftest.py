"""Shared test configuration: hypothesis profiles and the golden-file update switch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests import pg

ROOT = Path(__file__).resolve().parent.parent

settings.register_profile("default", max_examples=100, deadline=None)
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_configure(config: pytest.Config) -> None:
    # The controller (or a run without xdist) picks the run's database directory before any
    # worker starts; workers inherit it.
    if not hasattr(config, "workerinput") and not os.environ.get(pg.PG_DIR_ENV):
        config._flowpilot_pg_dir = pg.start_test_server_dir()  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    data_dir = getattr(config, "_flowpilot_pg_dir", None)
    if data_dir is not None:
        pg.stop_test_server(data_dir)
        os.environ.pop(pg.PG_DIR_ENV, None)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files from the current output instead of comparing",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
