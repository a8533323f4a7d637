"""MarketFeed against a small local OpenAlgo-like WebSocket server (aiohttp, own thread and loop).

Every wait is on a condition with a deadline (:func:`wait_for`), never a bare sleep.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from loguru import logger

from broker.feed_parse import OrderUpdateMessage
from broker.openalgo_ws import MarketFeed, backoff_delay, backoff_delays
from messages.base import IST
from tests.waiting import wait_for
from messages.market import Tick

KEY = "test-api-key-0123456789abcdef"
CE = "NIFTY30DEC2526000CE"
PE = "NIFTY30DEC2526000PE"
INSTRUMENTS = [(CE, "NFO"), (PE, "NFO")]
TS_MS = 1764563400250  # 2025-12-01 10:00:00.250 IST


def tick_frame(symbol: str = CE, ltp: float = 101.5, volume: int = 12000, ts: int = TS_MS) -> dict[str, Any]:
    return {"type": "market_data", "symbol": symbol, "exchange": "NFO", "mode": 2,
            "data": {"ltp": ltp, "timestamp": ts, "volume": volume, "open": 100.0, "high": 103.0,
                     "low": 98.5, "close": 99.0, "last_quantity": 75, "oi": 1000}}


class InvalidText(bytes):
    """Bytes the fake server sends as a *text* frame (invalid UTF-8 on purpose)."""


class FakeOpenAlgo:
    """Just enough of the OpenAlgo WS server: auth, subscribe ack, frames on demand, drop, silence."""

    def __init__(self, api_key: str = KEY) -> None:
        self.api_key = api_key
        self.answer_auth = True  # False: stay silent after authenticate
        self.orders_supported = False  # False: answer subscribe_orders with an error
        self.autoping = True  # False: never answer the client's pings
        self.heartbeat: float | None = None  # seconds between server pings (drops a client that does not pong)
        self.received: list[tuple[int, dict[str, Any]]] = []  # (connection index, message)
        self.accepted_at: list[float] = []  # monotonic time of each accepted connection
        self.ended: list[int] = []  # connection indexes that closed
        self._clients: dict[int, web.WebSocketResponse] = {}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-openalgo", daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- test side (any thread)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        self._run(self._start())

    def stop(self) -> None:
        self._run(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def send(self, payload: dict[str, Any] | str | bytes) -> None:
        """Send one frame to every connected client."""
        self._run(self._send(payload))

    def drop(self) -> None:
        """Close every client connection (server going away)."""
        self._run(self._drop())

    def actions(self, action: str) -> list[tuple[int, dict[str, Any]]]:
        with self._lock:
            return [(i, m) for i, m in self.received if m.get("action") == action]

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._clients)

    # -- server side (its own loop)

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(5)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._handler)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]

    async def _stop(self) -> None:
        await self._drop()
        assert self._runner is not None
        await self._runner.cleanup()

    async def _send(self, payload: dict[str, Any] | str | bytes) -> None:
        with self._lock:
            clients = list(self._clients.values())
        for ws in clients:
            if isinstance(payload, InvalidText):
                await ws.send_frame(bytes(payload), WSMsgType.TEXT)
            elif isinstance(payload, bytes):
                await ws.send_bytes(payload)
            else:
                await ws.send_str(payload if isinstance(payload, str) else json.dumps(payload))

    async def _drop(self) -> None:
        with self._lock:
            clients = list(self._clients.values())
        for ws in clients:
            await ws.close(code=1012, message=b"server restart")

    async def _handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=self.autoping, heartbeat=self.heartbeat)
        await ws.prepare(request)
        with self._lock:
            index = len(self.accepted_at)
            self.accepted_at.append(time.monotonic())
            self._clients[index] = ws
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                message = json.loads(msg.data)
                with self._lock:
                    self.received.append((index, message))
                await self._answer(ws, message)
        finally:
            with self._lock:
                self._clients.pop(index, None)
                self.ended.append(index)
        return ws

    async def _answer(self, ws: web.WebSocketResponse, message: dict[str, Any]) -> None:
        action = message.get("action")
        if action == "authenticate" and self.answer_auth:
            if message.get("api_key") == self.api_key:
                await ws.send_json({"type": "auth", "status": "success", "message": "Authentication successful",
                                    "broker": "sim"})
            else:
                await ws.send_json({"status": "error", "code": "AUTHENTICATION_ERROR",
                                    "message": "Invalid API key"})
        elif action == "subscribe":
            subs = [{"symbol": s["symbol"], "exchange": s["exchange"], "status": "success",
                     "mode": message["mode"]} for s in message["symbols"]]
            await ws.send_json({"type": "subscribe", "status": "success", "subscriptions": subs,
                                "message": "Subscription processing complete"})
        elif action == "subscribe_orders":
            if self.orders_supported:
                await ws.send_json({"type": "subscribe_orders", "status": "success"})
            else:
                await ws.send_json({"type": "error", "code": "INVALID_ACTION",
                                    "message": "Unsupported action: subscribe_orders"})


class Recorder:
    """Collects what the feed's callbacks receive (called on the feed thread)."""

    def __init__(self) -> None:
        self.ticks: list[Tick] = []
        self.orders: list[OrderUpdateMessage] = []
        self.connected: list[int] = []
        self.disconnected: list[str] = []

    def kwargs(self) -> dict[str, Any]:
        return {"on_tick": self.ticks.append, "on_order_update": self.orders.append,
                "on_connected": self.connected.append, "on_disconnected": self.disconnected.append}


