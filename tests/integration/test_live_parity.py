"""Parity: the live path against the simulator makes the entries ``run.py replay`` makes on the same window.

Both see the same ticks (the simulator plays the recorded file through the
replay's own bar-to-tick conversion) and the same matching engine. What can
legitimately differ is timing, and the test tolerates exactly that:

* orders that were placed and then cancelled or replaced may differ: live,
  several symbols' bar closes of one instant reach the filter in whatever
  order their actors finish, so a transient best can get an order that
  replay (which takes symbols in name order) never places, and vice versa;
* what is compared is the entries that **filled** — symbol, trigger and
  quantity, in fill order — and those must be identical.
"""

from __future__ import annotations

import json
from datetime import time
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
SPEED = 150.0


def test_live_against_the_simulator_enters_like_replay(tmp_path: Path) -> None:
    replay_events = tmp_path / "replay.jsonl"
    replay_files([DAY_0611], Settings(_env_file=None, lot_size=75), replay_events, ":memory:", START, END)
    expected = entries([json.loads(line) for line in replay_events.read_text().splitlines()])
    assert len(expected) >= 2, "the window must contain entries to compare"

    market = market_from_recorded(DAY_0611, spot_path=DATA_DIR / "nifty_spot_2021-06-11.csv.gz", lot_size=75)
    sim = SimulatorServer(market, api_key=API_KEY, speed=SPEED, start=SIM_START, end=END).start()
    try:
        session = LiveSession(sim, tmp_path, lot_size=75).start()
        assert sim.wait_until_done(timeout=(4 * 3600) / SPEED + 60), "simulator window did not end"
        run = session.finish()
    finally:
        sim.stop()

    assert run.exit_code == 0, run.output
    assert entries(run.events) == expected
