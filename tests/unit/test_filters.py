"""Filter stages 1-3 and sizing (strategy.md §4), defaults R_VALUE 6500, LOT_SIZE 65, MAX_LOTS 10."""

from __future__ import annotations

import pytest

from config.settings import Settings
from strategy.filters import best_key, lots_for, stage1_reason, stage2

S = Settings(_env_file=None)


# --- stage 1: 100 <= price <= 300 and (price - vwap) / vwap >= 0.04 ------------------


@pytest.mark.parametrize(
    ("price", "vwap"),
    [
        (100.0, 90.0),  # price exactly at the lower bound
        (300.0, 250.0),  # price exactly at the upper bound
        (104.0, 100.0),  # premium exactly 4 %
        (260.0, 250.0),  # premium exactly 4 %
        (100.1, 96.25),  # exactly 4 %, which floats compute as 0.03999999999999994
        (100.88, 97.0),  # exactly 4 %, floats: 0.03999999999999995
        (200.0, 100.0),
    ],
)
def test_stage1_passes_on_and_inside_bounds(price: float, vwap: float) -> None:
    assert stage1_reason(price, vwap, S) == ""


@pytest.mark.parametrize(
    ("price", "vwap", "reason"),
    [
        (99.95, 80.0, "price_low"),
        (50.0, 40.0, "price_low"),
        (300.05, 250.0, "price_high"),
        (450.0, 300.0, "price_high"),
        (103.95, 100.0, "vwap_premium_low"),  # 3.95 %
        (200.0, 192.31, "vwap_premium_low"),  # 3.998 %
        (150.0, 150.0, "vwap_premium_low"),  # no premium
        (150.0, 160.0, "vwap_premium_low"),  # below VWAP
    ],
)
def test_stage1_rejects_just_outside(price: float, vwap: float, reason: str) -> None:
    assert stage1_reason(price, vwap, S) == reason


def test_stage1_zero_vwap_is_rejected_not_a_crash() -> None:
    assert stage1_reason(150.0, 0.0, S) == "vwap_premium_low"


def test_stage1_uses_the_settings() -> None:
    s = Settings(_env_file=None, min_entry_price=50.0, max_entry_price=120.0, min_vwap_premium=0.10)
    assert stage1_reason(60.0, 50.0, s) == ""  # 20 %
    assert stage1_reason(125.0, 50.0, s) == "price_high"
    assert stage1_reason(104.0, 100.0, s) == "vwap_premium_low"


# --- stage 2: sl = highest high + 1; 0.02 <= sl_pct <= 0.10; lots ----------------------


def test_stage2_exactly_two_percent_passes() -> None:
    ev = stage2(200.0, 203.0, S)  # sl 204, 4 points, 2 %
    assert (ev.sl_price, ev.sl_points, ev.sl_pct) == (204.0, 4.0, 0.02)
    assert ev.lots == 10  # floor(6500 / 260) = 25, capped at MAX_LOTS
    assert ev.quantity == 650
    assert ev.reason == "" and ev.qualified


def test_stage2_exactly_ten_percent_passes() -> None:
    ev = stage2(200.0, 219.0, S)  # sl 220, 20 points, 10 %
    assert (ev.sl_price, ev.sl_points, ev.sl_pct) == (220.0, 20.0, 0.1)
    assert ev.lots == 5  # 6500 / 1300
    assert ev.quantity == 325
    assert ev.qualified


def test_stage2_just_below_two_percent_fails() -> None:
    ev = stage2(200.0, 202.95, S)  # 3.95 points, 1.975 %
    assert ev.reason == "sl_pct_low"
    assert not ev.qualified


def test_stage2_just_above_ten_percent_fails() -> None:
    ev = stage2(200.0, 219.05, S)  # 20.05 points, 10.025 %
    assert ev.reason == "sl_pct_high"
    assert not ev.qualified


