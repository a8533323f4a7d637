"""Runs the live path (run.py's trading session) against the simulator, for integration tests."""

from __future__ import annotations

import io
import json
import threading
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from actors.names import symbol_actor
from actors.supervisor import Graph
from config.settings import Settings
from live.runner import LiveOptions, run_live
from messages.market import Bar, GetBars
from simulator.server import SimulatorServer

API_KEY = "test-key-0123456789"


@dataclass
class LiveRun:
    """What one live session against the simulator left behind."""

    exit_code: int
    output: str
    events: list[dict]
    db_path: Path


class LiveSession:
    """``run_live`` on a thread, following the simulator's clock, stopped when told.

    ``settings`` overrides are applied on top of test defaults (simulator URLs
    and key, journal in ``tmp``).
    """

    def __init__(self, sim: SimulatorServer, tmp: Path, **overrides: object) -> None:
        self.sim = sim
        self.events_path = tmp / "live-events.jsonl"
        self.db_path = tmp / "live-journal.db"
        self.settings = Settings(
            _env_file=None,
            openalgo_host=sim.rest_url,
            openalgo_ws_url=sim.ws_url,
            openalgo_api_key=SecretStr(API_KEY),
            db_path=self.db_path,
            log_dir=tmp / "logs",
            **overrides,
        )
        self.stop = threading.Event()
        self.out = io.StringIO()
        self.exit_code: int | None = None
        self.graph: Graph | None = None
        self.started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-session", daemon=True)

    def _run(self) -> None:
        options = LiveOptions(sim_clock=True, events=self.events_path)
        try:
            self.exit_code = run_live(self.settings, options, self.stop, self.out, self._on_started)
        finally:
            self.started.set()

    def _on_started(self, graph: Graph) -> None:
        self.graph = graph
        self.started.set()

    def bars(self, symbol: str) -> list[Bar]:
        """The closed bars a SymbolActor of the running session holds."""
        assert self.graph is not None
        return self.graph.router.ask(symbol_actor(symbol), GetBars(), timeout=10)

    def start(self) -> LiveSession:
        self._thread.start()
        return self

    def finish(self, timeout: float = 60.0) -> LiveRun:
        """Stop the session (if it has not ended by itself) and collect what it wrote."""
        self.stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"live session did not stop within {timeout} s")
        assert self.exit_code is not None
        events = [json.loads(line) for line in self.events_path.read_text().splitlines()] if self.events_path.exists() else []
        return LiveRun(self.exit_code, self.out.getvalue(), events, self.db_path)


def entries(events: list[dict]) -> list[tuple[str, float, int]]:
    """Filled entries as (symbol, trigger, quantity): the terms of each entry order that filled, in fill order."""
    terms: dict[str, tuple[str, float, int]] = {}
    filled: list[tuple[str, float, int]] = []
    seen: set[str] = set()
    for e in events:
        if e["type"] == "order" and e["role"] == "entry" and e["op"] in ("place", "modify"):
            terms[e["orderid"]] = (e["symbol"], e["trigger_price"], e["quantity"])
        elif e["type"] == "fill" and e["role"] == "entry" and e["orderid"] not in seen:
            seen.add(e["orderid"])
            filled.append(terms[e["orderid"]])
    return filled
