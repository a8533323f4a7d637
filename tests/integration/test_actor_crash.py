"""One actor crash in a replayed real day: the supervisor restarts the actor, which rebuilds its
state from the journal and the broker, and the day ends with the same trades as an undisturbed run
(issue "Crash-only"; architecture.md, "Crash-only, concretely").

Each crash is injected at the worst moment for its actor: an OrderActor as its first entry fill
arrives (before the stop), while its entry works, or as its stop fills; the PortfolioActor as it
hears a fill. Messages
sent to the dead actor in the second before its restart are lost, by design.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from actors.journal import JournalActor
from actors.order import OrderActor
from actors.portfolio import PortfolioActor
from config.settings import Settings
from messages.orders import OrderFilled
from persistence.event_log import EventLog
from persistence.journal_store import JournalStore
from replay.data import load_session
from replay.driver import ReplayRun
from tests.paths import DATA_DIR

pytestmark = pytest.mark.integration

DAY = DATA_DIR / "nifty_options_2024-07-24.csv.gz"
SETTINGS = Settings(_env_file=None, lot_size=25)


class Injected(RuntimeError):
    """The crash this test injects."""


def run_day(tmp_path: Path, name: str) -> tuple[list[tuple], list[str]]:
    """Replay the day with restarts on; its trades (what a trader compares) and the restarted actors."""
    with JournalStore(tmp_path / f"{name}.db") as store, EventLog(tmp_path / f"{name}.jsonl") as events:
        result = ReplayRun(load_session(DAY), SETTINGS, store, events, fail_fast=False).run()
    events = [json.loads(line) for line in (tmp_path / f"{name}.jsonl").read_text().splitlines()]
    restarts = [e["text"] for e in events if e["type"] == "alert" and "failed (" in e["text"]]
    trades = [
        (tr.symbol, tr.entry_time, tr.quantity, round(tr.entry_price, 2), tr.sl_price,
         None if tr.exit_price is None else round(tr.exit_price, 2), tr.reason, round(tr.r, 2))
        for tr in result.trades
    ]
    return trades, restarts


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
    trades, _ = run_day(tmp_path_factory.mktemp("undisturbed"), "undisturbed")
    assert len(trades) == 4  # the day's trades (issue "Strategy fidelity")
    return trades


def crash_once(monkeypatch: pytest.MonkeyPatch, cls: type, method: str, when: Callable[..., bool]) -> list[str]:
    """Make ``cls.method`` raise :class:`Injected` the first time ``when(actor, *args)`` holds."""
    original = getattr(cls, method)
    crashed: list[str] = []

    def wrapper(self, *args, **kwargs):  # noqa: ANN001, ANN202
        if not crashed and when(self, *args):
            crashed.append(self.name)
            raise Injected(f"{self.name}.{method}")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, method, wrapper)
    return crashed


CRASHES = {
    # the entry's fill arrives: the crash comes before the position's stop is placed
    "order actor at an entry fill": (OrderActor, "_entry_changed", lambda actor, order, added, was_final: added > 0),
    # a trade on the working entry's symbol: the entry works on while nobody watches it
    "order actor with an entry working": (
        OrderActor, "on_tick", lambda actor, tick: actor.state.entry is not None and tick.symbol == actor.state.entry.symbol,
    ),
    # a protective stop fills: the exit is journaled, the portfolio never hears of it from this actor
    "order actor at a stop fill": (
        OrderActor, "_exit_filled", lambda actor, position, quantity, price, reason, *order: reason == "stop",
    ),
    "portfolio at an entry fill": (PortfolioActor, "on_entry_filled", lambda actor, fill: True),
    # the journal as it writes a fill: the store keeps what it had buffered; the fill's event is lost
    "journal at a fill": (JournalActor, "on_event", lambda actor, event: isinstance(event, OrderFilled)),
    "portfolio at an exit fill": (PortfolioActor, "on_exit_filled", lambda actor, fill: True),
}


@pytest.mark.parametrize("crash", CRASHES)
def test_one_crash_gives_the_same_trades_as_an_undisturbed_day(tmp_path, monkeypatch, undisturbed, crash) -> None:
    cls, method, when = CRASHES[crash]
    crashed = crash_once(monkeypatch, cls, method, when)
    trades, restarts = run_day(tmp_path, "crashed")
    assert crashed, "the crash was never injected"
    # (the journal's own failure cannot be journaled: the alert goes to the actor that just died)
    assert restarts or cls is JournalActor, "the supervisor did not restart it"
    assert trades == undisturbed
