"""Parity: the live path against a paced simulator trades exactly as ``run.py replay`` on the same window.

Both see the same ticks (the simulator plays the recorded file through the
replay's own bar-to-tick conversion) and the same matching engine. Paced, the
simulator's clock waits for the trader at every step and the trader handles
the ticks one at a time to quiet, in the simulator's (time, symbol) order —
the order replay uses — so not just the filled entries but every order up
to the window's end is the same, at any speed.
"""

from __future__ import annotations

import json
from datetime import datetime, time
from pathlib import Path

import pytest

from config.settings import Settings
from replay.driver import replay_files
from simulator.recorded import market_from_recorded
from simulator.server import SimulatorServer
from tests.integration.live_rig import API_KEY, LiveSession, entries
from tests.paths import DATA_DIR, DAY_0611

pytestmark = pytest.mark.integration

START, END = time(9, 15), time(12, 45)
#: the simulator's clock starts before the open, as a trader starts the program before 09:15
SIM_START = time(9, 14, 30)
#: paced: the simulated clock waits for the trader, so any speed gives the same session
SPEED = 100_000.0


def test_live_against_the_simulator_enters_like_replay(tmp_path: Path) -> None:
    replay_events = tmp_path / "replay.jsonl"
    replay_files([DAY_0611], Settings(_env_file=None, lot_size=75), replay_events, ":memory:", START, END)
    replay = [json.loads(line) for line in replay_events.read_text().splitlines()]
    expected = entries(replay)
    assert len(expected) >= 2, "the window must contain entries to compare"

    market = market_from_recorded(DAY_0611, spot_path=DATA_DIR / "nifty_spot_2021-06-11.csv.gz", lot_size=75)
    sim = SimulatorServer(market, api_key=API_KEY, speed=SPEED, start=SIM_START, end=END, paced=True).start()
    try:
        # with Telegram alerts on (the simulator records them): they must not change a single order
        session = LiveSession(sim, tmp_path, lot_size=75, telegram_username="trader1").start()
        assert sim.wait_until_done(timeout=600), "simulator window did not end"
        run = session.finish()
    finally:
        sim.stop()

    assert run.exit_code == 0, run.output
    assert entries(run.events) == expected

    # paced, the live path handles the ticks one at a time in the simulator's (time, symbol) order, like
    # replay: every order up to the window's end is the same (after it, live stops and replay exits at 15:15)
    assert orders_before(run.events, END) == orders_before(replay, END)

    # the trader heard of each entry fill through OpenAlgo's telegram/notify (issue "The trader's desk")
    told = [n["message"] for n in sim.notifications if n["username"] == "trader1"]
    fills = [e for e in run.events if e["type"] == "fill" and e["role"] == "entry"]
    assert fills and len([m for m in told if "ENTRY FILLED" in m]) == len(fills), told
    # the live session recorded its feed; replaying that recording gives the same orders (issue "The
    # trader's desk": any live day can be replayed exactly, from its ticks)
    recording = tmp_path / "logs" / "baseline_v1_feed_2021-06-11.jsonl"
    assert recording.exists()
    again = tmp_path / "again.jsonl"
    replay_files([recording], Settings(_env_file=None, lot_size=75), again, ":memory:")
    replayed = [json.loads(line) for line in again.read_text().splitlines()]
    assert orders_before(replayed, END) == orders_before(run.events, END)
    assert entries(replayed) == entries(run.events)

    # and the trade files were kept beside the log
    assert (tmp_path / "logs" / "baseline_v1_live_trades.csv").exists() or not any(
        e["type"] == "position" and e["state"] == "closed" for e in run.events
    )


def orders_before(events: list[dict], end: time) -> list[tuple]:
    """(op, role, symbol, trigger, price, quantity) of every order event before ``end`` (IST)."""
    return [
        (e["op"], e["role"], e["symbol"], e["trigger_price"], e["price"], e["quantity"])
        for e in events
        if e["type"] == "order" and datetime.fromisoformat(e["time"]).time() < end
    ]
