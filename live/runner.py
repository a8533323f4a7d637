"""``python run.py``: one trading session through OpenAlgo (live, paper or dry run).

ping → analyzer check → funds → universe → journal → actor graph → WebSocket
(connect, subscribe, warm-up from today's history) → trade → 15:15 exit →
daily summary → exit after the close.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TextIO

import requests
from loguru import logger
from pydantic import ValidationError

from actors.base import InFlight, Router
from actors.clock import Clock, ScaledClock, SteppedClock, WallClock
from actors.alerts import AlertActor
from actors.control import ControlActor
from actors.feed import FeedActor
from actors.names import ALERTS, CONTROL, FEED, PORTFOLIO
from actors.order import order_update_listener
from actors.supervisor import ActorSpec, Graph
from broker.base import BrokerError
from broker.gateway import CLOCK_SKEW, BrokerGateway
from broker.openalgo_rest import OpenAlgoClient
from broker.openalgo_ws import MarketFeed
from broker.simulated import SimulatedBroker
from config.settings import Settings
from live.pacing import QUIET_TIMEOUT, Pacer
from live.preflight import Ours, PreflightError, SessionPlan, preflight
from live.progress import SessionProgress
from live.settle import settle_intents
from live.ticker import Ticker
from messages.base import IST
from messages.market import Bar
from messages.portfolio import GetTrades
from messages.system import ControlDue
from persistence.event_log import EventLog
from persistence.journal_store import JournalError, JournalStore
from persistence.trade_files import TradeFiles
from replay.recording import FeedRecorder, recording_path
from replay.report import render_sessions
from strategy.session import at

#: How long after the close the program stays up (summary written, exits filled).
AFTER_CLOSE = timedelta(seconds=30)
#: Client-side throttles, below OpenAlgo's default limits (10/s orders, 10-50/s other calls).
ORDERS_PER_SECOND = 8.0
READS_PER_SECOND = 8.0


@dataclass(frozen=True)
class LiveOptions:
    """Command-line overrides for one live session."""

    expiry: str | None = None
    atm: int | None = None
    dry_run: bool = False
    switch_to_analyzer: bool = False
    sim_clock: bool = False
    events: Path | None = None
    #: print the session clock and each trade as it opens and closes (:mod:`live.progress`)
    progress: bool = False


def make_clock(router: Router, settings: Settings, sim_clock: bool) -> tuple[Clock, datetime | None]:
    """The wall clock, or (``sim_clock``) the simulator's clock read from its ``/sim/clock``; and the
    time that clock stops at, if it does.

    Against a paced simulator that is a :class:`SteppedClock` moved by the
    simulator's steps (see :mod:`live.pacing`), which stops at the
    simulator's session end; else a :class:`ScaledClock` running at the
    simulator's speed. Raises ``requests.RequestException``, ``KeyError`` or
    ``ValueError`` when ``/sim/clock`` cannot be read.
    """
    if not sim_clock:
        return WallClock(router), None
    body = read_sim_clock(settings)
    start, speed = datetime.fromisoformat(body["sim_time"]), float(body["speed"])
    if body.get("paced"):
        clock = SteppedClock(router, router.inflight, start, quiet_timeout=QUIET_TIMEOUT, speed=speed)
        return clock, datetime.fromisoformat(body["end"])
    return ScaledClock(router, start, speed), None


def read_sim_clock(settings: Settings) -> dict:
    """The simulator's ``GET /sim/clock`` body. Raises ``requests.RequestException`` or ``ValueError``."""
    reply = requests.get(f"{settings.openalgo_host}/sim/clock", timeout=5)
    reply.raise_for_status()
    return reply.json()


def _simulator_done(settings: Settings) -> bool:
    """The simulator's ``/sim/clock`` says its session is over (False when it cannot be read)."""
    try:
        return bool(read_sim_clock(settings).get("done"))
    except (requests.RequestException, ValueError) as exc:
        logger.debug("simulator clock unreadable: {!r}", exc)
        return False


def market_closed_reason(now: datetime, settings: Settings) -> str:
    """Why no session can be traded now, or ``""``."""
    if now.weekday() >= 5:
        return f"the market is closed on {now:%A}s"
    if now >= at(now.date(), settings.market_close):
        return f"the market closed at {settings.market_close:%H:%M} IST"
    return ""


