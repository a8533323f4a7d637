"""CandidatePool: stages 1-3 over swing, running-high and break signals (strategy.md §4-§5)."""

from __future__ import annotations

from datetime import datetime

from config.settings import Settings
from messages.base import IST, option_type_of
from messages.signals import CandidateDecided, RunningHighRaised, SwingDetected, SwingLowBroken
from strategy.pool import CandidatePool

S = Settings(_env_file=None)
CE_A = "NIFTY17JUN2115500CE"
CE_B = "NIFTY17JUN2115600CE"
CE_C = "NIFTY17JUN2115700CE"
PE_A = "NIFTY17JUN2115500PE"


def t(minute: int, second: int = 0) -> datetime:
    return datetime(2021, 6, 11, 10, minute, second, tzinfo=IST)


def swing(
    symbol: str,
    price: float,
    highest_high: float,
    bar: int = 0,
    vwap: float | None = None,
    swing_type: str = "LOW",
    update: bool = False,
) -> SwingDetected:
    """A swing at bar minute ``bar`` confirmed two minutes later; VWAP 20 % below the price unless given."""
    return SwingDetected(
        time=t(bar + 3),
        symbol=symbol,
        option_type=option_type_of(symbol),
        swing_type=swing_type,
        update=update,
        price=price,
        bar_time=t(bar),
        confirmed_at=t(bar + 2),
        vwap_at_swing=price / 1.2 if vwap is None else vwap,
        highest_high=highest_high,
    )


def raised(symbol: str, price: float, second: int = 0, restart_for: datetime | None = None) -> RunningHighRaised:
    return RunningHighRaised(symbol=symbol, price=price, time=t(50, second), restart_for=restart_for)


def broken(symbol: str, bar: int, price: float) -> SwingLowBroken:
    return SwingLowBroken(symbol=symbol, swing_bar_time=t(bar), price=price, ltp=round(price - 0.05, 2), time=t(55))


def summary(decisions: list[CandidateDecided]) -> list[tuple[str, str, str | None]]:
    return [(d.decision, d.reason, d.symbol) for d in decisions]


def pool_with(*swings: SwingDetected) -> CandidatePool:
    pool = CandidatePool(S)
    for s in swings:
        pool.on_swing(s)
    return pool


# --- stage 1 through the pool ------------------------------------------------------


def test_passing_swing_is_added_and_evaluated() -> None:
    pool = CandidatePool(S)
    decisions = pool.on_swing(swing(CE_A, 200.0, 208.0, vwap=180.0))
    assert summary(decisions) == [("added", "", CE_A), ("qualified", "", CE_A)]
    added, qualified = decisions
    assert (added.price, added.vwap_at_swing, added.option_type, added.time) == (200.0, 180.0, "CE", t(3))
    assert (qualified.sl_price, qualified.sl_pct, qualified.quantity) == (209.0, 0.045, 650)
    assert set(pool.candidates) == {CE_A}


def test_passing_swing_that_fails_stage2_is_added_disqualified() -> None:
    pool = CandidatePool(S)
    decisions = pool.on_swing(swing(CE_A, 200.0, 230.0))  # 31 points, 15.5 %
    assert summary(decisions) == [("added", "", CE_A), ("disqualified", "sl_pct_high", CE_A)]
    assert pool.best("CE") is None
    assert CE_A in pool.candidates


def test_stage1_rejections_carry_their_reason() -> None:
    pool = CandidatePool(S)
    assert summary(pool.on_swing(swing(CE_A, 99.95, 105.0, vwap=80.0))) == [("rejected", "price_low", CE_A)]
    assert summary(pool.on_swing(swing(CE_A, 300.05, 310.0, vwap=250.0))) == [("rejected", "price_high", CE_A)]
    assert summary(pool.on_swing(swing(CE_A, 103.95, 110.0, vwap=100.0))) == [("rejected", "vwap_premium_low", CE_A)]
    assert pool.candidates == {}