@pytest.fixture
def server() -> Iterator[FakeOpenAlgo]:
    fake = FakeOpenAlgo()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def make_feed() -> Iterator[Callable[..., tuple[MarketFeed, Recorder]]]:
    feeds: list[MarketFeed] = []

    def make(url: str, **overrides: Any) -> tuple[MarketFeed, Recorder]:
        recorder = Recorder()
        options: dict[str, Any] = {"mute_seconds": 30.0, "auth_timeout": 3.0, "backoff_initial": 0.02,
                                   "backoff_max": 0.1, "jitter": 0.0, **recorder.kwargs()}
        options.update(overrides)
        feed = MarketFeed(url, options.pop("api_key", KEY), options.pop("instruments", INSTRUMENTS), **options)
        feeds.append(feed)
        feed.start()
        return feed, recorder

    yield make
    for feed in feeds:
        assert feed.stop(timeout=5.0)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("openalgo-feed") and t.is_alive()]


@pytest.fixture
def log_lines() -> Iterator[list[tuple[str, str]]]:
    """(level, message) of every loguru record while the test runs."""
    lines: list[tuple[str, str]] = []
    sink = logger.add(lambda m: lines.append((m.record["level"].name, str(m))), level="DEBUG", format="{message}")
    yield lines
    logger.remove(sink)


# ------------------------------------------------------------------- backoff


def test_backoff_doubles_and_is_capped_without_jitter() -> None:
    assert backoff_delays(8, initial=1.0, maximum=30.0, jitter=0.0) == [1, 2, 4, 8, 16, 30, 30, 30]
    assert backoff_delays(3, initial=0.05, maximum=0.1, jitter=0.0) == [0.05, 0.1, 0.1]


def test_backoff_jitter_stays_within_its_fraction_and_follows_the_rng() -> None:
    delays = backoff_delays(10, initial=1.0, maximum=30.0, jitter=0.5, rng=random.Random(7))
    bases = [1, 2, 4, 8, 16, 30, 30, 30, 30, 30]
    assert all(0.5 * b <= d <= 1.5 * b for d, b in zip(delays, bases, strict=True))
    assert delays == backoff_delays(10, initial=1.0, maximum=30.0, jitter=0.5, rng=random.Random(7))
    assert len(set(delays)) == len(delays)


def test_backoff_uses_the_injected_rng_uniform_in_minus_one_to_one() -> None:
    class Fixed(random.Random):
        def __init__(self, u: float) -> None:
            super().__init__()
            self.u = u

        def uniform(self, a: float, b: float) -> float:
            assert (a, b) == (-1.0, 1.0)
            return self.u

    assert backoff_delays(3, jitter=0.5, rng=Fixed(1.0)) == [1.5, 3.0, 6.0]
    assert backoff_delays(3, jitter=0.5, rng=Fixed(-1.0)) == [0.5, 1.0, 2.0]
    assert backoff_delay(10, initial=1.0, maximum=30.0, jitter=0.2, rng=Fixed(0.5)) == pytest.approx(33.0)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        MarketFeed("ws://x", KEY, [], on_tick=print)
    with pytest.raises(ValueError):
        MarketFeed("http://x", KEY, INSTRUMENTS, on_tick=print)
    with pytest.raises(ValueError):
        MarketFeed("ws://x", KEY, INSTRUMENTS, on_tick=print, jitter=1.5)
    with pytest.raises(ValueError):
        MarketFeed("ws://x", KEY, INSTRUMENTS, on_tick=print, backoff_initial=5, backoff_max=1)


