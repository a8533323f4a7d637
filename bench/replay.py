"""Throughput of one recorded day: whole actor graph vs the bare pure core.

    python bench/replay.py [FILE] [--lot-size N] [--repeat K]

Prints ticks/s through the whole actor graph (replay driver, simulated broker,
journal in memory), ticks/s through the pure core alone in one thread on the
same ticks (SymbolEngine per symbol + CandidatePool + best CE/PE), their
ratio, and the process's peak RSS. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.logging import setup_logging  # noqa: E402
from config.settings import Settings  # noqa: E402
from persistence.event_log import EventLog  # noqa: E402
from persistence.journal_store import JournalStore  # noqa: E402
from replay.data import load_session  # noqa: E402
from replay.driver import ReplayRun  # noqa: E402
from replay.ticks import session_ticks  # noqa: E402
from strategy.pool import CandidatePool  # noqa: E402
from strategy.symbol_engine import SymbolEngine  # noqa: E402

DEFAULT_FILE = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "nifty_options_2021-06-11.csv.gz"


def graph_rate(path: Path, settings: Settings) -> tuple[float, int]:
    session = load_session(path)
    with JournalStore(":memory:") as store, EventLog(None) as events:
        started = time.perf_counter()
        result = ReplayRun(session, settings, store, events).run()
        elapsed = time.perf_counter() - started
    return result.ticks / elapsed, result.ticks


def core_rate(path: Path, settings: Settings) -> tuple[float, int]:
    session = load_session(path)
    ticks = list(session_ticks(session.bars))
    engines = {s: SymbolEngine(s, settings.bar_grace_seconds) for s in session.symbols}
    pool = CandidatePool(settings)
    started = time.perf_counter()
    for tick in ticks:
        signals = engines[tick.symbol].on_tick(tick.time, tick.ltp, tick.volume)
        for signal in signals:
            pool.on_signal(signal)
        if signals:
            pool.best(engines[tick.symbol].option_type)
    elapsed = time.perf_counter() - started
    return len(ticks) / elapsed, len(ticks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--lot-size", type=int, default=75)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is reported")
    args = parser.parse_args()
    setup_logging("ERROR")
    settings = Settings(_env_file=None, lot_size=args.lot_size)
    graph = max(graph_rate(args.file, settings)[0] for _ in range(args.repeat))
    core = max(core_rate(args.file, settings)[0] for _ in range(args.repeat))
    ticks = core_rate(args.file, settings)[1]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"file            {args.file.name} ({ticks} ticks)")
    print(f"actor graph     {graph:12,.0f} ticks/s")
    print(f"pure core       {core:12,.0f} ticks/s")
    print(f"ratio           {core / graph:12.1f} x (core / graph)")
    print(f"peak RSS        {peak_mb:12.1f} MB")


if __name__ == "__main__":
    main()
