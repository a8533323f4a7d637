"""An OpenAlgo v2 look-alike server that plays a :class:`~simulator.market.MarketData` session.

It speaks the protocol of ``../shared/docs/openalgo.md`` so the project's own
REST and WebSocket clients (and the official ``openalgo`` SDK) can trade
against it: REST on one port, the WebSocket feed on another, both bound to
``127.0.0.1`` only, served by aiohttp from a background thread with its own
event loop.

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

REST (``POST /api/v1/<endpoint>``, JSON body with the key inside as ``apikey``)
    ping, analyzer, analyzer/toggle, funds, placeorder, modifyorder,
    cancelorder, cancelallorder, orderstatus, orderbook, tradebook,
    positionbook, closeposition, openposition, quotes, multiquotes, search,
    history (``1m`` and ``D``), intervals, expiry, symbol, telegram/notify.
    Validation follows the real server: unknown or malformed fields → 400 whose
    ``message`` is the marshmallow error dict as a string (e.g.
    ``"{'foo': ['Unknown field.']}"``); bad or missing ``apikey`` → 403
    ``Invalid openalgo apikey``; unknown order → 404; cancel/modify of a final
    order → 400 ``Cannot cancel order in complete status``; a broker reject
    (:class:`~broker.base.OrderRejected`) → 400 with its message; more than
    ``order_rate_per_s`` place/modify/cancel calls (``api_rate_per_s`` for any
    other endpoint) within one simulated second → 429 ``{"message": "10 per 1 second"}``
    with no ``Retry-After``. In analyzer mode every reply carries
    ``"mode": "analyze"``, order-status rows say ``price_type`` and timestamps
    are ``YYYY-MM-DD HH:MM:SS``; in live mode rows say ``pricetype``,
    timestamps are ``DD-Mon-YYYY HH:MM:SS`` and some numbers are strings (as
    real brokers send them). Prices are rupees, quantities contracts.

    ``GET /sim/clock`` (simulator only, not OpenAlgo) →
    ``{"sim_time", "start", "end"`` (ISO 8601, +05:30)``, "speed", "done"}``.

WebSocket (``ws://127.0.0.1:<ws_port>``, any path)
    ``{"action": "authenticate", "api_key": K}`` within ``auth_timeout`` s
    (else close code 4401) → ``{"type": "auth", "status": "success", ...}`` or
    ``{"status": "error", "code": "AUTHENTICATION_ERROR", "message": ...}``.
    ``subscribe`` (``symbols`` list or single ``symbol``/``exchange``, mode
    1/2/3 or LTP/Quote/Depth) → ``{"type": "subscribe", "status": "success" |
    "partial", "subscriptions": [...]}``; ``unsubscribe``; ticks as
    ``{"type": "market_data", "symbol", "exchange", "mode", "broker", "data":
    {"ltp", "timestamp" (epoch ms), "open", "high", "low", "close"
    (prev close), "volume" (cumulative), "average_price"/"avg_trade_price"
    (day VWAP), "last_trade_quantity", "oi", "change", "change_percent",
    "symbol", "exchange"}}``; ``{"action": "subscribe_orders"}`` → later
    ``{"type": "order_update", "orderid", "order_status", "filled_quantity",
    "average_price", ...}`` on every order state change. Protocol pings every
    ``ws_heartbeat`` s; a client that has not answered the previous ping when
    the next one is due is dropped.

Faults (:class:`~simulator.faults.Faults`) apply to both sides.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Any

from aiohttp import WSMsgType, web
from loguru import logger

from broker.base import NotFound, OrderNotCancellable, OrderRejected, OrderRequest, OrderSnapshot
from broker.simulated import SimulatedBroker
from messages.base import IST
from simulator.clock import SimClock
from simulator.faults import Faults
from simulator.market import Instrument, MarketData, SimTick

#: Name reported as ``broker`` by ping and the WebSocket.
BROKER_NAME = "simulator"

VALID_EXCHANGES = ("NSE", "BSE", "NFO", "BFO", "CDS", "BCD", "MCX", "NCDEX", "NSE_INDEX", "BSE_INDEX")
F_AND_O_EXCHANGES = ("NFO", "BFO", "MCX", "CDS", "BCD", "NCDEX")
ORDER_ENDPOINTS = frozenset({"placeorder", "modifyorder", "cancelorder"})
MODE_LABELS = {1: "LTP", 2: "Quote", 3: "Depth"}

#: MIS orders that open or add to a position are refused outside this window in analyzer mode.
MIS_OPEN = dtime(9, 0)
MIS_SQUARE_OFF = dtime(15, 15)

#: A WebSocket client whose send queue grows past this is dropped (slow consumer).
MAX_CLIENT_QUEUE = 20_000

RequestHook = Callable[[float, str, Any], None]


# =====================================================================================
# request validation (a small marshmallow look-alike: same messages as the real server)
# =====================================================================================
@dataclass(frozen=True)
class _Field:
    kind: str  # str | float | int | bool | date | symbols
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    exclusive_min: bool = False
    range_error: str = ""


def _s(required: bool = True, choices: tuple[str, ...] | None = None, default: Any = None) -> _Field:
    return _Field("str", required=required, choices=choices, default=default)


def _num(kind: str, required: bool, default: Any = None, positive: bool = False, what: str = "") -> _Field:
    if positive:
        return _Field(kind, required, default, minimum=0, exclusive_min=True, range_error=f"{what} must be a positive number.")
    return _Field(kind, required, default, minimum=0, range_error=f"{what} must be a non-negative {'integer' if kind == 'int' else 'number'}.")


_ACTIONS = ("BUY", "SELL", "buy", "sell")
_PRICETYPES = ("MARKET", "LIMIT", "SL", "SL-M")
_PRODUCTS = ("MIS", "NRML", "CNC")
_APIKEY = {"apikey": _s()}

SCHEMAS: dict[str, dict[str, _Field]] = {
    "ping": dict(_APIKEY),
    "analyzer": dict(_APIKEY),
    "analyzer/toggle": {**_APIKEY, "mode": _Field("bool", required=True)},
    "funds": dict(_APIKEY),
    "orderbook": dict(_APIKEY),
    "tradebook": dict(_APIKEY),
    "positionbook": dict(_APIKEY),
    "intervals": dict(_APIKEY),
    "placeorder": {
        **_APIKEY,
        "strategy": _s(),
        "exchange": _s(choices=VALID_EXCHANGES),
        "symbol": _s(),
        "action": _s(choices=_ACTIONS),
        "quantity": _num("float", True, positive=True, what="Quantity"),
        "pricetype": _s(False, _PRICETYPES, "MARKET"),
        "product": _s(False, _PRODUCTS, "MIS"),
        "price": _num("float", False, 0.0, what="Price"),
        "trigger_price": _num("float", False, 0.0, what="Trigger price"),
        "disclosed_quantity": _num("int", False, 0, what="Disclosed quantity"),
        "underlying_ltp": _Field("float", required=False),
    },
    "modifyorder": {
        **_APIKEY,
        "strategy": _s(),
        "exchange": _s(choices=VALID_EXCHANGES),
        "symbol": _s(),
        "orderid": _s(),
        "action": _s(choices=_ACTIONS),
        "product": _s(choices=_PRODUCTS),
        "pricetype": _s(choices=_PRICETYPES),
        "price": _num("float", True, what="Price"),
        "quantity": _num("float", True, positive=True, what="Quantity"),
        "disclosed_quantity": _num("int", True, what="Disclosed quantity"),
        "trigger_price": _num("float", True, what="Trigger price"),
    },
    "cancelorder": {**_APIKEY, "strategy": _s(), "orderid": _s()},
    "orderstatus": {**_APIKEY, "strategy": _s(), "orderid": _s()},
    "cancelallorder": {**_APIKEY, "strategy": _s()},
    "closeposition": {**_APIKEY, "strategy": _s()},
    "openposition": {
        **_APIKEY,
        "strategy": _s(),
        "symbol": _s(),
        "exchange": _s(choices=VALID_EXCHANGES),
        "product": _s(choices=_PRODUCTS),
    },
    "quotes": {**_APIKEY, "symbol": _s(), "exchange": _s(choices=VALID_EXCHANGES)},
    "multiquotes": {**_APIKEY, "symbols": _Field("symbols", required=True)},
    "search": {**_APIKEY, "query": _s(), "exchange": _s(False, VALID_EXCHANGES)},
    "history": {
        **_APIKEY,
        "symbol": _s(),
        "exchange": _s(choices=VALID_EXCHANGES),
        "interval": _s(),
        "start_date": _Field("date", required=True),
        "end_date": _Field("date", required=True),
        "source": _s(False, ("api", "db"), "api"),
    },
    "expiry": {
        **_APIKEY,
        "symbol": _s(),
        "exchange": _s(choices=F_AND_O_EXCHANGES),
        "instrumenttype": _s(choices=("futures", "options")),
    },
    "symbol": {**_APIKEY, "symbol": _s(), "exchange": _s(choices=VALID_EXCHANGES)},
    "telegram/notify": {
        **_APIKEY,
        "username": _s(),
        "message": _s(),
        "priority": _Field("int", required=False, default=5),
    },
}


def _convert(spec: _Field, value: Any) -> tuple[Any, str | None]:
    """Value converted like marshmallow would, or an error message."""
    kind = spec.kind
    if kind == "str":
        if not isinstance(value, str):
            return None, "Not a valid string."
        if spec.choices is not None and value not in spec.choices:
            return None, f"Must be one of: {', '.join(spec.choices)}."
        return value, None
    if kind in ("float", "int"):
        if isinstance(value, bool):
            return None, "Not a valid number." if kind == "float" else "Not a valid integer."
        try:
            number = float(value) if isinstance(value, (int, float, str)) else None
        except ValueError:
            number = None
        if number is None or not math.isfinite(number):
            return None, "Not a valid number." if kind == "float" else "Not a valid integer."
        if kind == "int":
            if number != int(number):
                return None, "Not a valid integer."
            number = int(number)
        if spec.minimum is not None:
            bad = number <= spec.minimum if spec.exclusive_min else number < spec.minimum
            if bad:
                return None, spec.range_error
        return number, None
    if kind == "bool":
        truthy = {True, 1, "true", "True", "TRUE", "1", "yes", "on", "t", "y"}
        falsy = {False, 0, "false", "False", "FALSE", "0", "no", "off", "f", "n"}
        try:
            if value in truthy:
                return True, None
            if value in falsy:
                return False, None
        except TypeError:
            pass
        return None, "Not a valid boolean."
    if kind == "date":
        if not isinstance(value, str):
            return None, "Not a valid date."
        try:
            return datetime.strptime(value, "%Y-%m-%d").date(), None
        except ValueError:
            return None, "Not a valid date."
    if kind == "symbols":
        if not isinstance(value, list):
            return None, "Not a valid list."
        if not value:
            return None, "Shorter than minimum length 1."
        out = []
        for item in value:
            if not isinstance(item, dict) or not isinstance(item.get("symbol"), str) or not isinstance(item.get("exchange"), str):
                return None, "Each entry needs string symbol and exchange."
            if set(item) - {"symbol", "exchange"}:
                return None, "Unknown field."
            out.append({"symbol": item["symbol"], "exchange": item["exchange"]})
        return out, None
    raise AssertionError(kind)


def validate_body(endpoint: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Validate ``body`` against the endpoint's schema: (loaded data with defaults, errors by field)."""
    schema = SCHEMAS[endpoint]
    data: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name in body:
        if name not in schema:
            errors[name] = ["Unknown field."]
    for name, spec in schema.items():
        if name not in body or body[name] is None:
            if spec.required:
                errors[name] = ["Missing data for required field."]
            elif spec.default is not None:
                data[name] = spec.default
            continue
        value, error = _convert(spec, body[name])
        if error:
            errors[name] = [error]
        else:
            data[name] = value
    if not errors and "quantity" in data and isinstance(data["quantity"], float):
        if data["quantity"] != int(data["quantity"]):
            errors["quantity"] = [f"Fractional quantity ({data['quantity']}) is not allowed for non-crypto exchanges."]
        else:
            data["quantity"] = int(data["quantity"])
    if "action" in data:
        data["action"] = data["action"].upper()
    return data, errors


