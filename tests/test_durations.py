"""Durations: the one rule both syntaxes and the compiler use."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowpilot.durations import format_duration_ms, parse_duration


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("250ms", 250),
        ("0s", 0),
        ("30s", 30_000),
        ("5m", 300_000),
        ("2h", 7_200_000),
        ("3d", 259_200_000),
        ("PT5M", 300_000),
        ("PT1H30M", 5_400_000),
        ("P1D", 86_400_000),
        ("P1DT2H3M4S", 93_784_000),
        ("PT0.5S", 500),
        ("PT1.25S", 1_250),
    ],
)
def test_valid_durations(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize(
    "text",
    ["", "5", "1.5s", "-1s", "5 m", " 5m", "5M", "5min", "P", "PT", "P1DT", "P1W", "P1Y", "pt5m",
     "PT5M ", "s", "ms"],
)  # fmt: skip
def test_invalid_durations(text: str) -> None:
    assert parse_duration(text) is None


@given(st.integers(min_value=0, max_value=10**12))
def test_format_duration_round_trips(ms: int) -> None:
    assert parse_duration(format_duration_ms(ms)) == ms


@given(st.text(max_size=12))
def test_never_raises(text: str) -> None:
    result = parse_duration(text)
    assert result is None or result >= 0