def test_stage1_boundaries_pass_through_the_pool() -> None:
    pool = CandidatePool(S)
    assert summary(pool.on_swing(swing(CE_A, 100.0, 105.0, vwap=90.0)))[0] == ("added", "", CE_A)
    assert summary(pool.on_swing(swing(CE_B, 300.0, 310.0, vwap=250.0)))[0] == ("added", "", CE_B)
    assert summary(pool.on_swing(swing(CE_C, 104.0, 110.0, vwap=100.0)))[0] == ("added", "", CE_C)


def test_swing_high_is_ignored() -> None:
    pool = CandidatePool(S)
    assert pool.on_swing(swing(CE_A, 250.0, 250.0, swing_type="HIGH")) == []
    assert pool.candidates == {}


# --- replacement, failing newer swings, breaks ----------------------------------------


def test_newer_passing_swing_replaces_older() -> None:
    pool = pool_with(swing(CE_A, 200.0, 208.0, bar=0, vwap=190.0))
    decisions = pool.on_swing(swing(CE_A, 220.0, 229.0, bar=10, vwap=200.0))
    assert summary(decisions) == [("removed", "replaced", CE_A), ("added", "", CE_A), ("qualified", "", CE_A)]
    removed, added = decisions[0], decisions[1]
    # the removal names the candidate it removed, the addition the new one
    assert (removed.price, removed.vwap_at_swing) == (200.0, 190.0)
    assert (added.price, added.vwap_at_swing) == (220.0, 200.0)
    cand = pool.candidates[CE_A]
    assert (cand.price, cand.bar_time, cand.highest_high) == (220.0, t(10), 229.0)
    best = pool.best("CE")
    assert best is not None and best.swing_price == 220.0 and best.swing_bar_time == t(10)


def test_updated_swing_low_replaces_the_candidate() -> None:
    pool = pool_with(swing(CE_A, 200.0, 208.0, bar=0, vwap=180.0))
    decisions = pool.on_swing(swing(CE_A, 195.0, 204.0, bar=5, vwap=180.0, update=True))
    assert summary(decisions) == [("removed", "replaced", CE_A), ("added", "", CE_A), ("qualified", "", CE_A)]
    assert pool.candidates[CE_A].price == 195.0


def test_failing_newer_swing_leaves_older_candidate() -> None:
    pool = pool_with(swing(CE_A, 200.0, 208.0, bar=0))
    decisions = pool.on_swing(swing(CE_A, 320.0, 330.0, bar=10))
    assert summary(decisions) == [("rejected", "price_high", CE_A)]
    cand = pool.candidates[CE_A]
    assert (cand.price, cand.bar_time) == (200.0, t(0))
    best = pool.best("CE")
    assert best is not None and best.swing_price == 200.0


def test_break_removes_only_the_matching_swing() -> None:
    pool = pool_with(swing(CE_A, 200.0, 208.0, bar=0))
    pool.on_swing(swing(CE_A, 250.0, 260.0, bar=10, vwap=245.0))  # newer swing fails stage 1 (2 %)
    assert pool.on_break(broken(CE_A, 10, 250.0)) == []  # the newer, rejected swing breaks
    assert pool.candidates[CE_A].bar_time == t(0)
    assert pool.on_break(broken(CE_B, 0, 200.0)) == []  # another symbol
    assert CE_A in pool.candidates
    decisions = pool.on_break(broken(CE_A, 0, 200.0))
    assert summary(decisions) == [("removed", "broken", CE_A)]
    assert (decisions[0].price, decisions[0].time) == (200.0, t(55))
    assert pool.candidates == {}
    assert pool.best("CE") is None
    assert pool.on_break(broken(CE_A, 0, 200.0)) == []  # twice is harmless


def test_broken_candidate_is_not_revived_by_a_running_high() -> None:
    pool = pool_with(swing(CE_A, 200.0, 208.0, bar=0))
    pool.on_break(broken(CE_A, 0, 200.0))
    assert pool.on_high(raised(CE_A, 209.0)) == []
    assert pool.best("CE") is None