def run_live(
    settings: Settings,
    options: LiveOptions,
    stop: threading.Event,
    out: TextIO = sys.stdout,
    on_started: Callable[[Graph], None] | None = None,
) -> int:
    """Trade one session. Returns the process exit code (0 done, stopped or market closed, 2 pre-flight failed).

    ``stop`` (set by SIGINT or SIGTERM in ``run.py``) ends the session early:
    no new entries, the working entries cancelled, the stops left at the
    broker, the trades listed, every actor stopped, then the journal flushed
    and closed; exit code 0. Set during the pre-flight checks, it ends the
    run once they are done, before anything is traded.
    ``on_started`` (tests, tools) gets the running graph once it is started.
    """
    client = OpenAlgoClient(
        settings.openalgo_host,
        settings.openalgo_api_key,
        settings.strategy_name,
        connect_timeout=settings.http_connect_timeout,
        read_timeout=settings.http_read_timeout,
    )
    inflight = InFlight()
    router = Router(inflight)
    try:
        clock, clock_stops = make_clock(router, settings, options.sim_clock)
    except (requests.RequestException, KeyError, ValueError) as exc:
        print(f"error: cannot read the simulator clock at {settings.openalgo_host}/sim/clock: {exc}", file=sys.stderr)
        return 2
    try:
        now = clock.now()
        closed = market_closed_reason(now, settings)
        if closed:
            print(f"Nothing to trade: {closed} ({now:%Y-%m-%d %H:%M} IST).", file=out)
            return 0
        try:
            # what the day's journal holds is ours: a restart takes it over (the actors' recovery),
            # once the placements a crash left unanswered are settled from the order book
            with JournalStore(settings.db_path) as store:
                if store.unsettled_intents(now.date()):
                    settle_intents(store, now.date(), client.order_book(), settings, now, clock.span(CLOCK_SKEW.total_seconds()))
                ours = Ours.from_journal(store, now.date())
        except JournalError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except BrokerError as exc:
            print(f"error: placements were left unanswered and the order book cannot be read to settle them: {exc}",
                  file=sys.stderr)
            return 2
        try:
            plan = preflight(
                client, settings, now.date(), options.expiry, options.atm, options.switch_to_analyzer, ours=ours,
                dry_run=options.dry_run,
            )
        except PreflightError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        settings = settings.model_copy(update={"lot_size": plan.lot_size})
        print("\n".join(plan.lines()), file=out, flush=True)
        if stop.is_set():
            print("Stopped before trading began: no order was sent.", file=out)
            return 0
        return _trade(settings, options, plan, client, clock, clock_stops, router, stop, out, on_started)
    finally:
        clock.stop()


