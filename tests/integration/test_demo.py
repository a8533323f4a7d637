"""``python run.py demo``: the same session idle and beside two CPU hogs, and how the two fill models fill.

Each test runs the real command (a subprocess, settings from an empty env
file) on the half hour of the demo's session that holds its three trades.
The demo's simulator paces its clock to the trader, so what the trader does
cannot depend on how fast the machine is: the event logs — every swing,
candidate decision, order, fill and position, with its simulated time — are
the same line for line from the window's start on. Before it, the warm-up
hands the day's bars so far to the 42 SymbolActors at once, and their swings
and candidate decisions (stamped with the bars' times) reach the event log in
whatever order the actors finish: the same events, in another order.
"""

from __future__ import annotations

import bisect
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import pytest

from run import DEMO_DAY
from simulator.market import MarketData
from simulator.synthetic import synthetic_market
from tests.paths import PROJECT_ROOT

#: the real command in a process of its own (the program's behaviour, not the interpreter's): slow
pytestmark = [pytest.mark.integration, pytest.mark.slow]

WINDOW = ["--start", "11:50", "--end", "12:20"]
#: the paced session's step (simulator.server.PACED_STEP) and the demo market's tick size
STEP = timedelta(seconds=0.5)
TICK = 0.05


@dataclass(frozen=True)
class DemoRun:
    output: str
    events: list[dict]

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["type"] == kind]


def run_demo(tmp_path: Path, name: str, *extra: str) -> DemoRun:
    env_file = tmp_path / "empty.env"
    env_file.touch()
    events = tmp_path / f"{name}.jsonl"
    done = subprocess.run(
        [sys.executable, "run.py", "--env-file", str(env_file), "demo", *WINDOW, "--events", str(events), *extra],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return DemoRun(done.stdout, [json.loads(line) for line in events.read_text().splitlines()])


@pytest.fixture(scope="module")
def idle(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    return run_demo(tmp_path_factory.mktemp("demo"), "idle")


@pytest.fixture
def two_cpu_hogs() -> Iterator[None]:
    hogs = [subprocess.Popen([sys.executable, "-c", "while 1: pass"]) for _ in range(2)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


@cache
def demo_market() -> MarketData:
    """The demo's market (seed 1, default lot size), as ``run.py demo`` builds it."""
    return synthetic_market(1, day=DEMO_DAY, lot_size=65)


def trade_table(output: str) -> list[str]:
    start = output.index("== ")
    return output[start:].splitlines()


def test_the_demo_shows_its_clock_fill_model_and_trades_as_they_happen(idle: DemoRun) -> None:
    assert "fill model: exchange" in idle.output
    assert "[11:5" in idle.output  # the session clock in the status line
    entered = [line for line in idle.output.splitlines() if " IST  entered " in line]
    assert len(entered) == len(idle.of("position")) // 2 == 3
    assert idle.output.index(entered[0]) < idle.output.index("== ")  # shown while it ran, before the table


@pytest.mark.slow
def test_the_demo_makes_the_same_session_beside_two_cpu_hogs(idle: DemoRun, tmp_path: Path, two_cpu_hogs: None) -> None:
    loaded = run_demo(tmp_path, "loaded")
    assert trade_table(loaded.output) == trade_table(idle.output)
    assert len(idle.of("fill")) >= 6
    warm_up, live = split_at_window_start(idle)
    loaded_warm_up, loaded_live = split_at_window_start(loaded)
    assert len(live) > 500 and any(e["type"] == "fill" for e in live)
    assert loaded_live == live
    assert sorted(map(json.dumps, loaded_warm_up)) == sorted(map(json.dumps, warm_up))


def split_at_window_start(run: DemoRun) -> tuple[list[dict], list[dict]]:
    """(the warm-up's events: stamped up to the window's start, the session's events after them)."""
    start = datetime.combine(DEMO_DAY, datetime.strptime(WINDOW[1], "%H:%M").time())
    first_live = next(i for i, e in enumerate(run.events) if datetime.fromisoformat(e["time"]).replace(tzinfo=None) > start)
    return run.events[:first_live], run.events[first_live:]


def test_the_sandbox_fill_model_fills_market_orders_at_once_at_the_ask(idle: DemoRun, tmp_path: Path) -> None:
    """Exchange model: a MARKET exit fills at the symbol's next trade. openalgo-sandbox: at once, at the
    ask (the last trade + one tick), as OpenAlgo's analyzer mode does. Entries (SL) fill alike here."""
    sandbox = run_demo(tmp_path, "sandbox", "--fill-model", "openalgo-sandbox")
    assert "fill model: openalgo-sandbox" in sandbox.output

    def entries(run: DemoRun) -> list[tuple]:
        return [(f["symbol"], f["average_price"]) for f in run.of("fill") if f["role"] == "entry"]

    assert entries(sandbox) == entries(idle)
    for run, model in ((idle, "exchange"), (sandbox, "openalgo-sandbox")):
        placed = {e["orderid"]: e for e in run.of("order") if e["op"] == "place" and e["role"] == "exit"}
        fills = [f for f in run.of("fill") if f["orderid"] in placed]
        assert len(fills) == 3, model
        for fill in fills:
            order = placed[fill["orderid"]]
            assert order["pricetype"] == "MARKET" and order["action"] == "BUY"
            before, after = trades_around(fill["symbol"], datetime.fromisoformat(order["time"]))
            expected = round(before + TICK, 2) if model == "openalgo-sandbox" else after
            assert fill["average_price"] == pytest.approx(expected), (model, fill)
    assert [f["average_price"] for f in sandbox.of("fill") if f["role"] == "exit"] != [
        f["average_price"] for f in idle.of("fill") if f["role"] == "exit"
    ]


def trades_around(symbol: str, decided: datetime) -> tuple[float, float]:
    """The symbol's last trade price when an order decided at ``decided`` reached the simulator, and its next one.

    A paced step ends on the half second; the order is sent in the step that
    ends at or after ``decided``, when the simulator has played the trades up
    to that step's start.
    """
    grid = datetime.combine(DEMO_DAY, datetime.strptime(WINDOW[1], "%H:%M").time(), decided.tzinfo)
    played_to = grid + STEP * -(-(decided - grid) // STEP)
    ticks = [t for t in demo_market().ticks if t.symbol == symbol]
    i = bisect.bisect_right([t.time for t in ticks], played_to)
    return ticks[i - 1].ltp, ticks[i].ltp
