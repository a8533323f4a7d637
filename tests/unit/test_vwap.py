"""Session VWAP from bars (strategy.md §2): Σ(tp·v)/Σv, tp = (H+L+C)/3; tp of the latest bar while Σv = 0."""

from __future__ import annotations

import pytest

from strategy.vwap import SessionVwap


def test_single_bar_is_its_typical_price() -> None:
    assert SessionVwap().add(110.0, 100.0, 105.0, 10) == 105.0


def test_volume_weighted_typical_prices() -> None:
    v = SessionVwap()
    assert v.add(110.0, 100.0, 105.0, 10) == 105.0  # tp 105
    # tp 114, v 30: (105*10 + 114*30) / 40 = 4470 / 40
    assert v.add(120.0, 108.0, 114.0, 30) == 111.75
    # tp (101+95+99)/3 = 98.333.., v 60: (4470 + 5900) / 100
    assert v.add(101.0, 95.0, 99.0, 60) == pytest.approx(103.7, rel=1e-12)


def test_uses_typical_price_not_close() -> None:
    v = SessionVwap()
    v.add(100.0, 100.0, 100.0, 1)
    # tp = (130 + 100 + 100)/3 = 110; (100 + 110) / 2 = 105 (a close-based VWAP would be 100)
    assert v.add(130.0, 100.0, 100.0, 1) == pytest.approx(105.0, rel=1e-12)


def test_zero_volume_gives_tp_of_latest_bar() -> None:
    v = SessionVwap()
    assert v.add(110.0, 100.0, 105.0, 0) == 105.0
    assert v.add(130.0, 120.0, 125.0, 0) == 125.0  # still Σv = 0: the latest bar's tp, not the first
    # the first bar with volume: only it carries weight
    assert v.add(103.0, 101.0, 102.0, 5) == 102.0


def test_zero_volume_bar_after_volume_leaves_vwap_unchanged() -> None:
    v = SessionVwap()
    v.add(110.0, 100.0, 105.0, 10)
    assert v.add(200.0, 190.0, 195.0, 0) == 105.0
    assert v.add(120.0, 108.0, 114.0, 30) == 111.75


def test_each_session_starts_empty() -> None:
    first = SessionVwap()
    first.add(110.0, 100.0, 105.0, 1000)
    assert SessionVwap().add(130.0, 120.0, 125.0, 1) == 125.0
