"""FilterSupervisor: swings, running highs and breaks in; decisions to the journal,
EntryIntent to the OrderActor of the type (strategy.md §4)."""

from __future__ import annotations

from datetime import datetime

import pytest

from actors.filter_supervisor import FilterSupervisor
from actors.names import FILTER, JOURNAL, order_actor
from messages.portfolio import OpenSymbols, SessionEndDue
from messages.market import Bar
from messages.signals import (
    BarClosed,
    BarsClosed,
    CandidateDecided,
    EntryIntent,
    RunningHighRaised,
    SwingDetected,
    SwingLowBroken,
    SymbolSignals,
)
from tests.actors.probe import Harness, Probe, t

CE = "NIFTY17JUN2115500CE"
CE2 = "NIFTY17JUN2115600CE"
PE = "NIFTY17JUN2115500PE"
CE_ORDERS, PE_ORDERS = order_actor("CE"), order_actor("PE")


@pytest.fixture
def rig(harness: Harness) -> tuple[Harness, Probe, Probe, Probe]:
    journal = harness.probe(JOURNAL)
    ce = harness.probe(CE_ORDERS)
    pe = harness.probe(PE_ORDERS)
    harness.start(FilterSupervisor, FILTER)
    return harness, journal, ce, pe


def swing_low(
    symbol: str = CE,
    price: float = 150.0,
    vwap: float = 140.0,
    highest_high: float = 157.0,
    bar: datetime = t(9, 20),
    at: datetime = t(9, 23, 1),
    update: bool = False,
    swing_type: str = "LOW",
) -> SwingDetected:
    return SwingDetected(
        time=at, symbol=symbol, option_type=symbol[-2:], swing_type=swing_type, update=update, price=price,
        bar_time=bar, confirmed_at=t(9, 22), vwap_at_swing=vwap, highest_high=highest_high,
    )


def batch(*signals: SwingDetected | RunningHighRaised | SwingLowBroken) -> SymbolSignals:
    """What a SymbolActor sends for one input: its signals in order."""
    return SymbolSignals(symbol=signals[0].symbol, signals=list(signals), time=signals[-1].time)


def send(h: Harness, *messages: object) -> None:
    """Each message at its own time, as live (the clock reaches it first), then the instant ends."""
    for message in messages:
        if message.time > h.clock.now():
            h.advance(message.time)
        h.tell(FILTER, message)
    h.advance(h.clock.now())  # stage 3 runs once the instant is over


def decisions(journal: Probe) -> list[tuple]:
    return [(d.symbol, d.decision, d.reason) for d in journal.of(CandidateDecided)]


def test_passing_swing_low_is_added_qualified_and_sent_as_entry_intent(rig) -> None:
    h, journal, ce, pe = rig
    # price 150, vwap 140: premium 7.1 %; stop 157 + 1 = 158: 8 points, 5.3 %; 6500 / (8 * 65) = 12 -> 10 lots
    send(h, batch(swing_low()))

    assert decisions(journal) == [(CE, "added", ""), (CE, "qualified", ""), (CE, "best", "")]
    added, qualified, best = journal.of(CandidateDecided)
    assert (added.price, added.vwap_at_swing) == (150.0, 140.0)
    assert (qualified.sl_price, qualified.quantity) == (158.0, 650)
    assert qualified.sl_pct == pytest.approx(8 / 150, abs=1e-6)
    assert (best.option_type, best.price, best.sl_price, best.quantity) == ("CE", 150.0, 158.0, 650)

    [intent] = ce.received
    assert isinstance(intent, EntryIntent) and intent.option_type == "CE" and intent.time == t(9, 23, 1)
    c = intent.candidate
    assert (c.symbol, c.option_type, c.swing_price, c.swing_bar_time) == (CE, "CE", 150.0, t(9, 20))
    assert (c.highest_high, c.sl_price, c.sl_points, c.lots, c.quantity) == (157.0, 158.0, 8.0, 10, 650)
    assert (c.trigger_price, c.limit_price) == (149.95, 146.95)  # one tick below the low; limit 3 below
    assert pe.received == []

    sent = h.sent(JOURNAL, CE_ORDERS)
    assert sent[-1] == (CE_ORDERS, intent), "the best decision is journaled before the intent goes out"