# --- stage 2 again on a new running high ----------------------------------------------


def test_running_high_reevaluates() -> None:
    pool = pool_with(swing(CE_A, 200.0, 203.0))  # 4 points, 2 %, 10 lots
    assert pool.on_high(raised(CE_A, 210.0)) == []  # still qualified: no decision, new numbers
    best = pool.best("CE")
    assert best is not None
    assert (best.highest_high, best.sl_price, best.sl_points, best.lots, best.quantity) == (210.0, 211.0, 11.0, 9, 585)
    assert pool.on_high(raised(CE_A, 205.0)) == []  # not higher: ignored
    assert pool.best("CE").highest_high == 210.0
    decisions = pool.on_high(raised(CE_A, 220.0))  # 21 points, 10.5 %
    assert summary(decisions) == [("disqualified", "sl_pct_high", CE_A)]
    assert (decisions[0].sl_price, decisions[0].sl_pct) == (221.0, 0.105)
    assert pool.best("CE") is None
    assert pool.on_high(raised(CE_A, 225.0)) == []  # same reason again: no new decision


def test_running_high_can_qualify_a_candidate() -> None:
    pool = CandidatePool(S)
    assert summary(pool.on_swing(swing(CE_A, 200.0, 201.0)))[-1] == ("disqualified", "sl_pct_low", CE_A)
    decisions = pool.on_high(raised(CE_A, 203.0))
    assert summary(decisions) == [("qualified", "", CE_A)]
    assert decisions[0].quantity == 650
    assert pool.best("CE").symbol == CE_A


def test_restart_replaces_highest_high_even_lower() -> None:
    # swing bar is the confirming bar: highest high = swing bar's high 215 (16 points, 8 %)
    pool = pool_with(swing(CE_A, 200.0, 215.0, bar=7))
    assert pool.best("CE").sl_points == 16.0
    decisions = pool.on_high(raised(CE_A, 202.5, restart_for=t(7)))  # the next bar starts at 202.5
    assert summary(decisions) == [("disqualified", "sl_pct_low", CE_A)]  # 3.5 points, 1.75 %
    assert pool.candidates[CE_A].highest_high == 202.5


def test_restart_for_another_swing_bar_acts_as_a_plain_maximum() -> None:
    pool = pool_with(swing(CE_A, 200.0, 215.0, bar=7))
    assert pool.on_high(raised(CE_A, 202.5, restart_for=t(20))) == []
    assert pool.candidates[CE_A].highest_high == 215.0
    pool.on_high(raised(CE_A, 216.0, restart_for=t(20)))
    assert pool.candidates[CE_A].highest_high == 216.0


def test_running_high_without_candidate() -> None:
    assert CandidatePool(S).on_high(raised(CE_A, 300.0)) == []


# --- stage 3 and the entry candidate ----------------------------------------------------


def test_best_minimises_distance_to_ten_points() -> None:
    pool = pool_with(
        swing(CE_A, 290.0, 303.0),  # 14 points: |4|
        swing(CE_B, 150.0, 160.0),  # 11 points: |1|
        swing(CE_C, 250.0, 256.0),  # 7 points: |3|
    )
    assert pool.best("CE").symbol == CE_B


def test_best_tie_on_distance_goes_to_higher_price() -> None:
    pool = pool_with(
        swing(CE_A, 150.0, 160.0),  # 11 points: |1|
        swing(CE_B, 200.0, 208.0),  # 9 points: |1|, higher price
    )
    assert pool.best("CE").symbol == CE_B


def test_best_tie_on_distance_and_price_goes_to_symbol_name() -> None:
    pool = pool_with(
        swing(CE_C, 200.0, 209.0),
        swing(CE_B, 200.0, 209.0),
        swing(CE_A, 200.0, 209.0),
    )
    assert pool.best("CE").symbol == CE_A


def test_best_skips_disqualified_candidates() -> None:
    pool = pool_with(
        swing(CE_A, 200.0, 209.0),  # 10 points exactly, but disqualified below
        swing(CE_B, 150.0, 163.0),  # 14 points
    )
    pool.on_high(raised(CE_A, 230.0))
    assert pool.best("CE").symbol == CE_B


