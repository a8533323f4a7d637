"""How fast a paced session goes when nothing holds it back but the trader.

    python bench/paced.py [--start HH:MM] [--end HH:MM] [--seed N]

Plays the demo's synthetic market (seed 1 by default) on a paced simulator
whose speed cap is out of reach (10^6×), with the live path (REST and
WebSocket over loopback, the Pacer, the whole actor graph) following it,
from ``--start`` to ``--end``. Prints the wall time, the simulated seconds
and steps per real second, the option ticks delivered per real second, the
trades, and the process's peak RSS. The demo's own pace (300×) needs 600
steps/s; below that the demo runs slower than its cap but makes the same
trades. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import io
import resource
import secrets
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import SecretStr  # noqa: E402

from config.logging import setup_logging  # noqa: E402
from config.settings import Settings  # noqa: E402
from live.runner import LiveOptions, run_live  # noqa: E402
from run import DEMO_DAY  # noqa: E402
from simulator.server import SimulatorServer  # noqa: E402
from simulator.synthetic import synthetic_market  # noqa: E402


def _hhmm(text: str):  # noqa: ANN202
    return datetime.strptime(text, "%H:%M").time()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=_hhmm, default=_hhmm("11:00"), metavar="HH:MM")
    parser.add_argument("--end", type=_hhmm, default=_hhmm("12:30"), metavar="HH:MM")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    setup_logging("ERROR")

    market = synthetic_market(args.seed, day=DEMO_DAY, lot_size=65)
    key = secrets.token_hex(8)
    server = SimulatorServer(market, api_key=key, speed=1e6, start=args.start, end=args.end, paced=True).start()
    stop = threading.Event()  # never set: the session ends where the paced clock stops, at --end
    out = io.StringIO()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                _env_file=None,
                openalgo_host=server.rest_url,
                openalgo_ws_url=server.ws_url,
                openalgo_api_key=SecretStr(key),
                db_path=Path(tmp) / "journal.db",
            )
            began = time.perf_counter()
            run_live(settings, LiveOptions(sim_clock=True), stop, out)
            wall = time.perf_counter() - began
    finally:
        server.stop()

    simulated = (server.end_time - server.start_time).total_seconds()
    ticks = sum(1 for t in market.ticks if t.exchange == "NFO" and server.start_time <= t.time <= server.end_time)
    steps = simulated / server.step.total_seconds()
    trades = out.getvalue().split("== ", 1)[-1].splitlines()[-1]
    print(f"paced session {DEMO_DAY} seed {args.seed}, {args.start:%H:%M}-{args.end:%H:%M} IST (includes start-up and warm-up)")
    print(f"wall time          {wall:8.1f} s")
    print(f"simulated          {simulated / wall:8.0f} s per real second ({simulated:.0f} s)")
    print(f"steps              {steps / wall:8.0f} per real second ({steps:.0f} steps of {server.step.total_seconds():g} s)")
    print(f"option ticks       {ticks / wall:8.0f} per real second ({ticks} ticks)")
    print(f"trades             {trades}")
    print(f"peak RSS           {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8.0f} MB")


if __name__ == "__main__":
    main()
