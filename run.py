"""Command line of the NIFTY options trader.

    python run.py [--expiry 30DEC25] [--atm 26000] [--dry-run]    trade today through OpenAlgo
    python run.py check                                            pre-flight checks only
    python run.py replay FILE [FILE ...]                           replay recorded sessions
    python run.py report [DATE] [--db PATH]                        a session's PNG and HTML report
    python run.py sim --data FILE | --synthetic SEED               run the OpenAlgo-compatible simulator
    python run.py demo                                             simulator + live path, end to end

``python run.py --help`` lists every command; each has its own ``--help``.

Ctrl-C (SIGINT) or SIGTERM stops a command once (:class:`StopSignals`): a
session (live, paper, dry run, demo) takes no new entry, cancels its working
entries, leaves the stops at the broker, lists its trades, stops every actor,
closes the journal and exits 0; a replay stops at its next step, stops its
actors, closes the journal and exits 130 (143 after SIGTERM) without a
report; the simulator stops and exits 0. A signal while it stops is logged
("already stopping; …") and ignored. ``check`` keeps Python's Ctrl-C.
"""

from __future__ import annotations

import argparse
import queue
import secrets
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from loguru import logger
from pydantic import SecretStr

from broker.matching import FILL_MODELS
from config.logging import setup_logging
from config.settings import Settings, SettingsError, load_settings

#: The demo's fixed trading day, so its market is the same every time.
DEMO_DAY = date(2025, 12, 23)
#: What each fill model (broker.matching) does, for --help and the demo's first lines.
FILL_MODEL_NOTES = {
    "exchange": "an SL fills at the trade that reaches it, or at its limit once resting; MARKET at the next trade",
    "openalgo-sandbox": "as OpenAlgo's analyzer mode: a triggered SL at the last price, MARKET at once at the bid/ask",
}


#: What a stop does, per command (in the log line a signal gets).
LIVE_STOP = "working entries are cancelled, stops stay at the broker, the journal is flushed, then it exits"
REPLAY_STOP = "the replay stops at its next step, the journal is flushed, then it exits without a report"
SIM_STOP = "the simulator stops, then it exits"


