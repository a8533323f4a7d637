"""An OpenAlgo v2 look-alike server that plays a :class:`~simulator.market.MarketData` session.

It speaks the protocol of ``../shared/docs/openalgo.md`` so the project's own
REST and WebSocket clients (and the official ``openalgo`` SDK) can trade
against it: REST on one port, the WebSocket feed on another, both bound to
``127.0.0.1`` only, served by aiohttp from a background thread with its own
event loop. :class:`SimulatorServer` owns that thread, the playback and the
admission of REST requests; the protocol itself lives in

* :mod:`simulator.rest` — the REST endpoints and their replies
  (:mod:`simulator.validation` checks request bodies,
  :mod:`simulator.data_endpoints` answers the market-data ones);
* :mod:`simulator.websocket` — the WebSocket feed;
* :mod:`simulator.quotes` — the quote state and market-data payloads;
* :mod:`simulator.ledger` — what is recorded about orders beyond the broker.

Market playback
    Simulated time (:class:`~simulator.clock.SimClock`) starts at ``start`` on
    the market's day and runs ``speed`` times faster than the wall clock. Every
    tick whose time is ≤ simulated now is applied in order: the
    :class:`~broker.simulated.SimulatedBroker` matches it, the quote state is
    updated (ltp, day open/high/low, ``prev_close`` = the day's first price,
    cumulative volume, bid/ask = ltp ∓ one tick) and it is sent to the
    WebSocket clients subscribed to it. Ticks before ``start`` update quotes
    and the broker's last prices but are not sent (the session "already
    traded"). ``history`` serves only bars whose minute has fully ended in
    simulated time. When simulated time reaches ``end`` the :attr:`done` event
    is set; the server keeps answering until :meth:`SimulatorServer.stop`.

Paced playback (``paced=True``; the demo)
    A WebSocket client that sends ``{"action": "sim_pace"}`` sets the pace
    (:class:`~simulator.clock.PacedClock`): simulated time starts when the
    first paced client has joined and moves in steps of ``step`` simulated
    seconds, never faster than ``speed``, up to ``end``, where it stops (the
    session is over). A step moves the clock to its end, applies the ticks
    of its interval (matching, quotes, frames), then sends a ``sim_clock``
    frame with its time, which every paced client must acknowledge
    (:meth:`~simulator.websocket.WsHub.sync`) before the next step begins.
    While no paced client is connected (it left, or is reconnecting) the
    clock runs on at ``speed``, as a market does.
    So whatever the machine's speed or load, a paced client sees every tick,
    and everything it does in reaction to the ticks of one step reaches the
    server before the next step is matched: the same client makes the same
    session every time, with a reaction time of at most ``step`` (requests
    made during a step carry the step's end time). Clients that do not pace
    are served as usual (and dropped when they fall too far behind).

REST admission (``POST /api/v1/<endpoint>``)
    Every request is recorded in :attr:`~SimulatorServer.received` and shown to
    the :meth:`~SimulatorServer.on_request` hooks first. An unknown endpoint →
    404; more than ``order_rate_per_s`` place/modify/cancel calls
    (``api_rate_per_s`` for any other endpoint) within one simulated second →
    429 ``{"message": "10 per 1 second"}`` with no ``Retry-After``; then
    :class:`~simulator.rest.RestApi` answers. An endpoint that raises → 500.

    ``GET /sim/clock`` (simulator only, not OpenAlgo) →
    ``{"sim_time", "start", "end"`` (ISO 8601, +05:30)``, "speed", "paced", "done"}``.

Faults (:class:`~simulator.faults.Faults`) apply to both sides.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from datetime import time as dtime
from typing import Any

from aiohttp import web
from loguru import logger

from broker.base import OrderSnapshot
from broker.matching import FillModel
from broker.simulated import SimulatedBroker
from messages.base import IST
from simulator.clock import PacedClock, SimClock
from simulator.faults import Faults
from simulator.ledger import OrderLedger
from simulator.market import MarketData, SimTick
from simulator.quotes import QuoteBoard
from simulator.replies import Reply
from simulator.rest import RestApi
from simulator.websocket import WsClient, WsHub

ORDER_ENDPOINTS = frozenset({"placeorder", "modifyorder", "cancelorder"})
#: Simulated seconds per step of a paced session: the longest a paced client's reaction can take.
PACED_STEP = 0.5

RequestHook = Callable[[float, str, Any], None]


class _RateWindow:
    """Moving window of ``seconds`` (real) allowing ``limit`` hits (rejected hits are not counted)."""

    def __init__(self, limit: int, seconds: float = 1.0) -> None:
        self.limit = limit
        self.seconds = seconds
        self._hits: deque[float] = deque()

    def hit(self, now: float) -> bool:
        while self._hits and self._hits[0] <= now - self.seconds:
            self._hits.popleft()
        if len(self._hits) >= self.limit:
            return False
        self._hits.append(now)
        return True


class SimulatorServer:
    """An OpenAlgo-compatible REST + WebSocket server playing ``market`` (see the module doc).

    ``start``/``end`` are IST times of day on ``market.day`` (default 09:15 and
    15:30); ``speed`` simulated seconds per real second; ``funds`` rupees of
    (virtual) cash; ``rest_port``/``ws_port`` 0 pick free ports, readable
    after :meth:`start` as :attr:`rest_port`/:attr:`ws_port`. ``seed`` seeds
    the default :class:`Faults`. ``ws_heartbeat`` (s) is the protocol-ping
    period and ``auth_timeout`` (s) the WebSocket authentication deadline.
    ``paced`` makes the simulated clock wait for the clients that ask for it,
    in steps of ``step`` simulated seconds (module doc, "Paced playback").
    ``fill_model`` is how orders fill (:mod:`broker.matching`): ``exchange``,
    as replay does, or ``openalgo-sandbox``, as OpenAlgo's analyzer mode does.

    Attributes for tests and benchmarks: :attr:`clock`, :attr:`broker` (the
    :class:`SimulatedBroker` doing the matching), :attr:`faults`,
    :attr:`received` (``(time.monotonic(), endpoint, body)`` per REST call, in
    arrival order), :attr:`notifications` (telegram/notify bodies), :attr:`done`
    (a ``threading.Event`` set when simulated time reaches ``end``).
    """

    def __init__(
        self,
        market: MarketData,
        *,
        api_key: str,
        speed: float = 1.0,
        start: dtime | None = None,
        end: dtime | None = None,
        analyze_mode: bool = True,
        rest_port: int = 0,
        ws_port: int = 0,
        faults: Faults | None = None,
        funds: float = 1e7,
        order_rate_per_s: int = 10,
        api_rate_per_s: int = 50,
        seed: int = 0,
        ws_heartbeat: float = 20.0,
        auth_timeout: float = 15.0,
        paced: bool = False,
        step: float = PACED_STEP,
        fill_model: FillModel = "exchange",
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        self.market = market
        self.speed = float(speed)
        self.start_time = datetime.combine(market.day, start or dtime(9, 15), IST)
        self.end_time = datetime.combine(market.day, end or dtime(15, 30), IST)
        if self.end_time <= self.start_time:
            raise ValueError("end must be after start")
        self.faults = faults if faults is not None else Faults(seed=seed)
        self.order_rate_per_s = order_rate_per_s
        self.api_rate_per_s = api_rate_per_s
        self._want_rest_port = rest_port
        self._want_ws_port = ws_port
        self.rest_port = 0
        self.ws_port = 0

        if not step > 0:
            raise ValueError(f"step must be positive, got {step!r}")
        self.paced = paced
        self.step = timedelta(seconds=step)
        self.clock = PacedClock(self.start_time, speed) if paced else SimClock(self.start_time, speed)
        options = [i for i in market.instruments.values() if i.exchange != "NSE_INDEX"]
        lot = options[0].lot_size if options else 1
        tick = options[0].tick_size if options else 0.05
        if len({i.lot_size for i in options}) > 1:
            logger.warning("simulator: instruments have different lot sizes; the broker validates against {}", lot)
        self.broker = SimulatedBroker(
            self.clock.now, lot_size=lot, tick_size=tick, symbols={i.symbol for i in options}, fill_model=fill_model
        )
        self.broker.set_listener(self._on_order_change)

        self.received: list[tuple[float, str, Any]] = []
        self.done = threading.Event()

        self._hooks_lock = threading.Lock()
        self._hooks: list[RequestHook] = []
        self._tick_hooks: list[Callable[[float, SimTick], None]] = []
        self._quotes = QuoteBoard(market)
        self._ledger = OrderLedger(self.clock.now)
        self._rest = RestApi(
            market=market,
            broker=self.broker,
            clock=self.clock,
            quotes=self._quotes,
            ledger=self._ledger,
            faults=self.faults,
            api_key=api_key,
            analyze_mode=analyze_mode,
            funds=float(funds),
            hold=self._hold,
        )
        self._ws = WsHub(
            market=market,
            ledger=self._ledger,
            faults=self.faults,
            api_key=api_key,
            heartbeat=ws_heartbeat,
            auth_timeout=auth_timeout,
            stamp=self._rest.stamp,
            paced=paced,
            now=self.clock.now,
        )
        self._windows: dict[str, _RateWindow] = {}
        self._tick_index = 0

        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._stopped = False

    # --- public API ------------------------------------------------------------------
    @property
    def rest_url(self) -> str:
        """``http://127.0.0.1:<rest_port>`` (the SDK's ``host``; endpoints under ``/api/v1/``)."""
        return f"http://127.0.0.1:{self.rest_port}"

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:<ws_port>``."""
        return f"ws://127.0.0.1:{self.ws_port}"

    @property
    def api_key(self) -> str:
        return self._rest.api_key

    @property
    def funds(self) -> float:
        """Starting cash (rupees); a test may set it (a low balance)."""
        return self._rest.funds

    @funds.setter
    def funds(self, rupees: float) -> None:
        self._rest.funds = float(rupees)

    @property
    def analyze_mode(self) -> bool:
        """Analyzer (True) or live mode; ``analyzer/toggle`` switches it."""
        return self._rest.analyze_mode

    @analyze_mode.setter
    def analyze_mode(self, value: bool) -> None:
        self._rest.analyze_mode = value

    @property
    def notifications(self) -> list[dict[str, Any]]:
        """Bodies of the ``telegram/notify`` calls, in order."""
        return self._rest.notifications

    @property
    def ws_heartbeat(self) -> float:
        return self._ws.heartbeat

    @property
    def auth_timeout(self) -> float:
        return self._ws.auth_timeout

    @property
    def ws_logins(self) -> int:
        """Successful WebSocket authentications so far (one per connection)."""
        return self._ws.logins

    @property
    def _clients(self) -> set[WsClient]:
        """The connected WebSocket clients (tests wait on it)."""
        return self._ws.clients

    def on_request(self, callback: RequestHook) -> RequestHook:
        """Call ``callback(time.monotonic(), endpoint, body)`` on every REST request as it arrives.

        Runs on the server's thread before the request is handled: keep it
        short and do not block. Returns ``callback`` (for :meth:`remove_request_hook`).
        """
        with self._hooks_lock:
            self._hooks.append(callback)
        return callback

    def remove_request_hook(self, callback: RequestHook) -> None:
        """Stop calling a hook added with :meth:`on_request`."""
        with self._hooks_lock:
            if callback in self._hooks:
                self._hooks.remove(callback)

    def on_tick(self, callback: Callable[[float, SimTick], None]) -> None:
        """Call ``callback(time.monotonic(), tick)`` for every tick as it is matched and sent.

        Runs on the server's thread; keep it short (benchmarks timestamp ticks with it).
        """
        self._tick_hooks.append(callback)

    def wait_until_done(self, timeout: float | None = None) -> bool:
        """Block until simulated time reaches ``end``; False if ``timeout`` seconds pass first."""
        return self.done.wait(timeout)

    def start(self) -> SimulatorServer:
        """Bind the ports, start playback and return once both ports accept connections."""
        if self._thread is not None:
            raise RuntimeError("SimulatorServer already started")
        self._thread = threading.Thread(target=self._run, name="openalgo-simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=60):
            raise RuntimeError("simulator did not start within 60 s")
        if self._startup_error is not None:
            self._thread.join(timeout=10)
            raise RuntimeError(f"simulator failed to start: {self._startup_error}") from self._startup_error
        logger.info("simulator: REST {} WS {} speed {}x from {}", self.rest_url, self.ws_url, self.speed, self.start_time)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Close every connection and both ports and join the server thread. Idempotent."""
        if self._thread is None or self._stopped:
            return
        self._stopped = True
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stopping.set)
            except RuntimeError:  # loop already closed
                pass
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.error("simulator thread did not stop within {} s", timeout)

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- thread and lifecycle ---------------------------------------------------------------
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to start() or logged
            if not self._ready.is_set():
                self._startup_error = exc
            else:
                logger.exception("simulator server loop failed")
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                loop.close()
                self._ready.set()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        self._apply_before_start()

        rest_app = web.Application(client_max_size=1 << 20)
        rest_app.router.add_post("/api/v1/{endpoint:.+}", self._rest_handler)
        rest_app.router.add_get("/sim/clock", self._clock_handler)
        ws_app = web.Application()
        ws_app.router.add_get("/{tail:.*}", self._ws.handle)

        rest_runner = web.AppRunner(rest_app, access_log=None, shutdown_timeout=2.0)
        ws_runner = web.AppRunner(ws_app, access_log=None, shutdown_timeout=2.0)
        await rest_runner.setup()
        await ws_runner.setup()
        playback: asyncio.Task | None = None
        try:
            await web.TCPSite(rest_runner, "127.0.0.1", self._want_rest_port).start()
            await web.TCPSite(ws_runner, "127.0.0.1", self._want_ws_port).start()
            self.rest_port = rest_runner.addresses[0][1]
            self.ws_port = ws_runner.addresses[0][1]
            self.faults.add_drop_listener(self._drop_listener)
            self.clock.restart()
            run = self._paced_playback if self.paced else self._playback
            playback = asyncio.create_task(run(), name="simulator-playback")
            self._ready.set()
            await self._stopping.wait()
        finally:
            self.faults.remove_drop_listener(self._drop_listener)
            if playback is not None:
                playback.cancel()
                await asyncio.gather(playback, return_exceptions=True)
            await self._ws.close_all()
            await ws_runner.cleanup()
            await rest_runner.cleanup()

    # --- playback ------------------------------------------------------------------------------
    def _apply_before_start(self) -> None:
        ticks = self.market.ticks
        i = 0
        while i < len(ticks) and ticks[i].time < self.start_time:
            self._apply_tick(ticks[i], broadcast=False)
            i += 1
        self._tick_index = i

    async def _playback(self) -> None:
        ticks = self.market.ticks
        n = len(ticks)
        exhausted = False
        while True:
            limit = min(self.clock.now(), self.end_time)
            applied = 0
            while self._tick_index < n and ticks[self._tick_index].time <= limit:
                self._apply_tick(ticks[self._tick_index], broadcast=True)
                self._tick_index += 1
                applied += 1
                if applied % 500 == 0:
                    await asyncio.sleep(0)
                    limit = min(self.clock.now(), self.end_time)
            if self._tick_index >= n and not exhausted:
                exhausted = True
                self.broker.fill_market_orders()
            if self.clock.now() >= self.end_time:
                self.broker.fill_market_orders()
                self.done.set()
                logger.info("simulator: session end {} reached", self.end_time.time())
                return
            target = self.end_time if self._tick_index >= n else min(ticks[self._tick_index].time, self.end_time)
            await self.clock.sleep_until(target)

    async def _paced_playback(self) -> None:
        """Step the :class:`PacedClock` by :attr:`step` to ``end``, each step acknowledged by every paced client.

        The ticks of a step are those after the previous step up to its end;
        the session's window is ``[start, end)``, so the last step plays the
        ticks before ``end`` and fills the MARKET orders left (no trade is
        left to fill them) before its acknowledgement.
        """
        await self._ws.wait_for_paced()
        self.clock.restart()
        await self._ws.sync(self.clock.now())  # the first client has settled in (its warm-up) before step one
        ticks = self.market.ticks
        n = len(ticks)
        while self.clock.now() < self.end_time:
            step = min(self.clock.now() + self.step, self.end_time)
            await self.clock.step_to(step)
            last = step >= self.end_time

            def in_step(tick: SimTick) -> bool:
                return tick.time < step if last else tick.time <= step

            while self._tick_index < n and in_step(ticks[self._tick_index]):
                self._apply_tick(ticks[self._tick_index], broadcast=True)
                self._tick_index += 1
            if last or self._tick_index >= n:
                self.broker.fill_market_orders()
            await self._ws.sync(step)  # with no paced client connected (it left) this returns at once
        self.done.set()
        logger.info("simulator: paced session end {} reached; the clock stops there", self.end_time.time())

    def _apply_tick(self, tick: SimTick, broadcast: bool) -> None:
        quote = self._quotes.apply(tick)
        self.broker.on_tick(tick.symbol, tick.ltp, tick.time)
        if broadcast and self._ws.clients:
            self._ws.broadcast(tick, quote)
        if broadcast:
            for hook in self._tick_hooks:
                hook(time.monotonic(), tick)


    # --- order events --------------------------------------------------------------------------
    def _on_order_change(self, snapshot: OrderSnapshot) -> None:
        """SimulatedBroker listener: books fills now, pushes the order_update on the loop."""
        if snapshot.status == "complete" and snapshot.filled_quantity > 0:
            self._ledger.book_fill(snapshot)
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if self._thread is threading.current_thread():
            # on the loop (playback or a request): queue it now, in order with the frames around it
            self._ws.push_order_update(snapshot)
            return
        try:
            loop.call_soon_threadsafe(self._ws.push_order_update, snapshot)
        except RuntimeError:  # loop closing
            pass

    def _drop_listener(self) -> None:
        """Faults listener (any thread): drop every WebSocket connection, on the loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._ws.drop_all)
            except RuntimeError:
                pass

    async def _hold(self, seconds: float) -> None:
        """Wait ``seconds`` (wall clock), or until the server stops."""
        assert self._stopping is not None
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass

    # --- REST plumbing ---------------------------------------------------------------------------
    async def _clock_handler(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "sim_time": self.clock.now().isoformat(),
                "speed": self.speed,
                "paced": self.paced,
                "start": self.start_time.isoformat(),
                "end": self.end_time.isoformat(),
                "done": self.done.is_set(),
            }
        )

    async def _rest_handler(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        endpoint = request.match_info["endpoint"].strip("/")
        raw = await request.text()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        self.received.append((arrived, endpoint, body))
        with self._hooks_lock:
            hooks = list(self._hooks)
        for hook in hooks:
            try:
                hook(arrived, endpoint, body)
            except Exception:  # noqa: BLE001 - a test hook must not break the server
                logger.exception("simulator request hook failed")
        try:
            status, payload = await self._dispatch(endpoint, body, arrived)
        except Exception:  # noqa: BLE001 - like the real server's catch-all
            logger.exception("simulator: {} failed", endpoint)
            status, payload = 500, {"status": "error", "message": "An unexpected error occurred in the API endpoint"}
        latency = self.faults.latency_ms
        if latency > 0:
            await asyncio.sleep(latency / 1000.0)
        return web.json_response(payload, status=status)

    def _limit(self, endpoint: str) -> int:
        return self.order_rate_per_s if endpoint in ORDER_ENDPOINTS else self.api_rate_per_s

    async def _dispatch(self, endpoint: str, body: Any, arrived: float) -> Reply:
        """404 for an unknown endpoint, 429 over its rate limit, else the REST API's answer."""
        if not self._rest.knows(endpoint):
            return 404, {"status": "error", "message": f"The requested URL /api/v1/{endpoint} was not found on the server."}
        if self.faults.take_rate_limited():
            return 429, {"status": "error", "message": f"{self._limit(endpoint)} per 1 second"}
        window = self._windows.get(endpoint)
        if window is None:
            # limits are per simulated second, so a fast session behaves like a real-time one
            window = self._windows[endpoint] = _RateWindow(self._limit(endpoint), 1.0 / self.speed)
        if not window.hit(arrived):
            return 429, {"message": f"{self._limit(endpoint)} per 1 second"}
        return await self._rest.answer(endpoint, body)
