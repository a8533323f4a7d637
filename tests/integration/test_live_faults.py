"""Faults: the live path against the simulator with one fault each (REST time-out, 429, 500, WS drop, WS mute).

Each test runs the opening of 2021-06-11 (09:14:30-09:50 simulated, the
first entry is placed at 09:39) through ``run_live`` over real sockets,
paced: the simulator's clock waits for the trader, so the orders are those of
replay whatever the machine's load. The REST faults run as fast as the
trader goes; the WebSocket faults at up to 150x, because while the trader is
disconnected the paced clock runs on at that speed, so a dropped or mute
connection really misses minutes that must be back-filled.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest

from broker.base import OrderSnapshot
from messages.base import IST
from simulator.faults import Faults
from simulator.recorded import market_from_recorded
from simulator.server import SimulatorServer
from tests.integration.live_rig import API_KEY, LiveRun, LiveSession, entries
from tests.paths import DATA_DIR, DAY_0611

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SIM_START, END = time(9, 14, 30), time(9, 50)
#: paced, the speed is only a cap: the trader sets the pace (and the clock runs at it while he is away)
FAST = 100_000.0
OUTAGE_SPEED = 150.0
#: the first entry of the window: 15600CE at trigger 253.75 for 750 contracts, placed at 09:39
ENTRY = ("NIFTY17JUN2115600CE", 253.75, 750)
DAY = datetime(2021, 6, 11, tzinfo=IST)


def _session(tmp_path: Path, faults: Faults, hook=None, at: tuple[time, Callable[[SimulatorServer], None]] | None = None, speed: float = FAST, **settings):  # noqa: ANN001, ANN202
    market = market_from_recorded(DAY_0611, spot_path=DATA_DIR / "nifty_spot_2021-06-11.csv.gz", lot_size=75)
    sim = SimulatorServer(market, api_key=API_KEY, speed=speed, start=SIM_START, end=END, faults=faults, paced=True).start()
    if hook is not None:
        sim.on_request(hook)
    trigger_thread = None
    if at is not None:
        moment, action = at
        trigger_thread = threading.Thread(target=_act_at, args=(sim, moment, action), daemon=True)
        trigger_thread.start()
    try:
        session = LiveSession(sim, tmp_path, lot_size=75, broker_retry_delay=0.2, **settings).start()
        assert session.started.wait(30), "the live session did not start"
        assert sim.wait_until_done(timeout=(36 * 60) / OUTAGE_SPEED + 120), "simulator window did not end"
        bars = {symbol: session.bars(symbol) for symbol in market.bars if symbol.endswith(("CE", "PE"))}
        run = session.finish()
    finally:
        sim.stop()
    assert run.exit_code == 0, run.output
    return sim, run, bars


def _act_at(sim: SimulatorServer, moment: time, action: Callable[[SimulatorServer], None]) -> None:
    target = datetime.combine(DAY.date(), moment, tzinfo=IST)
    while sim.clock.now() < target and not sim.done.is_set():
        sim.done.wait(0.01)
    action(sim)


def _entry_orders(sim: SimulatorServer) -> list[OrderSnapshot]:
    return [o for o in sim.broker.order_book() if o.action == "SELL"]


def _first_placeorder(action: Callable[[], None]):  # noqa: ANN202
    """A request hook that runs ``action`` once, when the first placeorder arrives (before it is handled)."""
    fired = threading.Event()
    seen: list[dict] = []

    def hook(_t: float, endpoint: str, body: object) -> None:
        if endpoint == "placeorder":
            seen.append(body)  # type: ignore[arg-type]
            if not fired.is_set():
                fired.set()
                action()

    return hook, seen


def _terms(body: dict) -> tuple[str, float, int]:
    """A placeorder request's (symbol, trigger, quantity)."""
    return body["symbol"], float(body["trigger_price"]), int(body["quantity"])