@pytest.mark.parametrize(
    ("price", "vwap", "reason"),
    [(99.95, 90.0, "price_low"), (300.05, 280.0, "price_high"), (150.0, 145.0, "vwap_premium_low")],
)
def test_swing_failing_stage_1_is_rejected_and_sends_no_intent(rig, price, vwap, reason) -> None:
    h, journal, ce, _pe = rig
    send(h, batch(swing_low(price=price, vwap=vwap, highest_high=price + 7)))
    assert decisions(journal) == [(CE, "rejected", reason)]
    assert ce.received == []


def test_swing_high_is_ignored(rig) -> None:
    h, journal, ce, _pe = rig
    send(h, batch(swing_low(swing_type="HIGH")))
    assert journal.received == [] and ce.received == []


def test_candidate_failing_stage_2_is_disqualified_without_intent(rig) -> None:
    h, journal, ce, _pe = rig
    send(h, batch(swing_low(highest_high=150.5)))  # stop 151.5: 1 % < 2 %
    assert decisions(journal) == [(CE, "added", ""), (CE, "disqualified", "sl_pct_low")]
    assert ce.received == []


def test_running_high_changing_the_quantity_sends_a_new_intent(rig) -> None:
    h, journal, ce, _pe = rig
    send(h, batch(swing_low()))
    journal.clear()

    send(h, batch(RunningHighRaised(symbol=CE, price=160.0, time=t(9, 23, 30))))
    # stop 161: 11 points -> floor(6500 / 715) = 9 lots = 585
    [best] = journal.of(CandidateDecided)
    assert (best.decision, best.sl_price, best.quantity) == ("best", 161.0, 585)
    first, second = ce.received
    c = second.candidate
    assert (c.sl_price, c.sl_points, c.lots, c.quantity, c.highest_high) == (161.0, 11.0, 9, 585, 160.0)
    assert (c.trigger_price, c.limit_price) == (149.95, 146.95)
    assert second.time == t(9, 23, 30)


def test_running_high_changing_only_the_stop_sends_a_new_intent(rig) -> None:
    h, journal, ce, _pe = rig
    send(h, batch(swing_low()))
    journal.clear()

    send(h, batch(RunningHighRaised(symbol=CE, price=157.5, time=t(9, 23, 30))))
    # stop 158.5: same trigger and quantity, so no new "best" decision, but the stop price changed
    assert journal.received == []
    assert len(ce.received) == 2
    assert (ce.received[1].candidate.sl_price, ce.received[1].candidate.quantity) == (158.5, 650)


def test_running_high_not_above_the_highest_high_changes_nothing(rig) -> None:
    h, journal, ce, _pe = rig
    send(h, batch(swing_low()))
    journal.clear()
    send(h, batch(RunningHighRaised(symbol=CE, price=156.0, time=t(9, 23, 30))))
    assert journal.received == [] and len(ce.received) == 1


def test_running_high_disqualifying_the_best_sends_intent_none(rig) -> None:
    h, journal, ce, _pe = rig
    send(h, batch(swing_low()))
    journal.clear()
    send(h, batch(RunningHighRaised(symbol=CE, price=170.0, time=t(9, 24))))  # stop 171: 14 %
    assert decisions(journal) == [(CE, "disqualified", "sl_pct_high"), (None, "best", "")]
    assert ce.received[-1] == EntryIntent(option_type="CE", candidate=None, time=t(9, 24))


def test_break_removes_the_candidate_and_sends_intent_none(rig) -> None:
    h, journal, ce, _pe = rig
    send(h, batch(swing_low()))
    journal.clear()

    send(h, batch(SwingLowBroken(symbol=CE, swing_bar_time=t(9, 20), price=150.0, ltp=149.9, time=t(9, 25))))
    assert decisions(journal) == [(CE, "removed", "broken"), (None, "best", "")]
    assert journal.of(CandidateDecided)[0].price == 150.0
    assert ce.received[-1] == EntryIntent(option_type="CE", candidate=None, time=t(9, 25))

    # a broken low never comes back: a later high does not revive it
    send(h, batch(RunningHighRaised(symbol=CE, price=151.0, time=t(9, 26))))
    assert len(ce.received) == 2


