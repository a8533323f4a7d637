"""Reaction latency of the live path over real sockets, under a given tick load.

    python bench/latency.py [--rates 1000 5000] [--episodes 10] [--speed 120]

The simulator streams ticks over the real WebSocket at the given rate (ticks
per real second, spread over 22 far-out "load" symbols priced below the
strategy's band, so they never trade) while 20 other symbols each play one
crafted episode: the strategy.md §3 worked-example bars (a swing LOW at 193
confirmed by the close of the fifth bar), then a break that fills the entry,
then a rise that fills the protective stop. The trader runs ``run_live``
against it (filters loosened for the pattern, daily R limits off).

The simulator runs in a process of its own, as OpenAlgo does, so the trader
has a core and an interpreter lock to itself. Both latencies are measured in
the simulator process (CLOCK_MONOTONIC is one clock for every process;
loopback adds microseconds):

* entry: the tick that closes the confirming bar is sent → the entry's
  ``placeorder`` request arrives;
* stop: the tick that fills the entry is matched and sent → the protective
  stop's ``placeorder`` request arrives.

Prints p50 / p99 / max per rate and the number of samples. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import random
import statistics
import sys
import threading
import time
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import SecretStr  # noqa: E402

from config.logging import setup_logging  # noqa: E402
from config.settings import Settings  # noqa: E402
from live.runner import LiveOptions, run_live  # noqa: E402
from live.universe import option_symbol, universe  # noqa: E402
from messages.base import IST  # noqa: E402
from simulator.market import Instrument, MarketData, SimTick  # noqa: E402
from simulator.server import SimulatorServer  # noqa: E402

DAY = date(2025, 12, 23)
EXPIRY = date(2025, 12, 30)
ATM = 24500
LOT = 75
API_KEY = "bench-key"
#: the worked example of strategy.md §3 (H, L, C), then the break bar and the stop bar (prices)
PATTERN = [(210, 200, 204), (206, 196, 198), (203, 193, 195), (208, 197, 206), (212, 205, 211)]
BREAK_BAR = (199.0, 197.0, 192.0, 192.5)  # open (closes bar 4: swing LOW at 193), ..., 192 fills the entry
STOP_BAR = (200.0, 214.0, 215.0, 215.0)  # 214 fills the BUY stop at 213
EPISODE_BARS = 8
FIRST_BAR = datetime.combine(DAY, clock_time(9, 16), tzinfo=IST)


def build_market(rate: float, speed: float, episodes: int, seed: int = 7) -> tuple[MarketData, dict]:
    """The session and, per episode symbol, the (time) of its confirming tick and of its filling tick."""
    rng = random.Random(seed)
    symbols = universe("NIFTY", EXPIRY, ATM, 10, 50)
    strikes = sorted({ATM + k * 50 for k in range(-10, 11)})
    ce_episode = [option_symbol("NIFTY", EXPIRY, k, "CE") for k in strikes[:episodes]]
    pe_episode = [option_symbol("NIFTY", EXPIRY, k, "PE") for k in strikes[-episodes:]]
    load = [s for s in symbols if s not in ce_episode and s not in pe_episode]
    ticks: list[SimTick] = []
    marks: dict[str, dict[str, datetime]] = {}
    for n, (ce, pe) in enumerate(zip(ce_episode, pe_episode)):
        for symbol, offset in ((ce, 0), (pe, EPISODE_BARS // 2)):
            start = FIRST_BAR + timedelta(minutes=n * EPISODE_BARS + offset)
            marks[symbol] = _episode(symbol, start, ticks)
    duration = timedelta(minutes=episodes * EPISODE_BARS + EPISODE_BARS)
    per_sim_second = rate / speed
    count = int(duration.total_seconds() * per_sim_second)
    prices = {s: 60.0 for s in load}
    volume = {s: 0 for s in load}
    for k in range(count):
        symbol = load[k % len(load)]
        prices[symbol] = max(20.0, round(prices[symbol] + rng.choice((-0.05, 0.05)), 2))
        volume[symbol] += LOT
        moment = FIRST_BAR - timedelta(seconds=30) + timedelta(seconds=k / per_sim_second)
        ticks.append(SimTick(symbol, "NFO", moment, prices[symbol], volume[symbol]))
    ticks.append(SimTick("NIFTY", "NSE_INDEX", FIRST_BAR - timedelta(seconds=40), float(ATM), 0))
    ticks.sort(key=lambda t: (t.time, t.symbol))
    instruments = {
        s: Instrument(s, "NFO", LOT, 0.05, EXPIRY, float(s[-7:-2]), s[-2:])  # type: ignore[arg-type]
        for s in symbols
    }
    instruments["NIFTY"] = Instrument("NIFTY", "NSE_INDEX", 1, 0.05)
    market = MarketData(day=DAY, expiry=EXPIRY, instruments=instruments, ticks=ticks, bars={}, index_source="synthetic")
    return market, marks


def _episode(symbol: str, start: datetime, ticks: list[SimTick]) -> dict[str, datetime]:
    volume = 0
    bars = [(h, l, c) for h, l, c in PATTERN]
    for i, (high, low, close) in enumerate(bars):
        minute = start + timedelta(minutes=i)
        opening = PATTERN[i - 1][2] if i else (high + low) / 2
        for second, price in ((1, opening), (15, high), (30, low), (45, close)):
            volume += LOT
            ticks.append(SimTick(symbol, "NFO", minute + timedelta(seconds=second), float(price), volume))
    marks = {}
    for i, prices in enumerate((BREAK_BAR, STOP_BAR)):
        minute = start + timedelta(minutes=len(bars) + i)
        for second, price in zip((1, 15, 30, 45), prices):
            volume += LOT
            moment = minute + timedelta(seconds=second)
            ticks.append(SimTick(symbol, "NFO", moment, price, volume))
            if i == 0 and second == 1:
                marks["confirm"] = moment
            if i == 0 and price == 192.0:
                marks["fill"] = moment
    return marks


def _serve_simulator(rate: float, episodes: int, speed: float, pipe: Connection) -> None:
    """Child process: build the market, serve it, time the marked ticks and the order requests.

    Sends ``(rest_url, ws_url)``, then ``"done"`` when the window has played;
    after the parent answers (the trader has stopped) it sends ``(sent, orders)``:
    ``(symbol, "confirm"|"fill") -> time.monotonic()`` of the tick sent and of
    the placeorder received. CLOCK_MONOTONIC is one clock for every process.
    """
    setup_logging("ERROR")
    market, marks = build_market(rate, speed, episodes)
    by_time = {(symbol, t): kind for symbol, m in marks.items() for kind, t in m.items()}
    sent: dict[tuple[str, str], float] = {}
    orders: dict[tuple[str, str], float] = {}
    lock = threading.Lock()

    def tick_hook(now: float, tick: SimTick) -> None:
        kind = by_time.get((tick.symbol, tick.time))
        if kind is not None:
            with lock:
                sent[(tick.symbol, kind)] = now

    def request_hook(now: float, endpoint: str, body: object) -> None:
        if endpoint != "placeorder" or not isinstance(body, dict):
            return
        kind = "confirm" if body.get("action") == "SELL" else "fill"
        with lock:
            orders.setdefault((str(body.get("symbol")), kind), now)

    start, end = _window(episodes)
    sim = SimulatorServer(market, api_key=API_KEY, speed=speed, start=start, end=end)
    sim.on_tick(tick_hook)
    sim.on_request(request_hook)
    sim.start()
    try:
        pipe.send((sim.rest_url, sim.ws_url))
        sim.wait_until_done(timeout=_minutes(start, end) * 60 / speed + 120)
        pipe.send("done")
        pipe.recv()
    finally:
        sim.stop()
    with lock:
        pipe.send((sent, orders))


def _window(episodes: int) -> tuple[clock_time, clock_time]:
    start = (FIRST_BAR - timedelta(minutes=1)).time()
    end = (FIRST_BAR + timedelta(minutes=episodes * EPISODE_BARS + EPISODE_BARS)).time()
    return start, end


def _minutes(start: clock_time, end: clock_time) -> int:
    return end.hour * 60 + end.minute - start.hour * 60 - start.minute


def measure(rate: float, episodes: int, speed: float) -> tuple[list[float], list[float]]:
    """Latency samples (seconds): tick → entry placeorder, entry fill → protective stop."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_serve_simulator, args=(rate, episodes, speed, child), daemon=True)
    server.start()
    stop = threading.Event()
    worker: threading.Thread | None = None
    try:
        if not parent.poll(120):
            raise RuntimeError("the simulator process did not start")
        rest_url, ws_url = parent.recv()
        settings = Settings(
            _env_file=None,
            openalgo_host=rest_url,
            openalgo_ws_url=ws_url,
            openalgo_api_key=SecretStr(API_KEY),
            db_path=Path(":memory:"),
            lot_size=LOT,
            min_vwap_premium=-1.0,
            max_sl_pct=0.5,
            daily_target_r=1000.0,
            daily_stop_r=-1000.0,
        )
        worker = threading.Thread(
            target=run_live, args=(settings, LiveOptions(sim_clock=True), stop, io.StringIO()), daemon=True
        )
        worker.start()
        start, end = _window(episodes)
        if not parent.poll(_minutes(start, end) * 60 / speed + 180):
            raise RuntimeError("the simulator window did not end")
        parent.recv()
    finally:
        stop.set()
        if worker is not None:
            worker.join(60)
        parent.send("stopped")
    sent, orders = parent.recv()
    server.join(30)
    entry = [orders[k] - sent[k] for k in sent if k[1] == "confirm" and k in orders]
    stop_lat = [orders[k] - sent[k] for k in sent if k[1] == "fill" and k in orders]
    return entry, stop_lat


def _line(name: str, samples: list[float]) -> str:
    if not samples:
        return f"{name:<34} no samples"
    ms = sorted(s * 1000 for s in samples)
    p99 = statistics.quantiles(ms, n=100, method="inclusive")[98] if len(ms) > 1 else ms[0]
    return f"{name:<34} p50 {statistics.median(ms):8.2f} ms  p99 {p99:8.2f} ms  max {ms[-1]:8.2f} ms  (n={len(ms)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[1000.0, 5000.0], help="ticks per real second")
    parser.add_argument("--episodes", type=int, default=10, help="episodes per option type (at most 10)")
    parser.add_argument("--speed", type=float, default=120.0, help="simulated seconds per real second")
    args = parser.parse_args()
    setup_logging("ERROR")
    for rate in args.rates:
        started = time.perf_counter()
        entry, stop_lat = measure(rate, min(args.episodes, 10), args.speed)
        print(f"--- {rate:,.0f} ticks/s over the WebSocket (speed {args.speed:g}x, {time.perf_counter() - started:.0f} s)")
        print(_line("tick → entry placeorder", entry))
        print(_line("entry fill → protective stop", stop_lat))


if __name__ == "__main__":
    main()
