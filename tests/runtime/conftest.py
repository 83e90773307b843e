from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.pg import fresh_database


@pytest.fixture
def database() -> Iterator[sa.Engine]:
    yield from fresh_database()