class StopSignals:
    """SIGINT (Ctrl-C) and SIGTERM ask the command to stop; a signal after the first is logged and ignored.

    A context manager: it installs its handler on entry (in the main thread
    only: elsewhere it installs none) and, when no signal came, gives the
    previous handlers back on exit. After a signal, exit ignores SIGINT and
    SIGTERM from then on (``SIG_IGN``): the command is ending, and Python
    would die of a signal that came while it shuts down.

    The handler only hands the signal to a thread of its own
    (``SimpleQueue.put`` is safe in a signal handler; logging, printing and
    even ``Event.set`` are not: they take locks that the interrupted code may
    hold). That thread logs ``SIGNAME: stopping (...)`` for the first signal,
    sets :attr:`event` and calls the :meth:`on_stop` callback; for each later
    one it logs ``already stopping; SIGNAME ignored (...)``. Nothing is ever
    raised in the interrupted code, so stopping runs to its end: actors
    stopped, then the journal closed.
    """

    def __init__(self, stopping: str) -> None:
        self.event = threading.Event()
        #: the first signal received, or None
        self.signum: int | None = None
        self._stopping = stopping
        self._received: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._on_stop: Callable[[], None] | None = None
        self._previous: dict[int, Any] = {}
        self._thread = threading.Thread(target=self._run, name="stop-signals", daemon=True)

    @property
    def name(self) -> str:
        """The first signal's name (``SIGINT``), or ``""``."""
        return signal.Signals(self.signum).name if self.signum is not None else ""

    def __enter__(self) -> StopSignals:
        self._thread.start()
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handler)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._received.put(None)  # the signals received so far are logged first
        self._thread.join(5)
        for signum, handler in self._previous.items():
            signal.signal(signum, signal.SIG_IGN if self.event.is_set() else handler)

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (once, from the signal thread) at the first signal; at once if it came already.

        A later call replaces the callback.
        """
        with self._lock:
            self._on_stop = callback
            if self.event.is_set():
                callback()

    def _handler(self, signum: int, _frame: object) -> None:
        self._received.put(signum)

    def _run(self) -> None:
        while (signum := self._received.get()) is not None:
            name = signal.Signals(signum).name
            if self.event.is_set():
                logger.warning("already stopping; {} ignored ({})", name, self._stopping)
                continue
            logger.warning("{}: stopping ({})", name, self._stopping)
            with self._lock:
                self.signum = signum
                self.event.set()
                if self._on_stop is not None:
                    self._on_stop()


def _hhmm(text: str) -> time:
    try:
        return datetime.strptime(text, "%H:%M").time()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HH:MM, got {text!r}") from None


# --- live ------------------------------------------------------------------------------
def _live(args: argparse.Namespace, settings: Settings) -> int:
    from live.runner import LiveOptions, run_live

    if not settings.openalgo_api_key.get_secret_value():
        print("error: OPENALGO_API_KEY is not set (put it in .env)", file=sys.stderr)
        return 2
    setup_logging(args.log_level or settings.log_level, settings.log_dir)
    options = LiveOptions(
        expiry=args.expiry,
        atm=args.atm,
        dry_run=args.dry_run,
        switch_to_analyzer=args.switch_to_analyzer,
        sim_clock=args.sim_clock,
        events=args.events,
        progress=sys.stdout.isatty(),  # the session clock, trades and R in place, on a terminal only
    )
    with StopSignals(LIVE_STOP) as signals:
        return run_live(settings, options, signals.event)


def _status(args: argparse.Namespace, settings: Settings) -> int:
    from live.desk import render_status
    from messages.base import IST

    def show(store) -> int:  # noqa: ANN001
        print(render_status(store, args.day, datetime.now(IST)))
        return 0

    return _on_journal(args, settings, show)


def _control(args: argparse.Namespace, settings: Settings) -> int:
    from live.desk import send_command

    def send(store) -> int:  # noqa: ANN001
        applied, text = send_command(store, args.control, args.wait)
        print(text)
        return 0 if applied else 1

    return _on_journal(args, settings, send)


def _on_journal(args: argparse.Namespace, settings: Settings, work, db: str | None = None) -> int:  # noqa: ANN001
    """``work(store)`` on the journal at ``db`` (``--db``), else at ``DB_PATH`` (a second terminal's commands,
    the report); 2 when there is none or it cannot be opened."""
    from persistence.journal_store import JournalError, JournalStore

    setup_logging(args.log_level or "WARNING")
    if db is not None and not Path(db).is_file():
        print(f"error: no journal at --db {db}", file=sys.stderr)
        return 2
    if db is None and not Path(settings.db_path).exists():
        print(f"error: no journal at DB_PATH={settings.db_path}: no trader ran here", file=sys.stderr)
        return 2
    try:
        with JournalStore(db or settings.db_path) as store:
            return work(store)
    except JournalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _check(args: argparse.Namespace, settings: Settings) -> int:
    """The PASS/FAIL table of every pre-flight check (live/preflight.py); exit 0 only when all pass."""
    import requests

    from broker.openalgo_rest import OpenAlgoClient
    from live import preflight as checks
    from live.preflight import check_all, clock_check, journal_check, render_checks, websocket_check
    from live.runner import market_closed_reason, read_sim_clock
    from messages.base import IST

    setup_logging(args.log_level or "ERROR")
    if not settings.openalgo_api_key.get_secret_value():
        print("error: OPENALGO_API_KEY is not set (put it in .env)", file=sys.stderr)
        return 2
    client = OpenAlgoClient(settings.openalgo_host, settings.openalgo_api_key, settings.strategy_name)
    now = datetime.now(IST)
    paced = False
    if args.sim_clock:  # the simulator's day and time, as run.py --sim-clock trades it
        try:
            body = read_sim_clock(settings)
            now = datetime.fromisoformat(body["sim_time"]).astimezone(IST)
            # a paced simulator's clock waits for a trader to connect: no tick comes to the check
            paced = bool(body.get("paced"))
        except Exception as exc:  # noqa: BLE001 - any failure is the same advice
            print(f"FAIL  --sim-clock: the simulator's clock at {settings.openalgo_host}/sim/clock: {exc}")
            return 1
    closed = market_closed_reason(now, settings)

    def server_date() -> str | None:
        try:
            return requests.get(settings.openalgo_host, timeout=3).headers.get("Date")
        except requests.RequestException:
            return None

    rows, _plan = check_all(
        client, settings, now.date(), args.expiry, args.atm, ping_patience=checks.PING_PATIENCE,
        extra=(
            ("websocket", lambda plan: websocket_check(
                settings, plan.symbols[len(plan.symbols) // 2], not closed and not paced, checks.WS_WAIT,
                "paced simulator: its clock waits for the trader" if paced and not closed else "market closed",
            )),
            ("journal", lambda plan: journal_check(Path(settings.db_path))),
            # the machine's time when the server's is read (the checks before may have taken seconds)
            ("clock", lambda plan: clock_check(settings, server_date(), datetime.now(IST))),
        ),
    )
    print(render_checks(rows))
    print(f"note  {closed}" if closed else "note  the market session is open now")
    return 0 if all(row.passed for row in rows) else 1


def _report(args: argparse.Namespace, settings: Settings) -> int:
    """A PNG and an HTML page per session (report/), from a live or a replay journal; 2 when there is none,
    or when a day could not be reported (the others are)."""
    from report.render import totals, write_report
    from report.session import build_report

    out = args.out or settings.log_dir

    def write(store) -> int:  # noqa: ANN001
        days = store.sessions() if args.all else [args.date] if args.date else store.sessions()[-1:]
        if not days:
            print(f"error: the journal {store.path} holds no session yet", file=sys.stderr)
            return 2
        failed = 0
        for day in days:  # one day that cannot be reported does not stop the others
            try:
                report = build_report(store, day, settings.market_open, settings.market_close)
                png = out / f"{settings.strategy_name}_report_{day.isoformat()}.png"
                page = png.with_suffix(".html")
                write_report(report, png, page,
                             f"{settings.strategy_name}  {day.isoformat()}  (journal {Path(store.path).name})")
            except (ValueError, OSError) as exc:
                print(f"error: {day.isoformat()}: {exc}", file=sys.stderr)
                failed += 1
                continue
            print(f"{day.isoformat()}: {totals(report)}\n  {png}\n  {page}")
        return 2 if failed else 0

    return _on_journal(args, settings, write, args.db)


# --- replay ------------------------------------------------------------------------------
def _replay(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 with the report; 2 for bad input; 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM),
    and no report, when a signal stops it before the last session has been replayed."""
    from actors.base import GraphFailed
    from persistence.event_log import EventLog
    from persistence.journal_store import JournalStore
    from replay.data import ReplayDataError, RecordedSession
    from replay.driver import ReplayRun, load_any
    from replay.lots import parse_lot_sizes, volume_lot
    from replay.report import render

    setup_logging(args.log_level or "WARNING")
    if args.db and Path(args.db).exists():
        print(f"error: journal {args.db} already exists; choose another --db or delete it", file=sys.stderr)
        return 2
    with StopSignals(REPLAY_STOP) as signals:
        # replay.driver.replay_files, session by session, so that a signal can stop the one running:
        # its next wait for the graph to go quiet raises GraphFailed, and it stops its graph
        try:
            sessions = [load_any(Path(p)).window(args.start, args.end) for p in args.files]
            every, by_day = parse_lot_sizes(args.lot_sizes)
        except (ReplayDataError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        # a feed recording says its lot size (the broker's that day); a bar file does not
        lots = [by_day.get(session.day, every or getattr(session, "lot_size", settings.lot_size)) for session in sessions]
        for session, lot in zip(sessions, lots):
            if not isinstance(session, RecordedSession):
                continue
            # the opening bar's volume may hold the pre-open auction's quantity, in any number of contracts
            seen = volume_lot(b.volume for b in session.bars if b.start.time() != settings.market_open)
            if seen is not None and seen % lot:
                logger.warning(
                    "{}: its volumes are multiples of {} contracts, not of the lot size {}: its lot is probably "
                    "{} (give --lot-size {}={})", session.path.name, seen, lot, seen, session.day, seen,
                )
        results = []
        bar = _replay_progress(sessions)
        try:
            with JournalStore(args.db or ":memory:") as store, EventLog(args.events) as events:
                for session, lot in zip(sessions, lots):
                    replay_run = ReplayRun(session, settings.model_copy(update={"lot_size": lot}), store, events,
                                           progress=(lambda _moment: bar.update(1)) if bar else None)
                    signals.on_stop(lambda run=replay_run: run.interrupt(f"interrupted by {signals.name}"))
                    if signals.event.is_set():
                        break
                    logger.info("replaying {} ({} symbols)", session.path.name, len(session.symbols))
                    results.append(replay_run.run())
        except GraphFailed:
            if not signals.event.is_set():
                raise
        if bar is not None:
            bar.close()
        if len(results) < len(sessions):
            journal = f"; the journal {args.db} holds what was replayed" if args.db else ""
            print(
                f"replay interrupted by {signals.name}: {len(results)} of {len(sessions)} sessions replayed, "
                f"no report{journal}",
                file=sys.stderr,
            )
            return 128 + (signals.signum or signal.SIGINT)
    sys.stdout.write(render(results))
    return 0


def _replay_progress(sessions):  # noqa: ANN001, ANN202
    """A progress bar over every instant of ``sessions`` (four per minute bar), in a terminal only."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    from replay.driver import instant_count

    instants = sum(instant_count(session) for session in sessions)
    return tqdm(total=instants, unit=" instants", desc=f"replay {len(sessions)} session(s)", file=sys.stderr)


# --- simulator ------------------------------------------------------------------------------
def _market(args: argparse.Namespace, settings: Settings):  # noqa: ANN202
    from simulator.recorded import market_from_recorded
    from simulator.synthetic import synthetic_market

    if args.data is not None:
        return market_from_recorded(args.data, spot_path=args.spot, lot_size=settings.lot_size)
    return synthetic_market(args.synthetic, day=args.day, lot_size=settings.lot_size)


def _simulator(args: argparse.Namespace, market, api_key: str, rest_port: int, ws_port: int):  # noqa: ANN001, ANN202
    from simulator.faults import Faults
    from simulator.server import SimulatorServer

    faults = Faults(latency_ms=args.latency_ms, reject_rate=args.reject_rate, seed=args.synthetic or 0)
    return SimulatorServer(
        market,
        api_key=api_key,
        speed=args.speed,
        start=args.start,
        end=args.end,
        analyze_mode=not args.live_mode,
        rest_port=rest_port,
        ws_port=ws_port,
        faults=faults,
        paced=args.paced,
        fill_model=args.fill_model,
    )


def _sim(args: argparse.Namespace, settings: Settings) -> int:
    setup_logging(args.log_level or "INFO")
    with StopSignals(SIM_STOP) as signals:
        try:
            market = _market(args, settings)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if signals.event.is_set():
            return 0
        api_key = args.api_key or secrets.token_hex(16)
        try:
            server = _simulator(args, market, api_key, args.rest_port, args.ws_port).start()
        except (OSError, RuntimeError) as exc:  # the ports are taken (the server says so)
            print(
                f"error: cannot serve on 127.0.0.1 ports {args.rest_port} (REST) and {args.ws_port} (WebSocket): {exc}. "
                "OpenAlgo itself uses 5000 and 8765; give free ones with --rest-port and --ws-port",
                file=sys.stderr,
            )
            return 2
        try:
            print(f"OpenAlgo simulator  REST {server.rest_url}  WS {server.ws_url}")
            print(f"API key             {api_key}")
            print(f"session             {market.day}  {server.clock.now():%H:%M} onwards at {args.speed:g}x")
            print("trade against it:   python run.py --sim-clock   (with OPENALGO_HOST, OPENALGO_WS_URL, OPENALGO_API_KEY set)")
            print("Ctrl-C stops it.", flush=True)
            while not signals.event.is_set() and not server.wait_until_done(timeout=0.5):
                pass
            if not signals.event.is_set():
                # it goes on serving: traders read /sim/clock's "done" and the books after the session's end
                print("the session is over; its books are still served. Ctrl-C stops it.", flush=True)
                signals.event.wait()
        finally:
            server.stop()
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from live.runner import LiveOptions, run_live

    setup_logging(args.log_level or "WARNING")
    args.data, args.spot, args.day = None, None, DEMO_DAY
    args.synthetic = args.seed
    with StopSignals(LIVE_STOP) as signals:
        market = _market(args, settings)
        api_key = secrets.token_hex(16)
        server = _simulator(args, market, api_key, 0, 0).start()
        try:
            print(
                f"demo: synthetic NIFTY session {market.day} (seed {args.seed}), {args.start:%H:%M}-{args.end:%H:%M} "
                f"IST, on {server.rest_url}; its clock runs at up to {args.speed:g}x and waits for the trader"
            )
            print(f"fill model: {args.fill_model} ({FILL_MODEL_NOTES[args.fill_model]})", flush=True)
            with tempfile.TemporaryDirectory(prefix="demo-journal-") as tmp:
                demo_settings = settings.model_copy(
                    update={
                        "openalgo_host": server.rest_url,
                        "openalgo_ws_url": server.ws_url,
                        "openalgo_api_key": SecretStr(api_key),
                        "paper_trading": True,
                        "db_path": Path(tmp) / "journal.db",
                        "log_dir": Path(tmp),  # its trade files and event log go with its journal
                    }
                )
                options = LiveOptions(sim_clock=True, events=args.events, progress=True)
                # it ends where the paced simulator's clock stops, or at a signal (as a live session does)
                return run_live(demo_settings, options, signals.event)
        finally:
            server.stop()


# --- parser -----------------------------------------------------------------------------------
#: loguru's levels, the only ones --log-level takes (any case)
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")


def _log_level(text: str) -> str:
    level = text.upper()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(LOG_LEVELS)} (any case), got {text!r}")
    return level


def _add_common(parser: argparse.ArgumentParser, trading: bool, suppress: bool) -> None:
    """The options every command takes (``trading``: also the session's), before or after the command.

    After the command they default to "not given" (``suppress``), so the value given before it stands.
    """
    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--env-file", default=default(None), metavar="PATH",
                        help="settings file (default: .env if there; the environment wins); a missing one is an error")
    parser.add_argument("--log-level", type=_log_level, default=default(None), metavar="LEVEL",
                        help="TRACE, DEBUG, INFO, WARNING, ERROR, any case (default per command)")
    if trading:
        parser.add_argument("--expiry", default=default(None), help="option expiry like 30DEC25 (default: nearest, from /expiry)")
        parser.add_argument("--atm", type=int, default=default(None), help="ATM strike (default: NIFTY index quote rounded)")
        parser.add_argument("--sim-clock", action="store_true", default=default(False),
                            help="follow the simulator's clock (run.py sim)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="baseline_v1 swing-break trader for NIFTY options, on OpenAlgo. "
        "Without a command: trade today's session (paper unless PAPER_TRADING=false). "
        "Ctrl-C or SIGTERM ends a session early: working entries are cancelled, stops stay at the broker, "
        "the trades are listed, the journal is flushed, exit 0; a second signal is ignored.",
    )
    _add_common(parser, trading=True, suppress=False)
    # the same options after the command (``run.py check --expiry 30DEC25``)
    common_after, trading_after = argparse.ArgumentParser(add_help=False), argparse.ArgumentParser(add_help=False)
    _add_common(common_after, trading=False, suppress=True)
    _add_common(trading_after, trading=True, suppress=True)
    parser.add_argument("--dry-run", action="store_true", help="live data, orders matched locally: nothing is sent")
    parser.add_argument(
        "--switch-to-analyzer", action="store_true", help="with PAPER_TRADING=true, switch OpenAlgo to analyzer mode"
    )
    parser.add_argument("--events", type=Path, default=None, metavar="PATH", help="write the event log (JSON Lines)")
    parser.set_defaults(func=_live)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser("check", help="pre-flight checks against OpenAlgo, then exit", parents=[trading_after])
    check.set_defaults(func=_check)

    status = commands.add_parser(
        "status",
        parents=[common_after],
        help="the session as the journal (DB_PATH) holds it: trader running, pause/halt, R, positions, orders",
        description="Read the journal at DB_PATH, while the trader runs or after, and print its state.",
    )
    status.add_argument("--day", type=date.fromisoformat, default=None, help="session YYYY-MM-DD (default: the latest)")
    status.set_defaults(func=_status)
    report = commands.add_parser(
        "report",
        parents=[common_after],
        help="a PNG and an HTML page of a session: cumulative R, trades, charts of each traded strike",
        description="From a live journal (DB_PATH) or a replay's (--db): the cumulative-R curve with entries and "
        "exits, the trades table, and per traded strike its 1-minute bars, VWAP, swing lows, entry triggers, stops "
        "and fills. Written to LOG_DIR (or --out) as <strategy>_report_<date>.png and .html.",
    )
    report.add_argument("date", nargs="?", type=date.fromisoformat, default=None, metavar="DATE",
                        help="session YYYY-MM-DD (default: the journal's latest)")
    report.add_argument("--db", default=None, metavar="PATH", help="the journal to read (default DB_PATH)")
    report.add_argument("--all", action="store_true", help="every session the journal holds")
    report.add_argument("--out", type=Path, default=None, metavar="DIR", help="folder for the files (default LOG_DIR)")
    report.set_defaults(func=_report)
    for name, what in (
        ("pause", "no new entries (open positions and their stops stay)"),
        ("resume", "allow entries again after pause"),
        ("stop", "close everything at MARKET and halt for the day, like ±5R"),
    ):
        control = commands.add_parser(name, parents=[common_after], help=f"tell the running trader: {what}", description=f"{what}. "
                                      "The running trader (same DB_PATH) applies it within about a second.")
        control.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the trader (default 10)")
        control.set_defaults(func=_control, control=name)

    replay = commands.add_parser(
        "replay",
        parents=[common_after],
        help="replay recorded session files through the actor graph with a simulated broker",
        description="Replay recorded 1-minute bar files or live feed recordings (one session per file) and print the trades. "
        "Ctrl-C (or SIGTERM) stops it at its next step, journal flushed: no report, exit 130 (143 for SIGTERM).",
    )
    replay.add_argument(
        "files", nargs="+", metavar="FILE",
        help="1-minute bars, CSV(.gz): timestamp,symbol,open,high,low,close,volume,oi; or a live day's feed "
             "recording, LOG_DIR/<strategy>_feed_<date>.jsonl(.gz)",
    )
    replay.add_argument("--events", type=Path, default=argparse.SUPPRESS, metavar="PATH", help="write the event log (JSON Lines)")
    replay.add_argument("--db", default=None, metavar="PATH", help="write the SQLite journal (new file; default: memory)")
    replay.add_argument(
        "--lot-size", dest="lot_sizes", action="append", default=[], metavar="N|YYYY-MM-DD=N",
        help="contracts per lot, for every file or for one session date (repeat); default LOT_SIZE (2021 files: 75)",
    )
    replay.add_argument("--start", type=_hhmm, default=None, metavar="HH:MM", help="replay only bars from this time")
    replay.add_argument("--end", type=_hhmm, default=None, metavar="HH:MM", help="replay only bars before this time")
    replay.set_defaults(func=_replay)

    sim = commands.add_parser(
        "sim",
        parents=[common_after],
        help="run the OpenAlgo-compatible simulator on 127.0.0.1",
        description="Serve OpenAlgo's REST and WebSocket protocol on 127.0.0.1 from a recorded or synthetic session.",
    )
    source = sim.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, metavar="FILE", help="recorded session file (../shared/data format)")
    source.add_argument("--synthetic", type=int, metavar="SEED", help="seeded synthetic session")
    sim.add_argument("--spot", type=Path, default=None, metavar="FILE", help="NIFTY spot file for --data (else estimated)")
    sim.add_argument("--day", type=date.fromisoformat, default=DEMO_DAY, help="day of a synthetic session (YYYY-MM-DD)")
    sim.add_argument("--lot-size", type=int, default=None, metavar="N", help="contracts per lot (default LOT_SIZE)")
    _sim_options(sim, speed=1.0)
    sim.add_argument("--rest-port", type=int, default=5000, metavar="N")
    sim.add_argument("--ws-port", type=int, default=8765, metavar="N")
    sim.add_argument("--api-key", default=None, metavar="KEY", help="the only key accepted (default: a random one)")
    sim.add_argument("--live-mode", action="store_true", help="start with analyzer mode off")
    sim.add_argument(
        "--paced",
        action="store_true",
        help="the clock waits for each client that asks (run.py --sim-clock does): same session on any machine",
    )
    sim.set_defaults(func=_sim)

    demo = commands.add_parser(
        "demo",
        parents=[common_after],
        help="simulator + live path over real sockets: trade a synthetic day and print the result",
        description="Start the simulator on free loopback ports with a synthetic session and trade it end to end.",
    )
    demo.add_argument("--seed", type=int, default=1, help="synthetic session seed (default 1)")
    demo.add_argument("--lot-size", type=int, default=None, metavar="N", help="contracts per lot (default LOT_SIZE)")
    demo.add_argument("--events", type=Path, default=argparse.SUPPRESS, metavar="PATH", help="write the event log (JSON Lines)")
    _sim_options(demo, speed=300.0)
    demo.set_defaults(func=_demo, live_mode=False, paced=True)
    return parser


def _sim_options(parser: argparse.ArgumentParser, speed: float) -> None:
    parser.add_argument("--speed", type=float, default=speed, help=f"simulated seconds per real second (default {speed:g})")
    parser.add_argument("--start", type=_hhmm, default=time(9, 15), metavar="HH:MM", help="session start (default 09:15)")
    parser.add_argument("--end", type=_hhmm, default=time(15, 30), metavar="HH:MM", help="session end (default 15:30)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every REST reply")
    parser.add_argument("--reject-rate", type=float, default=0.0, help="fraction of orders the simulator rejects")
    parser.add_argument(
        "--fill-model",
        choices=FILL_MODELS,
        default=FILL_MODELS[0],
        help="; ".join(f"{model}: {note}" for model, note in FILL_MODEL_NOTES.items()) + " (default: exchange, as replay)",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    env_file = args.env_file if args.env_file is not None else ".env"
    if args.env_file is not None and not Path(args.env_file).is_file():
        print(f"error: --env-file {args.env_file}: no such file", file=sys.stderr)
        return 2
    try:
        overrides = {"lot_size": args.lot_size} if getattr(args, "lot_size", None) is not None else {}
        settings = load_settings(env_file, **overrides)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return args.func(args, settings)


if __name__ == "__main__":
    sys.exit(main())
