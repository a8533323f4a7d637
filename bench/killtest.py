"""Kill the trader at seeded random moments of a session and restart it each time; judge from the broker.

    python bench/killtest.py [--kills N] [--seed S] [--signal kill|term] [--speed X] [--start HH:MM] [--end HH:MM]

The simulator (the demo's synthetic market, paced) runs in a process of its
own, the trader (``run.py --sim-clock``) in another, with one journal. At N
simulated times drawn with the seed, the trader gets SIGKILL (or SIGTERM)
and is started again at once with the same command. When the session is
over, the simulator's books alone decide:

* duplicates: entries with the same symbol, trigger and quantity placed
  within 5 simulated seconds of each other;
* the longest a filled entry waited for its protective stop (a BUY SL of its
  symbol timed at or after the fill), in simulated seconds and in real ones
  (÷ speed; the books' times are whole seconds);
* positions still open at the end; entries placed after the day's realised
  R reached ±5R in the books, and after the journal's halt;
* the journal's fills against the trade book;
* restarts that resumed (started trading again) and how long that took
  (process start to "warm-up done", real seconds); a restart that came
  after the simulator's close (a slow shutdown, kills close together) has
  nothing to trade and is counted apart.

Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import requests
from loguru import logger

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from broker.openalgo_rest import OpenAlgoClient  # noqa: E402
from messages.base import IST  # noqa: E402
from run import DEMO_DAY  # noqa: E402

KEY = "killtest-key-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sim_clock(port: int) -> dict | None:
    try:
        return requests.get(f"http://127.0.0.1:{port}/sim/clock", timeout=2).json()
    except (requests.RequestException, ValueError):
        return None


def _wait(condition, timeout: float, interval: float = 0.05):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    return None


def realised_r_crossing(orders, trades, limit: float = 5.0) -> datetime | None:  # noqa: ANN001
    """From the books alone: when the day's realised R first reached ±``limit``, or None.

    Per symbol, SELL trades open a short and BUY trades close it; a
    position's risk is (its first protective stop's trigger − its average
    entry) × its quantity (strategy.md §6, within a tick of the journal's).
    """
    stops = sorted((o for o in orders if o.action == "BUY" and o.pricetype == "SL" and o.timestamp),
                   key=lambda o: o.timestamp)
    book: dict[str, dict] = {}
    total = 0.0
    for trade in sorted((t for t in trades if t.timestamp), key=lambda t: t.timestamp):
        pos = book.setdefault(trade.symbol, {"qty": 0, "value": 0.0, "opened": 0, "pnl": 0.0, "at": trade.timestamp})
        if trade.action == "SELL":
            if pos["qty"] == 0:
                pos.update(qty=0, value=0.0, opened=0, pnl=0.0, at=trade.timestamp)
            pos["qty"] += trade.quantity
            pos["opened"] += trade.quantity
            pos["value"] += trade.average_price * trade.quantity
            continue
        if pos["qty"] <= 0:
            continue
        entry = pos["value"] / pos["opened"]
        qty = min(trade.quantity, pos["qty"])
        pos["qty"] -= qty
        pos["pnl"] += (entry - trade.average_price) * qty
        if pos["qty"] == 0:
            stop = next((o.trigger_price for o in stops if o.symbol == trade.symbol and o.timestamp >= pos["at"]), None)
            risk = (stop - entry) * pos["opened"] if stop else 0.0
            total += pos["pnl"] / risk if risk > 0 else 0.0
            if abs(total) >= limit:
                return trade.timestamp
    return None


def main() -> int:
    logger.remove()  # the books are read quietly; the figures are the output
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--signal", choices=("kill", "term"), default="kill")
    parser.add_argument("--speed", type=float, default=120.0)
    parser.add_argument("--start", default="09:30")
    parser.add_argument("--end", default="15:30")
    args = parser.parse_args()
    sig = signal.SIGKILL if args.signal == "kill" else signal.SIGTERM
    work = Path(tempfile.mkdtemp(prefix="killtest-"))
    env_file = work / "empty.env"
    env_file.touch()
    rest, ws = _free_port(), _free_port()
    sim = subprocess.Popen(
        [sys.executable, "run.py", "--env-file", str(env_file), "sim", "--synthetic", "1", "--paced",
         "--speed", str(args.speed), "--start", args.start, "--end", args.end, "--rest-port", str(rest),
         "--ws-port", str(ws), "--api-key", KEY],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    env = {**os.environ, "OPENALGO_API_KEY": KEY, "OPENALGO_HOST": f"http://127.0.0.1:{rest}",
           "OPENALGO_WS_URL": f"ws://127.0.0.1:{ws}", "DB_PATH": str(work / "journal.db"), "LOG_DIR": str(work / "logs")}
    day = DEMO_DAY
    start = datetime.combine(day, datetime.strptime(args.start, "%H:%M").time(), IST)
    end = datetime.combine(day, datetime.strptime(args.end, "%H:%M").time(), IST)
    rng = random.Random(args.seed)
    span = (end - start).total_seconds()
    kill_at = sorted(start + timedelta(seconds=rng.uniform(0.05, 0.95) * span) for _ in range(args.kills))
    runs: list[dict] = []

    def trader(n: int) -> tuple[subprocess.Popen, Path, float]:
        err = work / f"trader{n}.err"
        with open(work / f"trader{n}.out", "w") as out, open(err, "w") as errf:
            proc = subprocess.Popen(
                [sys.executable, "run.py", "--env-file", str(env_file), "--sim-clock", "--switch-to-analyzer"],
                cwd=ROOT, env=env, stdout=out, stderr=errf,
            )
        return proc, err, time.monotonic()

    try:
        if not _wait(lambda: _sim_clock(rest), 60):
            print("the simulator did not come up", file=sys.stderr)
            return 2
        for n, moment in enumerate([*kill_at, None]):
            proc, err, began = trader(n)
            trading = _wait(lambda: "warm-up done" in err.read_text() or proc.poll() is not None, 300)
            resumed = bool(trading) and "warm-up done" in err.read_text()
            closed = not resumed and "the market closed" in (work / f"trader{n}.out").read_text()
            runs.append({"n": n, "resumed": resumed, "closed": closed,
                         "to_trading": time.monotonic() - began if resumed else None})
            if moment is None:
                proc.wait(timeout=3600)
                runs[-1]["rc"] = proc.returncode
                break

            def reached(moment: datetime = moment) -> bool:
                clock = _sim_clock(rest)
                return bool(clock) and datetime.fromisoformat(clock["sim_time"]) >= moment

            _wait(lambda: reached() or proc.poll() is not None, 3600, 0.02)
            if proc.poll() is None:
                proc.send_signal(sig)
            proc.wait(timeout=120)
            runs[-1]["rc"] = proc.returncode
        client = OpenAlgoClient(f"http://127.0.0.1:{rest}", KEY, "baseline_v1")
        orders, trades, positions = client.order_book(), client.trade_book(), client.position_book()
    finally:
        sim.send_signal(signal.SIGINT)
        try:
            sim.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sim.kill()

    entries = sorted((o for o in orders if o.action == "SELL"), key=lambda o: o.timestamp or start)
    duplicates = 0
    for i, a in enumerate(entries):
        for b in entries[i + 1:]:
            if (a.symbol, a.trigger_price, a.quantity) == (b.symbol, b.trigger_price, b.quantity) and a.timestamp and b.timestamp \
                    and abs((b.timestamp - a.timestamp).total_seconds()) <= 5:
                duplicates += 1
    waits = []
    for fill in (t for t in trades if t.action == "SELL"):
        stops = [o.timestamp for o in orders if o.action == "BUY" and o.pricetype == "SL" and o.symbol == fill.symbol
                 and o.timestamp and fill.timestamp and o.timestamp >= fill.timestamp]
        waits.append((min(stops) - fill.timestamp).total_seconds() if stops else float("inf"))
    db = sqlite3.connect(work / "journal.db")
    journal_fills = db.execute("SELECT COUNT(*) FROM fills").fetchone()[0]
    halt = db.execute("SELECT halted, halt_reason, halted_at FROM sessions").fetchone()
    crossed = realised_r_crossing(orders, trades)
    # a halt reached by unrealised R comes earlier than this; the books' times are whole seconds
    after_5r = [e for e in entries if crossed and e.timestamp and e.timestamp > crossed + timedelta(seconds=1)]
    halted_at = datetime.fromisoformat(halt[2]) if halt and halt[2] else None
    after_halt = [e for e in entries if halted_at and e.timestamp and e.timestamp > halted_at + timedelta(seconds=1)]
    open_left = [p for p in positions if p.quantity != 0]
    resumed = [r for r in runs[1:] if r["resumed"]]
    to_trading = [r["to_trading"] for r in resumed]
    worst = max(waits) if waits else 0.0
    print(f"kills {len(kill_at)} ({args.signal}, seed {args.seed}, {args.speed:g}x, {args.start}-{args.end})")
    late = sum(1 for r in runs[1:] if r["closed"])
    print(f"restarts {len(runs) - 1}, resumed {len(resumed)}, started after the close {late} "
          f"(nothing to trade), neither {len(runs) - 1 - len(resumed) - late}")
    print(f"orders {len(orders)} ({len(entries)} entries), trades {len(trades)}, duplicates {duplicates}")
    print(f"max unprotected {worst:g} simulated s = {worst / args.speed:.2f} real s (books' whole seconds)")
    print(f"open at the end {len(open_left)}; journal fills {journal_fills} vs trade book {len(trades)}")
    print(f"halt {halt}; realised ±5R in the books at {crossed}; entries after it {len(after_5r)}, "
          f"after the journal's halt {len(after_halt)}")
    if to_trading:
        print(f"restart to trading: max {max(to_trading):.1f} s, mean {sum(to_trading) / len(to_trading):.1f} s")
    print(f"work dir {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