# =====================================================================================
# market state
# =====================================================================================
@dataclass
class _Quote:
    """The day's quote of one symbol (rupees; ``volume`` cumulative contracts)."""

    symbol: str
    exchange: str
    tick_size: float
    ltp: float = 0.0
    open: float = 0.0
    high: float = 0.0
    low: float = 0.0
    prev_close: float = 0.0
    volume: int = 0
    last_quantity: int = 0
    turnover: float = 0.0
    time: datetime | None = None

    def update(self, tick: SimTick) -> None:
        price = tick.ltp
        if self.time is None:
            self.open = self.high = self.low = price
            self.prev_close = self.prev_close or price
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        traded = max(0, tick.volume - self.volume)
        self.last_quantity = traded
        self.turnover += traded * price
        self.volume = max(self.volume, tick.volume)
        self.ltp = price
        self.time = tick.time

    @property
    def average_price(self) -> float:
        return round(self.turnover / self.volume, 2) if self.volume else self.ltp

    @property
    def bid(self) -> float:
        return round(max(0.0, self.ltp - self.tick_size), 2) if self.ltp else 0.0

    @property
    def ask(self) -> float:
        return round(self.ltp + self.tick_size, 2) if self.ltp else 0.0

    def rest(self) -> dict[str, Any]:
        """The ``quotes`` endpoint's ``data``."""
        return {
            "ask": self.ask,
            "bid": self.bid,
            "high": self.high,
            "low": self.low,
            "ltp": self.ltp,
            "oi": 0,
            "open": self.open,
            "prev_close": self.prev_close,
            "volume": self.volume,
        }