# ---------------------------------------------------------------- happy path


def test_authenticates_subscribes_quote_mode_and_delivers_ticks(server: FakeOpenAlgo, make_feed: Any) -> None:
    feed, rec = make_feed(server.url)
    wait_for(lambda: rec.connected == [1], what="on_connected(1)")
    assert [m for _, m in server.actions("authenticate")] == [{"action": "authenticate", "api_key": KEY}]
    assert [m for _, m in server.actions("subscribe")] == [
        {"action": "subscribe", "symbols": [{"symbol": CE, "exchange": "NFO"}, {"symbol": PE, "exchange": "NFO"}],
         "mode": 2}
    ]
    wait_for(lambda: server.actions("subscribe_orders"), what="subscribe_orders")

    server.send(tick_frame(CE, 101.5, 12000))
    server.send({"type": "market_data", "mode": 2, "topic": f"{PE}.NFO",
                 "data": {"symbol": PE, "exchange": "NFO", "ltp": "88.05", "volume": "3000",
                          "timestamp": "2025-12-01T04:30:01Z"}})
    wait_for(lambda: len(rec.ticks) == 2, what="two ticks")
    first, second = rec.ticks
    assert isinstance(first, Tick)
    assert (first.symbol, first.ltp, first.volume) == (CE, 101.5, 12000)
    assert first.time.tzinfo == IST and first.time.hour == 10 and first.time.microsecond == 250000
    assert (second.symbol, second.ltp, second.volume) == (PE, 88.05, 3000)
    assert second.time.isoformat() == "2025-12-01T10:00:01+05:30"
    stats = feed.stats
    assert (stats.ticks, stats.connections, stats.reconnects) == (2, 1, 0)
    assert stats.last_tick_monotonic is not None
    # the server did not know subscribe_orders: counted, the feed carries on
    assert stats.errors == 1 and server.open_connections == 1 and rec.disconnected == []


def test_order_updates_are_delivered(server: FakeOpenAlgo, make_feed: Any) -> None:
    server.orders_supported = True
    feed, rec = make_feed(server.url)
    wait_for(lambda: server.actions("subscribe_orders"), what="subscribe_orders")
    server.send({"type": "order_update", "orderid": "250101000123", "symbol": CE, "exchange": "NFO",
                 "action": "SELL", "order_status": "complete", "quantity": "75", "filled_quantity": "75",
                 "average_price": "99.95", "timestamp": "2025-12-01 10:00:05"})
    wait_for(lambda: rec.orders, what="order update")
    update = rec.orders[0]
    assert isinstance(update, OrderUpdateMessage)
    assert (update.orderid, update.order_status, update.filled_quantity, update.average_price) == (
        "250101000123", "complete", 75, 99.95)
    assert feed.stats.order_updates == 1 and feed.stats.errors == 0


def test_subscribe_orders_can_be_switched_off(server: FakeOpenAlgo, make_feed: Any) -> None:
    feed, rec = make_feed(server.url, subscribe_orders=False)
    wait_for(lambda: rec.connected == [1], what="connected")
    server.send(tick_frame())  # frames are ordered: once this tick is in, the server saw all we sent
    wait_for(lambda: rec.ticks, what="tick")
    assert server.actions("subscribe_orders") == []


# ------------------------------------------------------------ auth failures


def test_wrong_key_never_connects_and_is_retried_with_backoff(
    server: FakeOpenAlgo, make_feed: Any, log_lines: list[tuple[str, str]]
) -> None:
    wrong = "wrong-key-fedcba9876543210"
    feed, rec = make_feed(server.url, api_key=wrong, backoff_initial=0.05, backoff_max=0.2)
    wait_for(lambda: len(server.actions("authenticate")) >= 4, what="four auth attempts")
    feed.stop()
    attempts = server.actions("authenticate")
    assert all(m["api_key"] == wrong for _, m in attempts)
    assert [i for i, _ in attempts] == list(range(len(attempts)))  # one attempt per connection
    assert server.actions("subscribe") == [] and rec.connected == [] and rec.disconnected == []
    assert feed.stats.connections == 0 and feed.stats.reconnects >= 3
    # each reconnect waited at least its backoff delay (no jitter): 0.05, 0.1, 0.2
    gaps = [b - a for a, b in zip(server.accepted_at, server.accepted_at[1:])]
    for gap, delay in zip(gaps, backoff_delays(len(gaps), initial=0.05, maximum=0.2, jitter=0.0)):
        assert gap >= delay * 0.95
    errors = [m for level, m in log_lines if level == "ERROR" and "authentication refused" in m]
    assert errors, "auth failure is logged as an error"
    assert not [m for _, m in log_lines if wrong in m], "the API key must never be logged"


