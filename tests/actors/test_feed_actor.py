"""FeedActor: connection events, ticks and history in; Tick / HistoryBars / FeedLost out.

The WebSocket client is replaced by a stub (the actor only starts and stops
it); its callbacks are played as the messages they become. History comes
from a dict of bars per symbol.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from actors.feed import BackfillDue, FeedActor, FeedConnected, FeedDisconnected
from actors.names import FEED, JOURNAL, PORTFOLIO, order_actor, symbol_actor
from messages.market import Bar, FeedLost, HistoryBars, ResendWatch, Tick, WatchSymbols
from messages.system import Alert
from tests.actors.probe import Harness, t

CE = "NIFTY17JUN2115600CE"
PE = "NIFTY17JUN2115600PE"


class _StubFeed:
    def __init__(self) -> None:
        self.started = 0
        self.stopped = 0

    def start(self) -> None:
        self.started += 1

    def stop(self, timeout: float = 5.0) -> None:
        self.stopped += 1


def _bar(symbol: str, start: datetime, price: float = 120.0) -> Bar:
    return Bar(symbol=symbol, start=start, open=price, high=price + 1, low=price - 1, close=price, volume=100)


class Rig:
    def __init__(self, h: Harness) -> None:
        self.h = h
        self.symbols = {s: h.probe(symbol_actor(s)) for s in (CE, PE)}
        self.watchers = {n: h.probe(n) for n in (order_actor("CE"), order_actor("PE"), PORTFOLIO)}
        self.history: dict[str, list[Bar]] = {CE: [], PE: []}
        self.history_calls: list[str] = []
        self.warm = 0
        self.feed = _StubFeed()
        self.ref = h.start(FeedActor, FEED, [CE, PE], lambda _callbacks: self.feed, self._fetch, self._on_warm)

    def _fetch(self, symbol: str) -> list[Bar]:
        self.history_calls.append(symbol)
        return list(self.history[symbol])

    def _on_warm(self) -> None:
        self.warm += 1

    def history_sent(self, symbol: str) -> list[HistoryBars]:
        return self.symbols[symbol].of(HistoryBars)


@pytest.fixture
def rig(make_harness) -> Rig:
    return Rig(make_harness(start=t(9, 20, 30)))


def test_it_starts_the_feed_and_asks_watchers_to_resend(rig: Rig) -> None:
    rig.h.quiet()
    assert rig.feed.started == 1
    for probe in rig.watchers.values():
        assert len(probe.of(ResendWatch)) == 1


def test_first_connection_warms_every_symbol_from_history(rig: Rig) -> None:
    rig.history[CE] = [_bar(CE, t(9, 15)), _bar(CE, t(9, 16))]
    rig.h.tell(FEED, FeedConnected(connection=1, time=t(9, 20, 30)))
    [warm_ce] = rig.history_sent(CE)
    assert [b.start for b in warm_ce.bars] == [t(9, 15), t(9, 16)]
    assert (warm_ce.until, warm_ce.reconnected) == (t(9, 20), False)
    [warm_pe] = rig.history_sent(PE)
    assert warm_pe.bars == []
    assert rig.warm == 1


def test_ticks_go_to_their_symbol_and_to_watchers_that_asked(rig: Rig) -> None:
    rig.h.tell(FEED, FeedConnected(connection=1, time=t(9, 20, 30)))
    rig.h.tell(FEED, WatchSymbols(watcher=order_actor("CE"), symbols=frozenset({CE}), time=t(9, 20, 30)))
    rig.h.tell(
        FEED,
        Tick(symbol=CE, time=t(9, 20, 31), ltp=120.0),
        Tick(symbol=PE, time=t(9, 20, 31), ltp=80.0),
        Tick(symbol="NIFTY17JUN2199999CE", time=t(9, 20, 31), ltp=1.0),
    )
    assert [m.ltp for m in rig.symbols[CE].of(Tick)] == [120.0]
    assert [m.ltp for m in rig.symbols[PE].of(Tick)] == [80.0]
    assert [m.symbol for m in rig.watchers[order_actor("CE")].of(Tick)] == [CE]
    assert rig.watchers[order_actor("PE")].of(Tick) == []


def test_a_reconnect_back_fills_the_gap_and_then_the_reconnect_minute(rig: Rig) -> None:
    h = rig.h
    h.tell(FEED, FeedConnected(connection=1, time=t(9, 20, 30)))
    h.tell(FEED, Tick(symbol=CE, time=t(9, 20, 40), ltp=120.0))
    h.tell(FEED, FeedDisconnected(reason="dropped", time=t(9, 20, 50)))
    assert len(rig.symbols[CE].of(FeedLost)) == 1
    h.advance(t(9, 23, 10))
    h.tell(FEED, FeedConnected(connection=2, time=t(9, 23, 10)))
    h.tell(FEED, Tick(symbol=CE, time=t(9, 23, 15), ltp=121.0))
    second = rig.history_sent(CE)[1]
    assert (second.until, second.reconnected) == (t(9, 23), True)

    h.advance(t(9, 24, 4))
    assert len(rig.history_sent(CE)) == 2, "the reconnect minute is fetched only once it has ended"
    h.advance(t(9, 24, 5))
    third = rig.history_sent(CE)[2]
    assert (third.until, third.reconnected) == (t(9, 24), False)
    h.advance(t(9, 30))
    assert len(rig.history_sent(CE)) == 3, "ticks flowed again: no more back-fill"


def test_a_reconnect_that_stays_quiet_back_fills_each_minute_until_ticks_flow(rig: Rig) -> None:
    h = rig.h
    h.tell(FEED, FeedConnected(connection=1, time=t(9, 20, 30)))
    h.tell(FEED, Tick(symbol=CE, time=t(9, 20, 40), ltp=120.0))
    h.tell(FEED, FeedDisconnected(reason="mute", time=t(9, 21, 40)))
    h.advance(t(9, 22, 55))
    h.tell(FEED, FeedConnected(connection=2, time=t(9, 22, 55)))  # live again, but no tick in 09:22 or 09:23
    h.advance(t(9, 24, 5))
    assert [m.until for m in rig.history_sent(CE)] == [t(9, 20), t(9, 22), t(9, 23), t(9, 24)]
    h.tell(FEED, Tick(symbol=PE, time=t(9, 24, 10), ltp=80.0))  # any symbol's tick shows the feed is flowing
    h.advance(t(9, 30))
    assert [m.until for m in rig.history_sent(CE)] == [t(9, 20), t(9, 22), t(9, 23), t(9, 24), t(9, 25)]


def test_quiet_back_fill_stops_at_the_market_close(rig: Rig) -> None:
    h = rig.h
    h.tell(FEED, FeedConnected(connection=1, time=t(9, 20, 30)))
    h.clock.schedule(t(15, 29, 5), FEED, BackfillDue(time=t(15, 29, 5)))
    h.advance(t(15, 29, 5))
    h.advance(t(15, 40))
    assert [m.until for m in rig.history_sent(CE)][1:] == [t(15, 29), t(15, 30)]


def test_stopping_the_actor_stops_the_feed(rig: Rig) -> None:
    rig.h.quiet()
    rig.ref.stop()
    assert rig.feed.stopped == 1


def test_ticks_that_cannot_be_real_go_nowhere_and_are_counted_in_the_heartbeat(rig: Rig, capsys) -> None:
    """strategy.md §2: rejected at the edge, so neither the SymbolActor nor a watcher sees them."""
    rig.h.tell(FEED, WatchSymbols(watcher=PORTFOLIO, symbols=frozenset({CE}), time=t(9, 20, 30)))
    year_5138 = datetime(5138, 6, 11, 9, 20, 35, tzinfo=t(9, 20).tzinfo)
    bad = [
        Tick.model_construct(symbol=CE, time=year_5138, ltp=120.0, volume=100),
        Tick.model_construct(symbol=CE, time=t(9, 20, 35), ltp=float("nan"), volume=100),
        Tick.model_construct(symbol=CE, time=t(9, 20, 35), ltp=1e12, volume=100),  # above the strike
        Tick.model_construct(symbol=CE, time=t(9, 20, 36), ltp=120.0, volume=-5),
        Tick.model_construct(symbol=CE, time=t(9, 20, 41), ltp=120.0, volume=100),  # 11 s ahead of the clock
        Tick.model_construct(symbol=PE, time=year_5138, ltp=120.0, volume=100),
    ]
    rig.h.tell(FEED, *bad)
    assert rig.symbols[CE].of(Tick) == [] and rig.symbols[PE].of(Tick) == []
    assert rig.watchers[PORTFOLIO].of(Tick) == []
    rig.h.tell(FEED, Tick(symbol=CE, time=t(9, 20, 35), ltp=120.0, volume=100))  # a real one goes through
    assert len(rig.symbols[CE].of(Tick)) == 1 and len(rig.watchers[PORTFOLIO].of(Tick)) == 1
    rig.h.advance(t(9, 21, 30))  # the first heartbeat, 60 s after the start
    err = capsys.readouterr().err
    [line] = [line for line in err.splitlines() if "[HEARTBEAT]" in line]
    assert "coverage 0/2 symbols ticked in the last 30 s (1 in the last 60 s)" in line  # the tick of 09:20:35
    assert (
        "bad ticks dropped: ahead 1, other_day 2, price_above_strike 1, price_not_finite 1, volume_negative 1" in line
    )
    assert err.count("dropped a tick that cannot be real") == 6  # the first of each reason and symbol


def test_a_reconnect_and_coverage_below_90_percent_are_alerted_once(rig: Rig) -> None:
    """Issue "The trader's desk": the trader hears of both (the Journal hands alerts on to Telegram)."""
    journal = rig.h.probe(JOURNAL)
    h = rig.h
    h.tell(FEED, FeedConnected(connection=1, time=t(9, 20, 30)))
    h.advance(t(9, 21, 0))
    h.tell(FEED, Tick(symbol=CE, time=t(9, 21, 0), ltp=120.0))  # PE is silent: 1 of 2 symbols
    h.advance(t(9, 21, 30))  # the first heartbeat
    h.advance(t(9, 22, 30))  # the second: still low, not alerted again
    h.tell(FEED, FeedDisconnected(reason="dropped", time=t(9, 22, 40)))
    h.tell(FEED, FeedConnected(connection=2, time=t(9, 22, 50)))
    texts = [a.text for a in journal.of(Alert)]
    assert texts == [
        "data coverage 1/2 symbols ticked in the last 30 s (below 90%)",
        "market-data feed reconnected (#2)",
    ]


class _Recorder:
    """Stands in for replay.recording.FeedRecorder: keeps what the FeedActor records."""

    def __init__(self) -> None:
        self.lines: list[tuple] = []

    def tick(self, at: datetime, tick: Tick, dropped: str = "") -> None:
        self.lines.append(("tick", at, tick.symbol, tick.ltp, dropped))

    def history(self, at: datetime, history: HistoryBars) -> None:
        self.lines.append(("history", at, history.symbol, len(history.bars), history.reconnected))

    def lost(self, at: datetime) -> None:
        self.lines.append(("lost", at))

    def warm(self, at: datetime) -> None:
        self.lines.append(("warm", at))

    def flush(self) -> None:
        self.lines.append(("flush",))


def test_it_records_every_tick_and_every_input_it_hands_on(make_harness) -> None:
    h = make_harness(start=t(9, 20, 30))
    recorder = _Recorder()
    for s in (CE, PE):
        h.probe(symbol_actor(s))
    history = {CE: [_bar(CE, t(9, 15))], PE: []}
    h.start(FeedActor, FEED, [CE, PE], lambda _callbacks: _StubFeed(), lambda s: list(history[s]), None, None, recorder)
    h.tell(FEED, FeedConnected(connection=1, time=t(9, 20, 30)))
    h.tell(
        FEED,
        Tick(symbol=CE, time=t(9, 20, 31), ltp=120.0),
        Tick(symbol=PE, time=t(9, 30), ltp=80.0),  # stamped ten minutes ahead: dropped, and recorded so
        Tick(symbol="NIFTY17JUN2199999CE", time=t(9, 20, 31), ltp=1.0),  # not in the universe: not recorded
    )
    h.tell(FEED, FeedDisconnected(reason="dropped", time=t(9, 20, 32)))
    assert recorder.lines == [
        ("history", t(9, 20, 30), CE, 1, False),
        ("history", t(9, 20, 30), PE, 0, False),
        ("warm", t(9, 20, 30)),
        ("tick", t(9, 20, 30), CE, 120.0, ""),
        ("tick", t(9, 20, 30), PE, 80.0, "ahead"),
        ("lost", t(9, 20, 32)),
    ]
    h.advance(t(9, 21, 30))  # the heartbeat flushes it: a quiet feed writes nothing that would
    assert recorder.lines[-1] == ("flush",)