def _trade(
    settings: Settings,
    options: LiveOptions,
    plan: SessionPlan,
    client: OpenAlgoClient,
    clock: Clock,
    clock_stops: datetime | None,
    router: Router,
    stop: threading.Event,
    out: TextIO,
    on_started: Callable[[Graph], None] | None,
) -> int:
    day = clock.now().date()
    # the event log of a live session: in LOG_DIR unless --events says where; a restart goes on in it
    events_path = options.events or settings.log_dir / f"{settings.strategy_name}_events_{day.isoformat()}.jsonl"
    with JournalStore(settings.db_path) as store, EventLog(events_path, append=True) as events:
        halted, reason = store.is_halted(day)
        if halted:
            logger.warning("trading is halted for {} ({}); no new entries today", day, reason)
        recorder = _feed_recorder(settings, plan, day, clock.now(), options.dry_run)
        broker, tick_sink = client, None
        if options.dry_run:
            broker, tick_sink = _dry_run_broker(settings, plan, clock, router)
        gateway = BrokerGateway(
            broker,
            clock.now,
            attempts=settings.broker_retries,
            delay=settings.broker_retry_delay,
            # the server's limits are per (simulated) second: scale with the clock
            orders_per_second=None if options.dry_run else ORDERS_PER_SECOND * clock.speed,
            reads_per_second=READS_PER_SECOND * clock.speed,
            # order-book times are the broker's: against a fast simulator, ours follows it only so closely
            clock_skew=clock.span(CLOCK_SKEW.total_seconds()),
        )
        key = settings.openalgo_api_key.get_secret_value()
        instruments = [(symbol, settings.exchange) for symbol in plan.symbols]

        pacers: list[Pacer] = []

        def make_feed(callbacks):  # noqa: ANN001, ANN202
            # against a paced simulator, the Pacer delivers the feed one input at a time
            pacer = Pacer(callbacks, clock, router.inflight) if isinstance(clock, SteppedClock) else None
            if pacer is not None:
                pacers.append(pacer)
            receiver = pacer or callbacks
            feed = MarketFeed(
                settings.openalgo_ws_url,
                key,
                instruments,
                on_tick=receiver.on_tick,
                on_order_update=receiver.on_order_update,
                on_connected=receiver.on_connected,
                on_disconnected=receiver.on_disconnected,
                in_market_hours=lambda: settings.market_open <= clock.now().time() < settings.market_close,
                mute_seconds=settings.feed_mute_seconds,
                now=clock.now,
                on_sim_clock=pacer.on_sim_clock if pacer else None,
            )
            return pacer.attach(feed) if pacer else feed

        def history(symbol: str) -> list[Bar]:
            candles = gateway.read(
                lambda: client.history(symbol, settings.exchange, "1m", day, day), f"history {symbol}"
            )
            return bars_from_candles(symbol, candles)

        alerts = ()
        if settings.telegram_username:  # through OpenAlgo's bot, never in trading's way (actors/alerts.py)
            def send(text: str, priority: int) -> bool:
                return client.telegram_notify(settings.telegram_username, text, priority).delivered

            alerts = (ActorSpec(ALERTS, lambda: AlertActor.start(ALERTS, graph.ctx, send)),)
        graph = Graph(
            settings,
            clock,
            router,
            gateway,
            store,
            events,
            plan.symbols,
            halted_reason=reason if halted else "",
            trading=False,
            trade_files=TradeFiles(settings.log_dir, settings.strategy_name),
            extra=(
                ActorSpec(
                    FEED,
                    lambda: FeedActor.start(
                        FEED, graph.ctx, plan.symbols, make_feed, history, lambda: graph.start_trading(), tick_sink,
                        recorder,
                    ),
                ),
                ActorSpec(
                    CONTROL,
                    lambda: ControlActor.start(
                        CONTROL, graph.ctx, store, os.getpid(), started_at, settings.kill_switch_file
                    ),
                ),
                *alerts,
            ),
        )
        started_at = datetime.now(IST)
        graph.start(clock.now())
        # run.py pause|resume|stop and the kill-switch file, taken within a real second
        ticker = Ticker(router, CONTROL, lambda: ControlDue(time=clock.now())).start()
        if on_started is not None:
            on_started(graph)
        progress = SessionProgress(router, clock, out).start() if options.progress else None
        close = at(day, settings.market_close)
        end = close + AFTER_CLOSE
        # a paced simulator's clock stops at its session's end: the session ends there, once the
        # simulator says it is over (then everything it sent has been handled: it had our last answer)
        paced_end = clock_stops is not None and clock_stops <= end
        if paced_end:
            end = clock_stops
        try:
            while not stop.wait(0.2):
                if clock.now() >= end and (not paced_end or _simulator_done(settings)):
                    break
            if stop.is_set() or clock.now() < close:
                why = "stopping" if stop.is_set() else f"the simulator's session ended at {clock.now():%H:%M:%S}"
                logger.warning("{} before the close: working entries are cancelled, stops stay at the broker", why)
                ticker.stop()  # no pause/resume from now on: a resume must not allow entries again
                graph.stop_entries()
            try:
                trades: list | None = router.ask(PORTFOLIO, GetTrades(), timeout=30)
            except Exception as exc:  # noqa: BLE001 - stopping must go on
                logger.error("the trades could not be read from the portfolio: {!r}", exc)
                trades = None
        finally:
            if progress is not None:
                progress.stop()
            # The inputs stop first, while the actors run: the timers (else they fire at actors already
            # gone), and the paced feed, whose thread may be waiting for the actors to go quiet, which they
            # would not while the FeedActor, stopping, waited for that thread (5 s).
            ticker.stop()
            clock.stop()
            for pacer in pacers:
                pacer.stop()
            graph.stop()  # every actor stopped; the journal is closed after it, on leaving this block
            if recorder is not None:
                recorder.close()
        if trades is None:
            print("WARNING: the trades are unknown; see the journal and the positions at the broker.", file=out)
            trades = []
        open_positions = [t for t in trades if t.exit_price is None]
        out.write(render_sessions([(f"{day.isoformat()}  {plan.broker}", trades)]))
        summary = store.summary(day)
        if summary is not None:
            halt = f"halted: {summary['halt_reason']}" if summary["halted"] else "not halted"
            print(f"day summary: {summary['trades']} trades, P&L {summary['pnl']:,.2f} rupees, {halt}", file=out)
        if open_positions:
            print(f"WARNING: {len(open_positions)} position(s) still open, each with its stop at the broker.", file=out)
    return 0


def _feed_recorder(settings: Settings, plan: SessionPlan, day: date, now: datetime, dry_run: bool) -> FeedRecorder | None:
    """The day's feed recording (``RECORD_FEED``), or None; one that cannot be opened is an ERROR, not a refusal."""
    if not settings.record_feed:
        return None
    path = recording_path(settings.log_dir, settings.strategy_name, day, dry_run)
    try:
        return FeedRecorder(path, day, plan.symbols, plan.lot_size, now)
    except OSError as exc:
        logger.error("the feed cannot be recorded to {} ({}); trading goes on without a recording", path, exc)
        return None


def bars_from_candles(symbol: str, candles: list) -> list[Bar]:
    """History candles as bars; a candle with inconsistent OHLC is logged and skipped."""
    bars = []
    for c in candles:
        try:
            bars.append(
                Bar(symbol=symbol, start=c.timestamp, open=c.open, high=c.high, low=c.low, close=c.close, volume=c.volume)
            )
        except ValidationError as exc:
            logger.warning("skipped a bad history bar of {} at {}: {}", symbol, c.timestamp, exc.errors()[0]["msg"])
    return bars


def _dry_run_broker(settings: Settings, plan: SessionPlan, clock: Clock, router: Router):  # noqa: ANN202
    """A local simulated broker fed by the live ticks: nothing is sent to OpenAlgo."""
    sim = SimulatedBroker(clock.now, plan.lot_size, settings.tick_size, set(plan.symbols))
    sim.set_listener(order_update_listener(router, clock.now))
    return sim, lambda tick: sim.on_tick(tick.symbol, tick.ltp, tick.time)