def test_silent_auth_times_out_and_retries(server: FakeOpenAlgo, make_feed: Any) -> None:
    server.answer_auth = False
    feed, rec = make_feed(server.url, auth_timeout=0.3)
    wait_for(lambda: len(server.actions("authenticate")) >= 2, what="a second auth attempt")
    wait_for(lambda: 0 in server.ended, what="first connection closed")
    assert rec.connected == []
    server.answer_auth = True
    wait_for(lambda: rec.connected == [1], what="connected once the server answers")


def test_connection_refused_is_retried(make_feed: Any) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    feed, rec = make_feed(f"ws://127.0.0.1:{port}")
    wait_for(lambda: feed.stats.reconnects >= 3, what="reconnect attempts")
    assert rec.connected == [] and feed.stats.connections == 0


# ---------------------------------------------------------------- reconnects


def test_server_drop_reconnects_reauthenticates_and_resubscribes(server: FakeOpenAlgo, make_feed: Any) -> None:
    feed, rec = make_feed(server.url)
    wait_for(lambda: rec.connected == [1], what="first connection")
    server.drop()
    wait_for(lambda: rec.connected == [1, 2], what="on_connected(2)")
    auths = server.actions("authenticate")
    subs = server.actions("subscribe")
    assert [i for i, _ in auths] == [0, 1] and auths[0][1] == auths[1][1]
    assert [i for i, _ in subs] == [0, 1] and subs[0][1] == subs[1][1]
    assert len(rec.disconnected) == 1 and "1012" in rec.disconnected[0]
    assert (feed.stats.connections, feed.stats.reconnects) == (2, 1)
    server.send(tick_frame())
    wait_for(lambda: rec.ticks, what="ticks on the new connection")


def test_mute_connection_is_closed_and_replaced(server: FakeOpenAlgo, make_feed: Any) -> None:
    feed, rec = make_feed(server.url, mute_seconds=0.3)
    wait_for(lambda: rec.connected == [1], what="first connection")
    server.send(tick_frame())
    wait_for(lambda: rec.ticks, what="a tick")
    # the server now says nothing: the client must give up on the connection itself
    wait_for(lambda: rec.connected == [1, 2], what="reconnect after going mute")
    assert 0 in server.ended
    assert len(rec.disconnected) == 1 and rec.disconnected[0].startswith("mute")
    assert [i for i, _ in server.actions("subscribe")] == [0, 1]


def test_ticks_keep_a_connection_alive(server: FakeOpenAlgo, make_feed: Any) -> None:
    checks = threading.Event()
    calls: list[int] = []

    def open_market_with_a_tick() -> bool:
        """Called by the watchdog at each check: the server sends one tick each time."""
        calls.append(1)
        server.send(tick_frame(volume=12000 + len(calls)))
        if len(calls) >= 20:  # 20 checks ≈ 4 mute periods
            checks.set()
        return True

    feed, rec = make_feed(server.url, mute_seconds=0.3, in_market_hours=open_market_with_a_tick)
    wait_for(lambda: rec.connected == [1], what="connected")
    assert checks.wait(10)
    wait_for(lambda: len(rec.ticks) >= 20, what="the ticks")
    assert rec.connected == [1] and rec.disconnected == []


def test_no_mute_reconnect_outside_market_hours(server: FakeOpenAlgo, make_feed: Any) -> None:
    done, hours = closed_market_after(20)  # 20 watchdog checks ≈ 4 mute periods
    feed, rec = make_feed(server.url, mute_seconds=0.3, in_market_hours=hours)
    wait_for(lambda: rec.connected == [1], what="connected")
    assert done.wait(10)
    assert rec.connected == [1] and rec.disconnected == [] and server.open_connections == 1


def closed_market_after(checks: int) -> tuple[threading.Event, Callable[[], bool]]:
    """An ``in_market_hours`` that is always False and sets the event after ``checks`` watchdog calls."""
    done = threading.Event()
    calls: list[int] = []

    def in_market_hours() -> bool:
        calls.append(1)
        if len(calls) >= checks:
            done.set()
        return False

    return done, in_market_hours