def test_best_per_type_is_independent() -> None:
    pool = pool_with(
        swing(CE_A, 150.0, 163.0),  # CE 14 points
        swing(PE_A, 200.0, 209.0),  # PE 10 points: better, but another type
    )
    assert pool.best("CE").symbol == CE_A
    assert pool.best("PE").symbol == PE_A
    assert pool.best("PE").option_type == "PE"
    pool.on_break(broken(CE_A, 0, 150.0))
    assert pool.best("CE") is None
    assert pool.best("PE").symbol == PE_A


def test_entry_candidate_prices() -> None:
    pool = pool_with(swing(CE_A, 150.0, 159.0, bar=4))
    best = pool.best("CE")
    assert best is not None
    assert best.model_dump() == {
        "symbol": CE_A,
        "option_type": "CE",
        "swing_price": 150.0,
        "swing_bar_time": t(4),
        "highest_high": 159.0,
        "sl_price": 160.0,
        "sl_points": 10.0,
        "lots": 10,
        "quantity": 650,
        "trigger_price": 149.95,
        "limit_price": 146.95,
    }


def test_entry_candidate_prices_on_the_tick_grid_despite_float_noise() -> None:
    pool = pool_with(swing(CE_A, 123.45, 130.0), swing(CE_B, 128.1, 135.0))
    a = pool.best("CE")
    assert a is not None and a.symbol == CE_B  # 7.9 points beats 7.55
    assert (a.trigger_price, a.limit_price) == (128.05, 125.05)  # 128.1 - 0.05 is 128.04999999999998
    pool.on_break(broken(CE_B, 0, 128.1))
    b = pool.best("CE")
    assert b is not None
    assert (b.trigger_price, b.limit_price, b.sl_price, b.sl_points) == (123.4, 120.4, 131.0, 7.55)
    assert b.lots == 10 and b.quantity == 650


def test_entry_trigger_off_grid_swing_price_goes_to_grid_below() -> None:
    pool = pool_with(swing(CE_A, 150.03, 159.0))
    best = pool.best("CE")
    assert (best.trigger_price, best.limit_price) == (149.95, 146.95)


def test_entry_candidate_uses_offsets_from_settings() -> None:
    s = Settings(_env_file=None, entry_limit_offset=5.0)
    pool = CandidatePool(s)
    pool.on_swing(swing(CE_A, 150.0, 159.0))
    best = pool.best("CE")
    assert (best.trigger_price, best.limit_price) == (149.95, 144.95)


# --- session end --------------------------------------------------------------------


def test_end_session_empties_the_pool() -> None:
    pool = pool_with(swing(PE_A, 200.0, 209.0), swing(CE_B, 150.0, 159.0), swing(CE_A, 151.0, 160.0))
    decisions = pool.end_session(t(20))
    assert summary(decisions) == [  # by symbol name
        ("removed", "session_end", CE_A),  # ...15500CE
        ("removed", "session_end", PE_A),  # ...15500PE
        ("removed", "session_end", CE_B),  # ...15600CE
    ]
    assert all(d.time == t(20) for d in decisions)
    assert pool.candidates == {}
    assert pool.best("CE") is None and pool.best("PE") is None
    assert pool.end_session(t(21)) == []


def test_best_skips_the_symbols_given_and_keeps_their_candidates() -> None:
    """One position per symbol (strategy.md §4): a symbol with an open position is skipped."""
    pool = pool_with(swing(CE_A, 200.0, 208.0, bar=0), swing(CE_B, 150.0, 158.0, bar=0))
    first = pool.best("CE")
    assert first is not None
    other = pool.best("CE", skip=frozenset({first.symbol}))
    assert other is not None and other.symbol != first.symbol
    assert pool.best("CE", skip=frozenset({CE_A, CE_B})) is None
    assert set(pool.candidates) == {CE_A, CE_B}