def test_break_of_an_older_swing_low_leaves_the_candidate(rig) -> None:
    h, journal, ce, _pe = rig
    send(h, batch(swing_low()))
    journal.clear()
    send(h, batch(SwingLowBroken(symbol=CE, swing_bar_time=t(9, 5), price=140.0, ltp=139.0, time=t(9, 25))))
    assert journal.received == [] and len(ce.received) == 1


def test_failed_stage_1_keeps_the_older_candidate(rig) -> None:
    h, journal, ce, _pe = rig
    send(h, batch(swing_low()))
    journal.clear()
    send(h, batch(swing_low(price=148.0, vwap=146.0, bar=t(9, 24), at=t(9, 26, 1), update=True)))
    assert decisions(journal) == [(CE, "rejected", "vwap_premium_low")]
    assert len(ce.received) == 1


def test_pe_candidate_goes_to_the_pe_order_actor(rig) -> None:
    h, journal, ce, pe = rig
    send(h, batch(swing_low(symbol=PE)))
    assert ce.received == []
    [intent] = pe.received
    assert (intent.option_type, intent.candidate.symbol, intent.candidate.quantity) == ("PE", PE, 650)
    assert decisions(journal)[-1] == (PE, "best", "")


def test_best_of_two_is_the_one_closest_to_ten_points_of_stop(rig) -> None:
    h, journal, ce, _pe = rig
    send(h, batch(swing_low()))  # 8 points
    send(h, batch(swing_low(symbol=CE2, price=200.0, vwap=190.0, highest_high=209.5, at=t(9, 23, 2))))  # 10.5
    assert [i.candidate.symbol for i in ce.received] == [CE, CE2]
    assert ce.received[1].candidate.sl_points == 10.5

    # CE2 breaks: the best falls back to CE
    send(h, batch(SwingLowBroken(symbol=CE2, swing_bar_time=t(9, 20), price=200.0, ltp=199.0, time=t(9, 25))))
    assert [i.candidate.symbol for i in ce.received] == [CE, CE2, CE]


def test_session_end_empties_the_pool(rig) -> None:
    h, journal, ce, pe = rig
    send(h, batch(swing_low()))
    journal.clear()
    send(h, SessionEndDue(time=t(15, 30)))
    assert decisions(journal) == [(CE, "removed", "session_end"), (None, "best", "")]
    assert ce.received[-1] == EntryIntent(option_type="CE", candidate=None, time=t(15, 30))
    assert pe.received == []


def test_a_swing_low_created_and_broken_by_one_trade_never_becomes_an_intent(rig) -> None:
    h, journal, ce, _pe = rig
    swing = swing_low(at=t(9, 23, 1))
    broken = SwingLowBroken(symbol=CE, swing_bar_time=t(9, 20), price=150.0, ltp=149.0, time=t(9, 23, 1))
    send(h, batch(swing, broken))
    assert ce.received == []
    assert decisions(journal) == [(CE, "added", ""), (CE, "qualified", ""), (CE, "removed", "broken")]


def test_stage_3_runs_once_per_instant(rig) -> None:
    """Defect 6 (2021-06-11 12:20:00): replay's ticks of one instant reach the filter symbol by
    symbol; a best that exists only part-way through the instant must never be published."""
    h, journal, ce, _pe = rig
    h.advance(t(9, 23, 1))
    # CE2 (10.5 points) is the best; then, at the same instant, CE (10 points) arrives and breaks nothing
    h.tell(FILTER, batch(swing_low(symbol=CE2, price=200.0, vwap=190.0, highest_high=209.5, at=t(9, 23, 1))))
    h.tell(FILTER, batch(swing_low(symbol=CE, price=150.0, vwap=140.0, highest_high=159.0, at=t(9, 23, 1))))
    assert ce.received == []  # nothing while the instant lasts
    h.advance(t(9, 23, 2))  # the clock moves on: the instant is over
    [intent] = ce.received
    assert (intent.candidate.symbol, intent.time) == (CE, t(9, 23, 1))
    assert [d for d in decisions(journal) if d[1] == "best"] == [(CE, "best", "")]