@pytest.mark.parametrize(
    ("price", "highest_high"),
    [
        (102.5, 103.55),  # exactly 2 %, floats: 0.019999999999999973
        (105.0, 106.1),  # exactly 2 %, floats: 0.019999999999999945
        (101.5, 110.65),  # exactly 10 %, floats: 0.10000000000000006
        (102.0, 111.2),  # exactly 10 %, floats: 0.10000000000000003
    ],
)
def test_stage2_bounds_survive_float_noise(price: float, highest_high: float) -> None:
    assert stage2(price, highest_high, S).reason == ""


def test_stage2_highest_high_below_price_is_sl_pct_low() -> None:
    ev = stage2(200.0, 190.0, S)  # sl 191 below the entry
    assert ev.reason == "sl_pct_low"
    assert ev.lots == 0


def test_stage2_lots_floor() -> None:
    ev = stage2(250.0, 260.0, S)  # 11 points: 6500 / 715 = 9.09
    assert (ev.sl_points, ev.lots, ev.quantity) == (11.0, 9, 585)
    ev = stage2(250.0, 259.0, S)  # 10 points: exactly 10 lots
    assert (ev.lots, ev.quantity) == (10, 650)
    ev = stage2(250.0, 261.0, S)  # 12 points: 8.33
    assert (ev.lots, ev.quantity) == (8, 520)


def test_stage2_max_lots_cap() -> None:
    ev = stage2(250.0, 254.0, S)  # 5 points: 20 lots uncapped
    assert (ev.lots, ev.quantity) == (10, 650)
    s = Settings(_env_file=None, max_lots=3)
    assert stage2(250.0, 254.0, s).lots == 3


def test_stage2_lots_zero() -> None:
    ev = stage2(1100.0, 1209.0, S)  # 110 points, exactly 10 %: 6500 / 7150 = 0.909
    assert ev.lots == 0 and ev.quantity == 0
    assert ev.reason == "lots_zero"
    assert not ev.qualified


def test_stage2_exactly_one_lot_qualifies() -> None:
    ev = stage2(1000.0, 1099.0, S)  # 100 points: 6500 / 6500 = 1
    assert (ev.lots, ev.quantity, ev.reason) == (1, 65, "")


def test_stage2_uses_lot_size_and_r_value() -> None:
    s = Settings(_env_file=None, lot_size=75, r_value=3000.0)
    ev = stage2(200.0, 209.0, s)  # 10 points: 3000 / 750 = 4
    assert (ev.lots, ev.quantity) == (4, 300)


def test_lots_for() -> None:
    assert lots_for(10.0, S) == 10
    assert lots_for(13.0, S) == 7  # 7.69
    assert lots_for(100.0, S) == 1
    assert lots_for(100.05, S) == 0
    assert lots_for(0.0, S) == 0
    assert lots_for(-1.0, S) == 0


def test_lots_for_float_noise() -> None:
    sl_points = 127.05 + 1.0 - 108.05  # 20.000000000000014: 6500 / (sl * 65) = 4.9999999999999964
    assert lots_for(sl_points, S) == 5


# --- stage 3 ordering ------------------------------------------------------------------


def test_best_key_distance_first() -> None:
    near = best_key(11.0, 120.0, "B", S)  # |1|
    far = best_key(14.0, 290.0, "A", S)  # |4|, even with a higher price and an earlier name
    assert near < far


def test_best_key_equal_distance_higher_price_wins() -> None:
    assert best_key(9.0, 200.0, "B", S) < best_key(11.0, 150.0, "A", S)


def test_best_key_equal_distance_float_noise_then_price() -> None:
    # 9.000000000000002 and 11.0 are both 1 point from the target
    below = best_key(9.000000000000002, 150.0, "A", S)
    assert best_key(11.0, 160.0, "B", S) < below
    assert best_key(11.0, 140.0, "B", S) > below


def test_best_key_then_symbol_name() -> None:
    assert best_key(9.0, 200.0, "NIFTY17JUN2115500CE", S) < best_key(11.0, 200.0, "NIFTY17JUN2115600CE", S)