@dataclass
class _Meta:
    """What the simulator keeps about an order beyond the broker's snapshot."""

    exchange: str = "NFO"
    product: str = "MIS"
    strategy: str = ""
    placed_at: datetime | None = None


@dataclass
class _Book:
    """Per-symbol trade aggregates (contracts, rupees) for P&L."""

    buy_qty: int = 0
    buy_value: float = 0.0
    sell_qty: int = 0
    sell_value: float = 0.0


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


@dataclass(eq=False)
class _WsClient:
    ws: web.WebSocketResponse
    transport: Any
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    authenticated: bool = False
    orders: bool = False
    subs: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    ping_outstanding: bool = False
    tasks: list[asyncio.Task] = field(default_factory=list)
    closed: bool = False

    def send(self, frame: str, market: bool = False) -> None:
        if self.closed:
            return
        if self.queue.qsize() >= MAX_CLIENT_QUEUE:
            logger.warning("simulator: dropping slow WebSocket client ({} frames queued)", self.queue.qsize())
            self.abort()
            return
        self.queue.put_nowait((market, frame))

    def abort(self) -> None:
        """Drop the connection without a close frame (like a network failure)."""
        self.closed = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


def _ms(moment: datetime) -> int:
    return int(round(moment.timestamp() * 1000))


def _expiry_text(day: date | None) -> str:
    return day.strftime("%d-%b-%y").upper() if day else ""