def test_pings_both_ways_keep_the_connection_up(server: FakeOpenAlgo, make_feed: Any) -> None:
    server.heartbeat = 0.3  # the server pings every 0.3 s and drops a client that does not pong in 0.15 s
    done, hours = closed_market_after(30)  # ≈ 1.8 s: about 6 pings each way
    feed, rec = make_feed(server.url, ping_interval=0.3, mute_seconds=0.3, in_market_hours=hours)
    wait_for(lambda: rec.connected == [1], what="connected")
    assert done.wait(10)
    assert rec.connected == [1] and rec.disconnected == [] and server.open_connections == 1


def test_a_server_that_stops_answering_pings_is_dropped(server: FakeOpenAlgo, make_feed: Any) -> None:
    server.autoping = False
    _, hours = closed_market_after(10**9)  # never mute: only the ping time-out can end the connection
    feed, rec = make_feed(server.url, ping_interval=0.2, in_market_hours=hours)
    wait_for(lambda: rec.connected == [1, 2], what="reconnect after the ping time-out")
    assert "ping" in rec.disconnected[0]


# ---------------------------------------------------------------------- junk


def test_junk_is_counted_and_the_feed_stays_up(
    server: FakeOpenAlgo, make_feed: Any, log_lines: list[tuple[str, str]]
) -> None:
    feed, rec = make_feed(server.url)
    wait_for(lambda: rec.connected == [1], what="connected")
    for _ in range(50):
        server.send("this is not json")
    server.send(b"\xff\x00binary")
    server.send(InvalidText(b'{"type": "market_data", "symbol": "\xff"}'))
    server.send(tick_frame(ltp=0))
    server.send({"type": "heartbeat"})
    server.send({"type": "market_data", "symbol": "NIFTY30DEC2530000CE", "exchange": "NFO",
                 "data": {"ltp": 5.0, "timestamp": TS_MS}})
    server.send(tick_frame(ltp=102.0))
    wait_for(lambda: rec.ticks, what="the valid tick after the junk")
    stats = feed.stats
    assert (stats.malformed, stats.unexpected, stats.unsubscribed, stats.ticks) == (53, 1, 1, 1)
    assert rec.ticks[0].ltp == 102.0
    assert rec.connected == [1] and rec.disconnected == [] and server.open_connections == 1
    loud = [m for level, m in log_lines if level in ("WARNING", "ERROR") and "malformed" in m]
    assert len(loud) == 1, loud  # rate-limited: the first at WARNING, the rest at DEBUG


def test_callback_exception_is_logged_and_does_not_kill_the_feed(
    server: FakeOpenAlgo, make_feed: Any, log_lines: list[tuple[str, str]]
) -> None:
    seen: list[Tick] = []

    def fragile(tick: Tick) -> None:
        seen.append(tick)
        if len(seen) == 1:
            raise RuntimeError("boom")

    feed, rec = make_feed(server.url, on_tick=fragile)
    wait_for(lambda: rec.connected == [1], what="connected")
    server.send(tick_frame(ltp=100.0))
    server.send(tick_frame(ltp=100.5))
    wait_for(lambda: len(seen) == 2, what="second tick after the failing one")
    assert feed.stats.ticks == 2 and rec.connected == [1]
    assert any(level == "ERROR" and "on_tick" in m and "boom" in m for level, m in log_lines)


# ---------------------------------------------------------------------- stop


def test_stop_is_prompt_even_while_backing_off(server: FakeOpenAlgo, make_feed: Any) -> None:
    feed, rec = make_feed(server.url, api_key="wrong-key", backoff_initial=30.0, backoff_max=30.0)
    wait_for(lambda: server.actions("authenticate") and 0 in server.ended, what="refused and closed")
    started = time.monotonic()
    assert feed.stop(timeout=5.0)
    assert time.monotonic() - started < 2.0
    assert feed.stop()  # idempotent


def test_stop_closes_a_live_connection(server: FakeOpenAlgo, make_feed: Any) -> None:
    feed, rec = make_feed(server.url)
    wait_for(lambda: rec.connected == [1], what="connected")
    started = time.monotonic()
    assert feed.stop(timeout=5.0)
    assert time.monotonic() - started < 2.0
    wait_for(lambda: server.open_connections == 0, what="server sees the close")
    assert rec.disconnected == []  # stop() does not report a loss