def test_a_symbol_with_an_open_position_is_skipped_until_it_closes(rig) -> None:
    """Defect 4 (2021-06-11: 15850PE held three times): one position per symbol (strategy.md §4)."""
    h, journal, ce, _pe = rig
    send(h, batch(swing_low(symbol=CE)))  # 8 points: the best
    send(h, batch(swing_low(symbol=CE2, price=200.0, vwap=190.0, highest_high=214.0, at=t(9, 23, 2))))  # 15 points
    assert [i.candidate.symbol for i in ce.received] == [CE]
    send(h, OpenSymbols(symbols=frozenset({CE}), time=t(9, 24)))
    assert [i.candidate.symbol for i in ce.received] == [CE, CE2]  # CE's candidate stays, but is skipped
    send(h, OpenSymbols(symbols=frozenset(), time=t(9, 40)))
    assert [i.candidate.symbol for i in ce.received] == [CE, CE2, CE]
    assert ce.received[-1].time == t(9, 40)


def test_signals_after_the_session_end_are_dropped(rig) -> None:
    h, journal, ce, _pe = rig
    send(h, SessionEndDue(time=t(15, 30)))
    journal.clear()
    send(h, batch(swing_low(at=t(15, 30, 1))))
    assert journal.received == [] and ce.received == []


def _closed(symbol: str, start: datetime, at: datetime) -> BarClosed:
    bar = Bar(symbol=symbol, start=start, open=150.0, high=152.0, low=149.0, close=151.0, volume=650)
    return BarClosed(symbol=symbol, bar=bar, vwap=150.5, time=at)


def test_the_bars_of_a_minute_go_to_the_journal_in_one_message_once_it_is_over(rig) -> None:
    h, journal, _ce, _pe = rig
    send(h, SymbolSignals(symbol=CE, signals=[_closed(CE, t(9, 20), t(9, 21, 0))], time=t(9, 21, 0)),
         SymbolSignals(symbol=PE, signals=[_closed(PE, t(9, 20), t(9, 21, 15))], time=t(9, 21, 15)))
    assert journal.of(BarsClosed) == [], "the minute is not over"
    send(h, SymbolSignals(symbol=CE, signals=[_closed(CE, t(9, 21), t(9, 22, 0))], time=t(9, 22, 0)))
    [first] = journal.of(BarsClosed)
    assert [(b.symbol, b.bar.start) for b in first.bars] == [(CE, t(9, 20)), (PE, t(9, 20))]
    send(h, SessionEndDue(time=t(9, 23)))
    assert [(b.symbol, b.bar.start) for b in journal.of(BarsClosed)[1].bars] == [(CE, t(9, 21))]
    # a bar the close closes after the filter's own end still reaches the journal
    send(h, SymbolSignals(symbol=PE, signals=[_closed(PE, t(9, 22), t(9, 23))], time=t(9, 23)))
    assert [(b.symbol, b.bar.start) for b in journal.of(BarsClosed)[2].bars] == [(PE, t(9, 22))]


def test_the_bars_of_the_minute_in_progress_reach_the_journal_when_it_stops(rig) -> None:
    h, journal, _ce, _pe = rig
    send(h, SymbolSignals(symbol=CE, signals=[_closed(CE, t(9, 20), t(9, 21, 0))], time=t(9, 21, 0)))
    assert journal.of(BarsClosed) == []
    h.router.ref(FILTER).stop()  # Ctrl-C: the graph stops the filter before the journal
    h.quiet()
    [last] = journal.of(BarsClosed)
    assert [(b.symbol, b.bar.start) for b in last.bars] == [(CE, t(9, 20))]