# =====================================================================================
# the server
# =====================================================================================
class SimulatorServer:
    """An OpenAlgo-compatible REST + WebSocket server playing ``market`` (see the module doc).

    ``start``/``end`` are IST times of day on ``market.day`` (default 09:15 and
    15:30); ``speed`` simulated seconds per real second; ``funds`` rupees of
    (virtual) cash; ``rest_port``/``ws_port`` 0 pick free ports, readable
    after :meth:`start` as :attr:`rest_port`/:attr:`ws_port`. ``seed`` seeds
    the default :class:`Faults`. ``ws_heartbeat`` (s) is the protocol-ping
    period and ``auth_timeout`` (s) the WebSocket authentication deadline.

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
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        self.market = market
        self.api_key = api_key
        self.speed = float(speed)
        self.start_time = datetime.combine(market.day, start or dtime(9, 15), IST)
        self.end_time = datetime.combine(market.day, end or dtime(15, 30), IST)
        if self.end_time <= self.start_time:
            raise ValueError("end must be after start")
        self.analyze_mode = analyze_mode
        self.faults = faults if faults is not None else Faults(seed=seed)
        self.funds = float(funds)
        self.order_rate_per_s = order_rate_per_s
        self.api_rate_per_s = api_rate_per_s
        self.ws_heartbeat = ws_heartbeat
        self.auth_timeout = auth_timeout
        self._want_rest_port = rest_port
        self._want_ws_port = ws_port
        self.rest_port = 0
        self.ws_port = 0

        self.clock = SimClock(self.start_time, speed)
        options = [i for i in market.instruments.values() if i.exchange != "NSE_INDEX"]
        lot = options[0].lot_size if options else 1
        tick = options[0].tick_size if options else 0.05
        if len({i.lot_size for i in options}) > 1:
            logger.warning("simulator: instruments have different lot sizes; the broker validates against {}", lot)
        self.broker = SimulatedBroker(self.clock.now, lot_size=lot, tick_size=tick, symbols={i.symbol for i in options})
        self.broker.set_listener(self._on_order_change)

        self.received: list[tuple[float, str, Any]] = []
        self.notifications: list[dict[str, Any]] = []
        self.done = threading.Event()
        #: successful WebSocket authentications so far (one per connection)
        self.ws_logins = 0

        self._lock = threading.RLock()
        self._hooks: list[RequestHook] = []
        self._tick_hooks: list[Callable[[float, SimTick], None]] = []
        self._meta: dict[str, _Meta] = {}
        self._trades: list[dict[str, Any]] = []
        self._books: dict[str, _Book] = {}
        self._quotes: dict[str, _Quote] = {
            s: _Quote(s, i.exchange, i.tick_size) for s, i in market.instruments.items()
        }
        # Before its first trade a symbol quotes its previous close, as a real
        # server does before the open; the session's first price stands in for it.
        for tick in market.ticks:
            quote = self._quotes.get(tick.symbol)
            if quote is not None and not quote.prev_close:
                quote.prev_close = quote.ltp = tick.ltp
        self._windows: dict[str, _RateWindow] = {}
        self._total_logs = 0
        self._tick_index = 0
        self._clients: set[_WsClient] = set()

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

    def on_request(self, callback: RequestHook) -> RequestHook:
        """Call ``callback(time.monotonic(), endpoint, body)`` on every REST request as it arrives.

        Runs on the server's thread before the request is handled: keep it
        short and do not block. Returns ``callback`` (for :meth:`remove_request_hook`).
        """
        with self._lock:
            self._hooks.append(callback)
        return callback

    def remove_request_hook(self, callback: RequestHook) -> None:
        """Stop calling a hook added with :meth:`on_request`."""
        with self._lock:
            if callback in self._hooks:
                self._hooks.remove(callback)

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
        ws_app.router.add_get("/{tail:.*}", self._ws_handler)

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
            playback = asyncio.create_task(self._playback(), name="simulator-playback")
            self._ready.set()
            await self._stopping.wait()
        finally:
            self.faults.remove_drop_listener(self._drop_listener)
            if playback is not None:
                playback.cancel()
                await asyncio.gather(playback, return_exceptions=True)
            await self._close_clients()
            await ws_runner.cleanup()
            await rest_runner.cleanup()

    async def _close_clients(self) -> None:
        clients = list(self._clients)
        for client in clients:
            for task in client.tasks:
                task.cancel()
        closes = [
            asyncio.wait_for(c.ws.close(code=1001, message=b"server shutdown"), timeout=2.0)
            for c in clients
            if not c.ws.closed
        ]
        await asyncio.gather(*closes, return_exceptions=True)
        for client in clients:
            client.abort()
            await asyncio.gather(*client.tasks, return_exceptions=True)

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

    def _apply_tick(self, tick: SimTick, broadcast: bool) -> None:
        quote = self._quotes.get(tick.symbol)
        if quote is None:
            quote = self._quotes[tick.symbol] = _Quote(tick.symbol, tick.exchange, 0.05)
        quote.update(tick)
        self.broker.on_tick(tick.symbol, tick.ltp, tick.time)
        if broadcast and self._clients:
            self._broadcast(tick, quote)
        if broadcast:
            for hook in self._tick_hooks:
                hook(time.monotonic(), tick)

    def on_tick(self, callback: Callable[[float, SimTick], None]) -> None:
        """Call ``callback(time.monotonic(), tick)`` for every tick as it is matched and sent.

        Runs on the server's thread; keep it short (benchmarks timestamp ticks with it).
        """
        self._tick_hooks.append(callback)

    def _broadcast(self, tick: SimTick, quote: _Quote) -> None:
        key = (tick.symbol, tick.exchange)
        frames: dict[int, str] = {}
        for client in list(self._clients):
            if not client.authenticated:
                continue
            modes = client.subs.get(key)
            if not modes:
                continue
            mode = max(modes)
            frame = frames.get(mode)
            if frame is None:
                frame = frames[mode] = json.dumps(self._market_frame(tick, quote, mode))
            client.send(frame, market=True)

    def _market_frame(self, tick: SimTick, q: _Quote, mode: int) -> dict[str, Any]:
        data: dict[str, Any] = {
            "symbol": tick.symbol,
            "exchange": tick.exchange,
            "ltp": tick.ltp,
            "timestamp": _ms(tick.time),
            "ltt": _ms(tick.time),
        }
        if mode >= 2:
            change = round(q.ltp - q.prev_close, 2)
            data.update(
                open=q.open,
                high=q.high,
                low=q.low,
                close=q.prev_close,
                volume=q.volume,
                average_price=q.average_price,
                avg_trade_price=q.average_price,
                last_trade_quantity=q.last_quantity,
                oi=0,
                change=change,
                change_percent=round(100 * change / q.prev_close, 2) if q.prev_close else 0.0,
            )
        if mode >= 3:
            inst = self.market.instruments.get(tick.symbol)
            lot = inst.lot_size if inst else 1
            step = q.tick_size or 0.05
            data["depth"] = {
                "buy": [
                    {"price": round(max(0.0, q.ltp - k * step), 2), "quantity": lot * k, "orders": k}
                    for k in range(1, 6)
                ],
                "sell": [{"price": round(q.ltp + k * step, 2), "quantity": lot * k, "orders": k} for k in range(1, 6)],
            }
        return {
            "type": "market_data",
            "symbol": tick.symbol,
            "exchange": tick.exchange,
            "mode": mode,
            "broker": BROKER_NAME,
            "data": data,
        }

    # --- order events --------------------------------------------------------------------------
    def _on_order_change(self, snapshot: OrderSnapshot) -> None:
        """SimulatedBroker listener: books fills now, pushes the order_update on the loop."""
        if snapshot.status == "complete" and snapshot.filled_quantity > 0:
            self._book_fill(snapshot)
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._push_order_update, snapshot)
        except RuntimeError:  # loop closing
            pass

    def _book_fill(self, s: OrderSnapshot) -> None:
        with self._lock:
            meta = self._meta.get(s.orderid) or _Meta()
            book = self._books.setdefault(s.symbol, _Book())
            value = s.filled_quantity * s.average_price
            if s.action == "BUY":
                book.buy_qty += s.filled_quantity
                book.buy_value += value
            else:
                book.sell_qty += s.filled_quantity
                book.sell_value += value
            self._trades.append(
                {
                    "action": s.action,
                    "average_price": s.average_price,
                    "exchange": meta.exchange,
                    "orderid": s.orderid,
                    "product": meta.product,
                    "quantity": s.filled_quantity,
                    "symbol": s.symbol,
                    "time": s.timestamp or self.clock.now(),
                    "trade_value": round(value, 2),
                }
            )

    def _push_order_update(self, s: OrderSnapshot) -> None:
        targets = [c for c in self._clients if c.authenticated and c.orders]
        if not targets:
            return
        meta = self._meta.get(s.orderid) or _Meta()
        frame = json.dumps(
            {
                "type": "order_update",
                "orderid": s.orderid,
                "symbol": s.symbol,
                "exchange": meta.exchange,
                "action": s.action,
                "quantity": s.quantity,
                "pricetype": s.pricetype,
                "price": s.price,
                "trigger_price": s.trigger_price,
                "product": meta.product,
                "order_status": s.status,
                "filled_quantity": s.filled_quantity,
                "pending_quantity": s.quantity - s.filled_quantity if s.status in ("open", "trigger pending") else 0,
                "average_price": s.average_price,
                "timestamp": self._stamp(s.timestamp),
                "strategy": meta.strategy,
                "broker": BROKER_NAME,
            }
        )
        for client in targets:
            client.send(frame)

    # --- REST plumbing ---------------------------------------------------------------------------
    async def _clock_handler(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "sim_time": self.clock.now().isoformat(),
                "speed": self.speed,
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
        with self._lock:
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

    def _limit_text(self, endpoint: str) -> str:
        limit = self.order_rate_per_s if endpoint in ORDER_ENDPOINTS else self.api_rate_per_s
        return f"{limit} per 1 second"

    async def _dispatch(self, endpoint: str, body: Any, arrived: float) -> tuple[int, dict[str, Any]]:
        handler = self._handlers().get(endpoint)
        if handler is None:
            return 404, {"status": "error", "message": f"The requested URL /api/v1/{endpoint} was not found on the server."}
        if self.faults.take_rate_limited():
            return 429, {"status": "error", "message": self._limit_text(endpoint)}
        window = self._windows.get(endpoint)
        if window is None:
            limit = self.order_rate_per_s if endpoint in ORDER_ENDPOINTS else self.api_rate_per_s
            # limits are per simulated second, so a fast session behaves like a real-time one
            window = self._windows[endpoint] = _RateWindow(limit, 1.0 / self.speed)
        if not window.hit(arrived):
            return 429, {"message": self._limit_text(endpoint)}
        if self.faults.take_server_error():
            return 500, {"status": "error", "message": "An unexpected error occurred in the API endpoint"}
        if not isinstance(body, dict):
            return self._tag(endpoint, 400, {"status": "error", "message": "Invalid JSON body: expected an object"})
        data, errors = validate_body(endpoint, body)
        if "apikey" in errors and errors["apikey"] == ["Missing data for required field."]:
            return self._tag(endpoint, 403, {"status": "error", "message": "Invalid openalgo apikey"})
        if errors:
            return self._tag(endpoint, 400, {"status": "error", "message": str(errors)})
        if data["apikey"] != self.api_key:
            return self._tag(endpoint, 403, {"status": "error", "message": "Invalid openalgo apikey"})
        if self.analyze_mode:
            self._total_logs += 1
        status, payload = await handler(data)
        return self._tag(endpoint, status, payload)

    def _tag(self, endpoint: str, status: int, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.analyze_mode and not endpoint.startswith("analyzer"):
            payload["mode"] = "analyze"
        return status, payload

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {
            "ping": self._ping,
            "analyzer": self._analyzer,
            "analyzer/toggle": self._analyzer_toggle,
            "funds": self._funds,
            "placeorder": self._placeorder,
            "modifyorder": self._modifyorder,
            "cancelorder": self._cancelorder,
            "cancelallorder": self._cancelallorder,
            "orderstatus": self._orderstatus,
            "orderbook": self._orderbook,
            "tradebook": self._tradebook,
            "positionbook": self._positionbook,
            "closeposition": self._closeposition,
            "openposition": self._openposition,
            "quotes": self._quotes_ep,
            "multiquotes": self._multiquotes,
            "search": self._search,
            "history": self._history,
            "intervals": self._intervals,
            "expiry": self._expiry,
            "symbol": self._symbol,
            "telegram/notify": self._telegram,
        }

    def _stamp(self, moment: datetime | None) -> str:
        moment = (moment or self.clock.now()).astimezone(IST)
        return moment.strftime("%Y-%m-%d %H:%M:%S" if self.analyze_mode else "%d-%b-%Y %H:%M:%S")

    @staticmethod
    def _error(status: int, message: str) -> tuple[int, dict[str, Any]]:
        return status, {"status": "error", "message": message}

    # --- account endpoints -------------------------------------------------------------------------
    async def _ping(self, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"status": "success", "data": {"broker": BROKER_NAME, "message": "pong"}}

    def _analyzer_data(self) -> dict[str, Any]:
        return {
            "analyze_mode": self.analyze_mode,
            "mode": "analyze" if self.analyze_mode else "live",
            "total_logs": self._total_logs,
        }

    async def _analyzer(self, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"status": "success", "data": self._analyzer_data()}

    async def _analyzer_toggle(self, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.analyze_mode = bool(data["mode"])
        body = self._analyzer_data()
        body["message"] = f"Analyzer mode switched to {body['mode']}"
        return 200, {"status": "success", "data": body}

    def _pnl(self) -> tuple[float, float, float]:
        """(realized, unrealized, utilised margin) rupees over all symbols."""
        realized = unrealized = utilised = 0.0
        positions = {p.symbol: p for p in self.broker.position_book()}
        with self._lock:
            books = dict(self._books)
        for symbol, book in books.items():
            pos = positions.get(symbol)
            net = book.buy_qty - book.sell_qty
            quote = self._quotes.get(symbol)
            ltp = quote.ltp if quote and quote.ltp else (pos.average_price if pos else 0.0)
            total = book.sell_value - book.buy_value + net * ltp
            open_pnl = net * (ltp - pos.average_price) if pos and net else 0.0
            realized += total - open_pnl
            unrealized += open_pnl
            if pos and net:
                utilised += abs(net) * pos.average_price
        return realized, unrealized, utilised

    async def _funds(self, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        realized, unrealized, utilised = self._pnl()
        return 200, {
            "status": "success",
            "data": {
                "availablecash": f"{self.funds - utilised + realized:.2f}",
                "collateral": "0.00",
                "m2mrealized": f"{realized:.2f}",
                "m2munrealized": f"{unrealized:.2f}",
                "utiliseddebits": f"{utilised:.2f}",
            },
        }

    # --- order endpoints ---------------------------------------------------------------------------
    def _instrument(self, symbol: str, exchange: str) -> Instrument | None:
        inst = self.market.instruments.get(symbol)
        if inst is None or inst.exchange != exchange:
            return None
        return inst

    def _position_qty(self, symbol: str) -> int:
        for row in self.broker.position_book():
            if row.symbol == symbol:
                return row.quantity
        return 0

    async def _placeorder(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        symbol, exchange, action = d["symbol"], d["exchange"], d["action"]
        inst = self._instrument(symbol, exchange)
        if inst is None:
            return self._error(400, f"Symbol {symbol} not found on {exchange}")
        if inst.exchange == "NSE_INDEX":
            return self._error(400, f"Index {symbol} cannot be traded")
        if self.analyze_mode and d["product"] == "MIS":
            now = self.clock.now().astimezone(IST).time()
            if not MIS_OPEN <= now < MIS_SQUARE_OFF:
                held = self._position_qty(symbol)
                reducing = (action == "BUY" and held < 0) or (action == "SELL" and held > 0)
                if not reducing:
                    return self._error(
                        400,
                        f"MIS orders cannot be placed after square-off time ({MIS_SQUARE_OFF:%H:%M} IST). "
                        "Trading resumes at 09:00 AM IST.",
                    )
        rms = self.faults.draw_reject()
        if rms is not None:
            return self._error(400, rms)
        try:
            request = OrderRequest(
                symbol=symbol,
                action=action,
                quantity=d["quantity"],
                pricetype=d["pricetype"],
                price=d["price"],
                trigger_price=d["trigger_price"],
                exchange=exchange,
                product=d["product"],
            )
            meta = _Meta(exchange=exchange, product=d["product"], strategy=d["strategy"], placed_at=self.clock.now())
            orderid = self.broker.place_order(request)
        except OrderRejected as exc:
            return self._error(400, str(exc))
        with self._lock:
            self._meta[orderid] = meta
        if self.faults.take_place_timeout():
            await self._hold(self.faults.timeout_hold_s)
        return 200, {"status": "success", "orderid": orderid}

    async def _hold(self, seconds: float) -> None:
        """Wait ``seconds`` (wall clock), or until the server stops."""
        assert self._stopping is not None
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass

    async def _modifyorder(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        orderid = d["orderid"]
        try:
            self.broker.order_status(orderid)
            request = OrderRequest(
                symbol=d["symbol"],
                action=d["action"],
                quantity=d["quantity"],
                pricetype=d["pricetype"],
                price=d["price"],
                trigger_price=d["trigger_price"],
                exchange=d["exchange"],
                product=d["product"],
            )
            self.broker.modify_order(orderid, request)
        except NotFound:
            return self._error(404, f"Order {orderid} not found")
        except OrderNotCancellable as exc:
            return self._error(400, f"Cannot modify order in {exc.status} status")
        except OrderRejected as exc:
            return self._error(400, str(exc))
        body: dict[str, Any] = {"status": "success", "orderid": orderid}
        if self.analyze_mode:
            body["message"] = "Order modified successfully"
        return 200, body

    async def _cancelorder(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        orderid = d["orderid"]
        try:
            self.broker.cancel_order(orderid)
        except NotFound:
            return self._error(404, f"Order {orderid} not found")
        except OrderNotCancellable as exc:
            return self._error(400, f"Cannot cancel order in {exc.status} status")
        body: dict[str, Any] = {"status": "success", "orderid": orderid}
        if self.analyze_mode:
            body["message"] = "Order cancelled successfully"
        return 200, body

    async def _cancelallorder(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        cancelled: list[str] = []
        failed: list[str] = []
        for snap in self.broker.order_book():
            if snap.status not in ("open", "trigger pending"):
                continue
            # known OpenAlgo quirk (openalgo.md): analyzer mode skips trigger-pending orders
            if self.analyze_mode and snap.status == "trigger pending":
                continue
            try:
                self.broker.cancel_order(snap.orderid)
                cancelled.append(snap.orderid)
            except (NotFound, OrderRejected):
                failed.append(snap.orderid)
        return 200, {
            "status": "success",
            "canceled_orders": cancelled,
            "failed_cancellations": failed,
            "message": f"Canceled {len(cancelled)} orders. Failed to cancel {len(failed)} orders.",
        }

    def _order_row(self, s: OrderSnapshot, status_form: bool) -> dict[str, Any]:
        meta = self._meta.get(s.orderid) or _Meta()
        price_key = "price_type" if self.analyze_mode else "pricetype"
        row: dict[str, Any] = {
            "action": s.action,
            "average_price": s.average_price,
            "exchange": meta.exchange,
            "filled_quantity": s.filled_quantity,
            "order_status": s.status,
            "orderid": s.orderid,
            "price": s.price,
            price_key if status_form else "pricetype": s.pricetype,
            "product": meta.product,
            "quantity": s.quantity if self.analyze_mode or not status_form else str(s.quantity),
            "symbol": s.symbol,
            "timestamp": self._stamp(meta.placed_at or s.timestamp),
            "trigger_price": s.trigger_price,
        }
        if self.analyze_mode:
            row["pending_quantity"] = s.quantity - s.filled_quantity if s.status in ("open", "trigger pending") else 0
            row["strategy"] = meta.strategy
        return row

    async def _orderstatus(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            snap = self.broker.order_status(d["orderid"])
        except NotFound:
            return self._error(404, f"Order {d['orderid']} not found")
        return 200, {"status": "success", "data": self._order_row(snap, status_form=True)}

    async def _orderbook(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        snaps = self.broker.order_book()
        rows = [self._order_row(s, status_form=False) for s in reversed(snaps)]
        stats = {
            "total_buy_orders": sum(1 for s in snaps if s.action == "BUY"),
            "total_completed_orders": sum(1 for s in snaps if s.status == "complete"),
            "total_open_orders": sum(1 for s in snaps if s.status in ("open", "trigger pending")),
            "total_rejected_orders": sum(1 for s in snaps if s.status == "rejected"),
            "total_sell_orders": sum(1 for s in snaps if s.action == "SELL"),
        }
        return 200, {"status": "success", "data": {"orders": rows, "statistics": stats}}

    async def _tradebook(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            trades = list(self._trades)
        rows = []
        for t in reversed(trades):
            row = {k: v for k, v in t.items() if k != "time"}
            row["timestamp"] = self._stamp(t["time"])
            rows.append(row)
        return 200, {"status": "success", "data": rows}

    def _symbol_meta(self, symbol: str) -> _Meta:
        """Exchange and product of a symbol's position: those of its first order."""
        with self._lock:
            for snap in self.broker.order_book():
                if snap.symbol == symbol and snap.orderid in self._meta:
                    return self._meta[snap.orderid]
        inst = self.market.instruments.get(symbol)
        return _Meta(exchange=inst.exchange if inst else "NFO")

    async def _positionbook(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        rows = []
        with self._lock:
            books = dict(self._books)
        for p in self.broker.position_book():
            book = books.get(p.symbol, _Book())
            quote = self._quotes.get(p.symbol)
            ltp = quote.ltp if quote else 0.0
            pnl = book.sell_value - book.buy_value + p.quantity * ltp
            meta = self._symbol_meta(p.symbol)
            avg: Any = p.average_price if self.analyze_mode else f"{p.average_price:.2f}"
            rows.append(
                {
                    "average_price": avg,
                    "exchange": meta.exchange,
                    "ltp": ltp,
                    "pnl": round(pnl, 2),
                    "product": meta.product,
                    "quantity": p.quantity,
                    "symbol": p.symbol,
                }
            )
        return 200, {"status": "success", "data": rows}

    async def _closeposition(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        open_rows = [p for p in self.broker.position_book() if p.quantity != 0]
        if not open_rows:
            return 200, {"status": "success", "message": "No Open Positions Found"}
        for p in open_rows:
            held = self._symbol_meta(p.symbol)
            request = OrderRequest(
                symbol=p.symbol,
                action="SELL" if p.quantity > 0 else "BUY",
                quantity=abs(p.quantity),
                pricetype="MARKET",
                exchange=held.exchange,
                product=held.product,
            )
            meta = _Meta(exchange=held.exchange, product=held.product, strategy=d["strategy"], placed_at=self.clock.now())
            try:
                orderid = self.broker.place_order(request)
            except OrderRejected as exc:
                logger.warning("simulator: closeposition of {} refused: {}", p.symbol, exc)
                continue
            with self._lock:
                self._meta[orderid] = meta
        return 200, {"status": "success", "message": "All Open Positions SquaredOff"}

    async def _openposition(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        qty = self._position_qty(d["symbol"]) if self._instrument(d["symbol"], d["exchange"]) else 0
        return 200, {"status": "success", "quantity": qty}

    # --- data endpoints ---------------------------------------------------------------------------------
    async def _quotes_ep(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self._instrument(d["symbol"], d["exchange"]) is None:
            return self._error(404, f"Symbol {d['symbol']} not found on exchange {d['exchange']}")
        return 200, {"status": "success", "data": self._quotes[d["symbol"]].rest()}

    async def _multiquotes(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        results = []
        for item in d["symbols"]:
            symbol, exchange = item["symbol"], item["exchange"]
            if self._instrument(symbol, exchange) is None:
                results.append({"symbol": symbol, "exchange": exchange, "error": f"Symbol {symbol} not found on exchange {exchange}"})
            else:
                results.append({"symbol": symbol, "exchange": exchange, "data": self._quotes[symbol].rest()})
        return 200, {"status": "success", "results": results}

    def _symbol_row(self, inst: Instrument, token: int) -> dict[str, Any]:
        is_option = inst.option_type is not None
        return {
            "brexchange": inst.exchange,
            "brsymbol": inst.symbol,
            "exchange": inst.exchange,
            "expiry": _expiry_text(inst.expiry),
            "freeze_qty": 1800 if is_option else 0,
            "id": token,
            "instrumenttype": "OPTIDX" if is_option else ("INDEX" if inst.exchange == "NSE_INDEX" else ""),
            "lotsize": inst.lot_size,
            "name": inst.name,
            "strike": inst.strike if inst.strike is not None else -0.01,
            "symbol": inst.symbol,
            "tick_size": inst.tick_size,
            "token": str(token),
        }

    def _tokens(self) -> dict[str, int]:
        return {s: 100_000 + n for n, s in enumerate(sorted(self.market.instruments))}

    async def _search(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        words = [w.upper() for w in d["query"].split()]
        if not words:
            return self._error(400, "Query parameter is required and cannot be empty")
        tokens = self._tokens()
        rows = [
            self._symbol_row(inst, tokens[s])
            for s, inst in sorted(self.market.instruments.items())
            if all(w in s.upper() for w in words) and (not d.get("exchange") or inst.exchange == d["exchange"])
        ]
        if not rows:
            return self._error(404, "No matching symbols found")
        return 200, {"status": "success", "message": f"Found {len(rows)} matching symbols", "data": rows}

    async def _symbol(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        inst = self._instrument(d["symbol"], d["exchange"])
        if inst is None:
            return self._error(404, f"Symbol {d['symbol']} not found in exchange {d['exchange']}")
        return 200, {"status": "success", "data": self._symbol_row(inst, self._tokens()[inst.symbol])}

    async def _expiry(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        symbol, exchange, kind = d["symbol"], d["exchange"], d["instrumenttype"]
        days = sorted(
            {
                i.expiry
                for i in self.market.instruments.values()
                if kind == "options" and i.option_type is not None and i.name == symbol and i.exchange == exchange and i.expiry
            }
        )
        if not days:
            return self._error(404, f"No expiry dates found for {symbol} {kind} in {exchange}")
        return 200, {
            "status": "success",
            "message": f"Found {len(days)} expiry dates for {symbol} {kind} in {exchange}",
            "data": [_expiry_text(day) for day in days],
        }

    async def _intervals(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {
            "status": "success",
            "data": {"days": ["D"], "hours": [], "minutes": ["1m"], "months": [], "seconds": [], "weeks": []},
        }

    async def _history(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        interval = d["interval"]
        if interval not in ("1m", "D"):
            return self._error(400, f"Invalid interval '{interval}'. Supported intervals: 1m, D")
        if self._instrument(d["symbol"], d["exchange"]) is None:
            return self._error(404, f"Symbol {d['symbol']} not found on exchange {d['exchange']}")
        now = self.clock.now()
        first, last = d["start_date"], d["end_date"]
        bars = [
            b
            for b in self.market.bars.get(d["symbol"], [])
            if b.start + timedelta(minutes=1) <= now and first <= b.start.astimezone(IST).date() <= last
        ]
        if interval == "1m":
            rows = [
                {
                    "close": b.close,
                    "high": b.high,
                    "low": b.low,
                    "oi": 0,
                    "open": b.open,
                    "timestamp": int(b.start.timestamp()),
                    "volume": b.volume,
                }
                for b in bars
            ]
        else:
            days: dict[date, list] = {}
            for b in bars:
                days.setdefault(b.start.astimezone(IST).date(), []).append(b)
            rows = [
                {
                    "close": group[-1].close,
                    "high": max(b.high for b in group),
                    "low": min(b.low for b in group),
                    "oi": 0,
                    "open": group[0].open,
                    "timestamp": int(datetime.combine(day, dtime(0, 0), IST).timestamp()),
                    "volume": sum(b.volume for b in group),
                }
                for day, group in sorted(days.items())
            ]
        return 200, {"status": "success", "data": rows}

    async def _telegram(self, d: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        note = {"username": d["username"], "message": d["message"], "priority": d.get("priority", 5)}
        self.notifications.append(note)
        logger.info("simulator telegram/notify to {} (priority {}): {}", note["username"], note["priority"], note["message"])
        return 200, {"status": "success", "message": "Notification sent successfully"}

    # --- WebSocket ------------------------------------------------------------------------------------------
    def _drop_listener(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._drop_all)
            except RuntimeError:
                pass

    def _drop_all(self) -> None:
        for client in list(self._clients):
            client.abort()

    async def _ws_handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False, timeout=2.0, max_msg_size=1 << 20)
        await ws.prepare(request)
        client = _WsClient(ws=ws, transport=request.transport)
        self._clients.add(client)
        client.tasks = [
            asyncio.create_task(self._ws_writer(client)),
            asyncio.create_task(self._ws_heartbeat(client)),
            asyncio.create_task(self._ws_auth_deadline(client)),
        ]
        try:
            while True:
                msg = await ws.receive()
                if msg.type == WSMsgType.TEXT:
                    self._ws_message(client, msg.data)
                elif msg.type == WSMsgType.PING:
                    await ws.pong(msg.data)
                elif msg.type == WSMsgType.PONG:
                    client.ping_outstanding = False
                elif msg.type == WSMsgType.BINARY:
                    self._ws_error(client, "INVALID_JSON", "Invalid JSON message")
                else:  # CLOSE, CLOSING, CLOSED, ERROR
                    break
        except (ConnectionError, RuntimeError):
            pass
        finally:
            client.closed = True
            self._clients.discard(client)
            for task in client.tasks:
                if task is not asyncio.current_task():
                    task.cancel()
            await asyncio.gather(*client.tasks, return_exceptions=True)
        return ws

    async def _ws_writer(self, client: _WsClient) -> None:
        try:
            while True:
                market, frame = await client.queue.get()
                if market and self.faults.ws_muted():
                    continue
                await client.ws.send_str(frame)
        except (ConnectionError, RuntimeError):
            client.abort()

    async def _ws_heartbeat(self, client: _WsClient) -> None:
        try:
            while True:
                await asyncio.sleep(self.ws_heartbeat)
                if client.ping_outstanding:
                    logger.info("simulator: WebSocket client did not answer a ping within {} s; dropping it", self.ws_heartbeat)
                    client.abort()
                    return
                client.ping_outstanding = True
                await client.ws.ping()
        except (ConnectionError, RuntimeError):
            client.abort()

    async def _ws_auth_deadline(self, client: _WsClient) -> None:
        await asyncio.sleep(self.auth_timeout)
        if not client.authenticated and not client.ws.closed:
            logger.info("simulator: WebSocket client did not authenticate within {} s", self.auth_timeout)
            await client.ws.close(code=4401, message=b"auth timeout")

    def _ws_send(self, client: _WsClient, payload: dict[str, Any]) -> None:
        client.send(json.dumps(payload))

    def _ws_error(self, client: _WsClient, code: str, message: str) -> None:
        self._ws_send(client, {"status": "error", "code": code, "message": message})

    def _ws_message(self, client: _WsClient, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError:
            self._ws_error(client, "INVALID_JSON", "Invalid JSON message")
            return
        if not isinstance(data, dict):
            self._ws_error(client, "INVALID_JSON", "Invalid JSON message")
            return
        action = data.get("action") or data.get("type")
        if action in ("authenticate", "auth"):
            self._ws_authenticate(client, data)
        elif action == "ping":
            pong: dict[str, Any] = {"type": "pong", "status": "success", "server_timestamp": int(time.time() * 1000)}
            if data.get("timestamp") is not None:
                pong["client_timestamp"] = data["timestamp"]
            self._ws_send(client, pong)
        elif action in ("subscribe", "unsubscribe", "unsubscribe_all", "subscribe_orders", "unsubscribe_orders"):
            if not client.authenticated:
                self._ws_error(client, "NOT_AUTHENTICATED", "You must authenticate first")
            elif action == "subscribe":
                self._ws_subscribe(client, data)
            elif action == "subscribe_orders":
                client.orders = True
                self._ws_send(client, {"type": "subscribe_orders", "status": "success", "message": "Subscribed to order updates", "broker": BROKER_NAME})
            elif action == "unsubscribe_orders":
                client.orders = False
                self._ws_send(client, {"type": "unsubscribe_orders", "status": "success", "message": "Unsubscribed from order updates", "broker": BROKER_NAME})
            else:
                self._ws_unsubscribe(client, data, all_=action == "unsubscribe_all")
        else:
            self._ws_error(client, "INVALID_ACTION", f"Invalid action: {action}")

    def _ws_authenticate(self, client: _WsClient, data: dict[str, Any]) -> None:
        key = data.get("api_key") or data.get("apikey")
        if not key:
            self._ws_error(client, "AUTHENTICATION_ERROR", "API key is required")
            return
        if key != self.api_key:
            self._ws_error(client, "AUTHENTICATION_ERROR", "Invalid API key")
            return
        client.authenticated = True
        self.ws_logins += 1
        self._ws_send(
            client,
            {
                "type": "auth",
                "status": "success",
                "message": "Authentication successful",
                "broker": BROKER_NAME,
                "user_id": "simulator",
                "supported_features": {"ltp": True, "quote": True, "depth": True},
            },
        )

    @staticmethod
    def _mode(raw: Any) -> int | None:
        if isinstance(raw, bool):
            return None
        if isinstance(raw, int) and raw in MODE_LABELS:
            return raw
        if isinstance(raw, str):
            text = raw.strip().upper()
            if text.isdigit() and int(text) in MODE_LABELS:
                return int(text)
            for number, label in MODE_LABELS.items():
                if label.upper() == text:
                    return number
        return None

    @staticmethod
    def _requested(data: dict[str, Any]) -> list[dict[str, Any]]:
        symbols = data.get("symbols") or []
        if not symbols and data.get("symbol") and data.get("exchange"):
            symbols = [{"symbol": data["symbol"], "exchange": data["exchange"]}]
        return [s for s in symbols if isinstance(s, dict)]

    def _ws_subscribe(self, client: _WsClient, data: dict[str, Any]) -> None:
        mode = self._mode(data.get("mode", 2))
        if mode is None:
            self._ws_error(client, "INVALID_MODE", f"Invalid mode: {data.get('mode')!r}")
            return
        symbols = self._requested(data)
        if not symbols:
            self._ws_error(client, "INVALID_PARAMETERS", "At least one symbol must be specified")
            return
        results = []
        ok = True
        for item in symbols:
            symbol, exchange = item.get("symbol"), item.get("exchange")
            if not symbol or not exchange:
                continue
            if self._instrument(symbol, exchange) is None:
                ok = False
                results.append(
                    {"symbol": symbol, "exchange": exchange, "status": "error", "message": f"Symbol {symbol} not found on {exchange}", "broker": BROKER_NAME}
                )
                continue
            client.subs.setdefault((symbol, exchange), set()).add(mode)
            results.append(
                {"symbol": symbol, "exchange": exchange, "status": "success", "mode": MODE_LABELS[mode], "depth": data.get("depth", 5), "broker": BROKER_NAME}
            )
        reply: dict[str, Any] = {
            "type": "subscribe",
            "status": "success" if ok else "partial",
            "subscriptions": results,
            "message": "Subscription processing complete",
            "broker": BROKER_NAME,
        }
        if data.get("request_id") is not None:
            reply["request_id"] = data["request_id"]
        self._ws_send(client, reply)

    def _ws_unsubscribe(self, client: _WsClient, data: dict[str, Any], all_: bool) -> None:
        done: list[dict[str, Any]] = []
        if all_:
            done = [{"symbol": s, "exchange": e, "status": "success", "broker": BROKER_NAME} for (s, e) in client.subs]
            client.subs.clear()
        else:
            symbols = self._requested(data)
            if not symbols:
                self._ws_error(client, "INVALID_PARAMETERS", "Either symbols or unsubscribe_all is required")
                return
            for item in symbols:
                key = (item.get("symbol"), item.get("exchange"))
                mode = self._mode(item.get("mode", data.get("mode", 2))) or 2
                modes = client.subs.get(key)  # type: ignore[arg-type]
                if modes is not None:
                    modes.discard(mode)
                    if not modes:
                        del client.subs[key]  # type: ignore[arg-type]
                done.append({"symbol": key[0], "exchange": key[1], "status": "success", "broker": BROKER_NAME})
        self._ws_send(
            client,
            {
                "type": "unsubscribe",
                "status": "success",
                "message": "Unsubscription processing complete",
                "successful": done,
                "failed": [],
                "broker": BROKER_NAME,
            },
        )
