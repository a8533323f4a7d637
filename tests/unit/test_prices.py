"""Rounding to the 0.05 tick grid (strategy.prices), including float-noise inputs."""

from __future__ import annotations

import pytest

from strategy.prices import ceil_tick, floor_tick, round_tick

TICK = 0.05


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        (123.47, 123.45),
        (123.45, 123.45),  # 123.45 / 0.05 == 2468.9999999999995 in floats
        (123.45 - 0.05, 123.40),
        (128.1 - 0.05, 128.05),  # == 128.04999999999998: a naive floor gives 128.00
        (100.05, 100.05),  # 100.05 / 0.05 == 2000.9999999999998
        (1.15, 1.15),  # 1.15 / 0.05 == 22.999999999999996
        (4.35, 4.35),
        (100.049, 100.0),
        (100.0999, 100.05),
        (0.04, 0.0),
    ],
)
def test_floor_tick(price: float, expected: float) -> None:
    assert floor_tick(price, TICK) == expected


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        (123.41, 123.45),
        (123.45, 123.45),
        (100.15 - 0.05, 100.10),  # == 100.10000000000001: a naive ceil gives 100.15
        (0.1 + 0.2, 0.30),  # 0.30000000000000004
        (100.001, 100.05),
        (100.0, 100.0),
        (120.4, 120.40),
    ],
)
def test_ceil_tick(price: float, expected: float) -> None:
    assert ceil_tick(price, TICK) == expected


@pytest.mark.parametrize(
    ("price", "expected"),
    [
        (123.43, 123.45),
        (123.42, 123.40),
        (123.45, 123.45),
        (128.1 - 0.05, 128.05),
        (100.15 - 0.05, 100.10),
        (99.974, 99.95),
        (99.976, 100.0),
    ],
)
def test_round_tick(price: float, expected: float) -> None:
    assert round_tick(price, TICK) == expected


def test_results_are_two_decimal_floats_without_noise() -> None:
    # The grid value itself, not 123.39999999999999 or 100.10000000000001.
    assert repr(floor_tick(123.45 - 0.05, TICK)) == "123.4"
    assert repr(ceil_tick(100.15 - 0.05, TICK)) == "100.1"
    assert repr(round_tick(0.1 + 0.2, TICK)) == "0.3"


def test_other_tick_sizes() -> None:
    assert floor_tick(10.37, 0.1) == 10.3
    assert ceil_tick(10.31, 0.1) == 10.4
    assert round_tick(10.37, 0.25) == 10.25
    assert floor_tick(7.0, 1.0) == 7.0