def _assert_placed_once(sim: SimulatorServer, run: LiveRun, body: dict) -> None:
    """The faulted placement exists exactly once at the broker and once in the trader's journal."""
    terms = _terms(body)
    at_broker = [o for o in _entry_orders(sim) if (o.symbol, o.trigger_price, o.quantity) == terms]
    assert len(at_broker) == 1, f"{len(at_broker)} orders for {terms}"
    recorded = [e for e in run.events if e["type"] == "order" and e["op"] == "place" and e["orderid"] == at_broker[0].orderid]
    assert len(recorded) == 1
    assert entries(run.events)[:1] == [ENTRY], "trading went on: the first entry filled as in replay"


def test_a_placement_time_out_where_the_order_was_placed_leaves_exactly_one_order(tmp_path: Path) -> None:
    faults = Faults(place_timeouts=1, timeout_hold_s=2.0)
    hook, placeorders = _first_placeorder(lambda: None)
    sim, run, _ = _session(tmp_path, faults, hook=hook, http_read_timeout=0.5)
    _assert_placed_once(sim, run, placeorders[0])
    # the time-out was looked up in the order book, never re-sent (a later placement of the
    # same candidate after a switch away and back is legitimate: its quantity differs)
    assert [_terms(b) for b in placeorders].count(_terms(placeorders[0])) == 1


def test_a_429_burst_is_retried_and_places_once(tmp_path: Path) -> None:
    faults = Faults()
    hook, placeorders = _first_placeorder(lambda: setattr(faults, "rate_limit_burst", 2))
    sim, run, _ = _session(tmp_path, faults, hook=hook)
    _assert_placed_once(sim, run, placeorders[0])
    same = [_terms(b) for b in placeorders if b["symbol"] == placeorders[0]["symbol"]]
    assert same[1] == same[0], "the 429 was retried with the same order"


def test_a_500_is_retried_and_places_once(tmp_path: Path) -> None:
    faults = Faults()
    hook, placeorders = _first_placeorder(lambda: setattr(faults, "server_errors", 2))
    sim, run, _ = _session(tmp_path, faults, hook=hook)
    _assert_placed_once(sim, run, placeorders[0])
    same = [_terms(b) for b in placeorders if b["symbol"] == placeorders[0]["symbol"]]
    assert same[1] == same[0], "the 500 was retried with the same order"


def _assert_bars_complete_and_unique(bars: dict[str, list]) -> None:
    """Every minute from 09:15 on is there exactly once (the file has every minute of every symbol)."""
    first = datetime.combine(DAY.date(), time(9, 15), tzinfo=IST)
    for symbol, symbol_bars in bars.items():
        starts = [b.start for b in symbol_bars]
        assert len(starts) >= 30, symbol
        assert starts == [first + timedelta(minutes=k) for k in range(len(starts))], f"{symbol}: gap or duplicate"


def test_a_websocket_drop_reconnects_resubscribes_and_back_fills_without_duplicate_bars(tmp_path: Path) -> None:
    faults = Faults()
    sim, run, bars = _session(tmp_path, faults, at=(time(9, 25, 7), lambda s: s.faults.ws_drop()), speed=OUTAGE_SPEED)
    assert sim.ws_logins == 2, "re-authenticated once after the drop"
    _assert_bars_complete_and_unique(bars)
    assert entries(run.events)[:1] == [ENTRY], "trading went on after the reconnect"


def test_a_mute_websocket_is_detected_and_replaced(tmp_path: Path) -> None:
    faults = Faults()
    sim, run, bars = _session(
        tmp_path, faults, at=(time(9, 25, 7), lambda s: s.faults.ws_mute(1.5)), speed=OUTAGE_SPEED, feed_mute_seconds=0.4
    )
    assert sim.ws_logins >= 2, "the mute connection was closed and a new one made"
    _assert_bars_complete_and_unique(bars)
    assert entries(run.events)[:1] == [ENTRY], "trading went on after the reconnect"
