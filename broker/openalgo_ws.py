"""The OpenAlgo market-data WebSocket client (openalgo.md, WebSocket section).

:class:`MarketFeed` keeps one connection up until stopped: connect,
authenticate, subscribe quote mode (``mode`` 2) for every instrument in one
message, optionally ``subscribe_orders``, hand each valid tick to
``on_tick``. It reconnects forever with exponential backoff and jitter
(:func:`backoff_delays`), re-authenticating and re-subscribing each time (the
server keeps nothing). A connection that goes mute during market hours is
closed and replaced.

Threads: one connection thread (websocket-client's ``run_forever``; every
callback runs on it, so callbacks must be quick — e.g. an actor ``tell``),
one watchdog thread (handshake time-out and mute detection), and
websocket-client's own ping thread per connection. :meth:`MarketFeed.stop`
joins them all.
"""

from __future__ import annotations

import json
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from loguru import logger
from pydantic import SecretStr
from websocket import WebSocketApp

from broker.feed_parse import (
    AuthResult,
    Malformed,
    OrderUpdateMessage,
    OrderUpdateReceived,
    FeedError,
    OrdersAck,
    PaceAck,
    SimClockStep,
    SubscribeAck,
    TickReceived,
    Unexpected,
    Unsubscribed,
    parse_message,
)
from messages.base import IST
from messages.market import Tick

#: Quote mode: LTP, OHLC and cumulative volume.
QUOTE_MODE = 2
#: A kind of junk or callback failure is logged at its level at most once per this many seconds.
LOG_EVERY = 60.0


def backoff_delay(
    attempt: int, *, initial: float = 1.0, maximum: float = 30.0, jitter: float = 0.5, rng: random.Random | None = None
) -> float:
    """Seconds to wait before retry number ``attempt`` (0 = first retry).

    ``min(maximum, initial * 2**attempt)`` multiplied by ``1 + jitter * u``,
    ``u`` uniform in [-1, 1] from ``rng`` (no jitter when ``jitter`` is 0).
    """
    base = min(maximum, initial * 2.0 ** min(attempt, 60))
    if not jitter:
        return base
    return base * (1.0 + jitter * (rng or random).uniform(-1.0, 1.0))


def backoff_delays(
    count: int, *, initial: float = 1.0, maximum: float = 30.0, jitter: float = 0.5, rng: random.Random | None = None
) -> list[float]:
    """The first ``count`` retry delays in seconds (see :func:`backoff_delay`); pure given ``rng``."""
    return [backoff_delay(i, initial=initial, maximum=maximum, jitter=jitter, rng=rng) for i in range(count)]


@dataclass(frozen=True)
class FeedStats:
    """Counters since :meth:`MarketFeed.start`.

    ``ticks`` delivered; junk frames by class (``malformed``, ``unexpected``,
    ``unsubscribed``); ``errors`` (server error messages); ``order_updates``
    received; ``reconnects`` (connection attempts after the first);
    ``connections`` (authenticated and subscribed, the last number passed to
    ``on_connected``); ``last_tick_monotonic`` (``time.monotonic()`` of the
    last tick, None before any).
    """

    ticks: int = 0
    malformed: int = 0
    unexpected: int = 0
    unsubscribed: int = 0
    errors: int = 0
    order_updates: int = 0
    reconnects: int = 0
    connections: int = 0
    last_tick_monotonic: float | None = None


class _Throttled:
    """Logs the first event of a kind at its level, then at most one per ``LOG_EVERY`` s; the rest at DEBUG."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        self._redact = redact
        self._last: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def __call__(self, kind: str, level: str, text: str, *args: Any, exc: BaseException | None = None) -> None:
        now = time.monotonic()
        with self._lock:
            last, suppressed = self._last.get(kind, (None, 0))
            emit = last is None or now - last >= LOG_EVERY
            self._last[kind] = (now, 0) if emit else (last, suppressed + 1)
        message = self._redact(text.format(*args))
        if emit:
            more = f" ({suppressed} more since the last report)" if suppressed else ""
            logger.opt(depth=1, exception=exc).log(level, "{}{}", message, more)
        else:
            logger.opt(depth=1).debug("{}", message)


class MarketFeed:
    """Live ticks (and order updates) from the OpenAlgo WebSocket.

    ``instruments`` are ``(symbol, exchange)`` pairs, e.g.
    ``("NIFTY30DEC2526000CE", "NFO")``. Callbacks, all on the feed's thread;
    an exception in one is logged and the feed carries on:

    * ``on_tick(Tick)`` — time IST, ltp rupees, volume cumulative day
      contracts (or None). Ticks without a timestamp carry the receipt time.
      Duplicates are passed on as received.
    * ``on_order_update(OrderUpdateMessage)``.
    * ``on_connected(n)`` — authenticated and subscribed; ``n`` is 1 for the
      first connection, 2, 3 … after reconnects.
    * ``on_disconnected(reason)`` — a connection that had reached
      ``on_connected`` was lost (not called for the close :meth:`stop` makes).

    ``mute_seconds`` real seconds without a tick for any subscribed symbol,
    while ``in_market_hours()`` is true, count as a dead connection: it is
    closed and replaced. ``auth_timeout`` seconds bound the TCP connect and
    the wait for the auth and subscribe answers. Retry delays follow
    :func:`backoff_delay`; the attempt count restarts after a connection
    that delivered a tick (so a connection that subscribes but stays mute
    backs off too). ``now`` gives the receipt time (aware) for ticks without
    a timestamp. The API key never appears in logs.

    ``on_sim_clock(time, ack)`` (simulator only: a paced session, see
    ``simulator.server``): each connection asks the simulator to pace its
    clock to this client (``sim_pace``), and each ``sim_clock`` step is
    passed on with ``ack``, a callable that acknowledges it (from any
    thread; a no-op once that connection is gone). The time a step waits for
    its acknowledgement does not count toward ``mute_seconds``: the server is
    waiting for us then, not silent.

    Raises ValueError for an empty ``instruments`` or nonsensical settings.
    """

    def __init__(
        self,
        url: str,
        api_key: str | SecretStr,
        instruments: list[tuple[str, str]],
        *,
        on_tick: Callable[[Tick], None],
        on_order_update: Callable[[OrderUpdateMessage], None] | None = None,
        on_connected: Callable[[int], None] | None = None,
        on_disconnected: Callable[[str], None] | None = None,
        in_market_hours: Callable[[], bool] = lambda: True,
        mute_seconds: float = 30.0,
        ping_interval: float = 10.0,
        auth_timeout: float = 15.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        jitter: float = 0.5,
        rng: random.Random | None = None,
        subscribe_orders: bool = True,
        now: Callable[[], datetime] | None = None,
        on_sim_clock: Callable[[datetime, Callable[[], None]], None] | None = None,
    ) -> None:
        if urlsplit(url).scheme not in ("ws", "wss"):
            raise ValueError(f"not a ws:// or wss:// URL: {url!r}")
        if not instruments:
            raise ValueError("no instruments to subscribe")
        if mute_seconds <= 0 or auth_timeout <= 0 or ping_interval < 0:
            raise ValueError("mute_seconds and auth_timeout must be > 0, ping_interval >= 0")
        if not 0 < backoff_initial <= backoff_max or not 0 <= jitter < 1:
            raise ValueError("need 0 < backoff_initial <= backoff_max and 0 <= jitter < 1")
        self._url = url
        self._key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self._instruments = [(str(s), str(e)) for s, e in instruments]
        self._symbols = frozenset(s for s, _ in self._instruments)
        self._on_tick = on_tick
        self._on_order_update = on_order_update
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._in_market_hours = in_market_hours
        self._mute_seconds = mute_seconds
        self._ping_interval = ping_interval
        self._auth_timeout = auth_timeout
        self._backoff = {"initial": backoff_initial, "maximum": backoff_max, "jitter": jitter,
                         "rng": rng or random.Random()}
        self._subscribe_orders = subscribe_orders
        self._on_sim_clock = on_sim_clock
        self._now = now or (lambda: datetime.now(IST))
        self._lock = threading.Lock()
        self._stats = FeedStats()
        self._conn: _Connection | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._log = _Throttled(self._redact)

    def __repr__(self) -> str:
        return f"MarketFeed({self._url!r}, {len(self._instruments)} instruments)"

    # ----------------------------------------------------------------- control

    def start(self) -> None:
        """Start the connection and watchdog threads. RuntimeError if already started."""
        if self._threads:
            raise RuntimeError("MarketFeed already started")
        self._threads = [
            threading.Thread(target=self._run, name="openalgo-feed", daemon=True),
            threading.Thread(target=self._watch, name="openalgo-feed-watchdog", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Close the connection and join the threads (at most ``timeout`` s in all).

        Idempotent. Returns True when every thread has ended.
        """
        self._stopping.set()
        with self._lock:
            conn = self._conn
        if conn is not None:
            conn.kill("stopped", graceful=True)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive() and t is not threading.current_thread()]
        if alive:
            logger.warning("OpenAlgo feed: threads still running after stop: {}", alive)
        return not alive

    @property
    def stats(self) -> FeedStats:
        """A consistent snapshot of the counters."""
        with self._lock:
            return self._stats

    # ----------------------------------------------------------- for _Connection

    def _redact(self, text: str) -> str:
        """``text`` with the API key masked."""
        key = self._key.get_secret_value()
        return text.replace(key, "***") if key else text

    def _count(self, **changes: Any) -> FeedStats:
        """Add to counters (``last_tick_monotonic`` is set, not added); returns the new snapshot."""
        with self._lock:
            values = {k: v if k == "last_tick_monotonic" else getattr(self._stats, k) + v for k, v in changes.items()}
            self._stats = replace(self._stats, **values)
            return self._stats

    def _call(self, name: str, fn: Callable[..., None] | None, *args: Any) -> None:
        """Run a user callback; an exception is logged (rate-limited), never raised."""
        if fn is None:
            return
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - a callback must not kill the feed
            self._log(f"callback:{name}", "ERROR", "OpenAlgo feed: {} callback raised {!r}", name, exc, exc=exc)

    def _auth_frame(self) -> str:
        return json.dumps({"action": "authenticate", "api_key": self._key.get_secret_value()})

    def _subscribe_frame(self) -> str:
        symbols = [{"symbol": s, "exchange": e} for s, e in self._instruments]
        return json.dumps({"action": "subscribe", "symbols": symbols, "mode": QUOTE_MODE})

    # ----------------------------------------------------------------- threads

    def _run(self) -> None:
        failures = 0
        attempt = 0
        while not self._stopping.is_set():
            if attempt:
                self._count(reconnects=1)
            attempt += 1
            conn = _Connection(self)
            self._serve(conn)
            if self._stopping.is_set():
                break
            failures = 0 if conn.ticked else failures
            delay = backoff_delay(failures, **self._backoff)
            failures += 1
            reason = conn.close_reason or "closed"
            if conn.number is not None:
                logger.warning("OpenAlgo feed: connection {} lost ({}); reconnecting in {:.1f}s",
                               conn.number, reason, delay)
                self._call("on_disconnected", self._on_disconnected, reason)
            else:
                logger.warning("OpenAlgo feed: no connection ({}); retrying in {:.1f}s", reason, delay)
            self._stopping.wait(delay)
        logger.info("OpenAlgo feed stopped")

    def _serve(self, conn: _Connection) -> None:
        """One connection from TCP connect to close."""
        try:
            sock = _open_socket(self._url, self._auth_timeout)
        except Exception as exc:  # noqa: BLE001 - any connect failure is retried
            conn.close_reason = self._redact(f"connect failed: {exc}")
            return
        app = WebSocketApp(self._url, on_open=conn.on_open, on_message=conn.on_message, on_error=conn.on_error,
                           on_close=conn.on_close, socket=sock)
        conn.app, conn.sock = app, sock
        with self._lock:
            self._conn = conn
        try:
            if not self._stopping.is_set():
                interval = self._ping_interval
                # UTF-8 is checked by the decode in parse_message (in C); websocket-client's own
                # check is pure Python and was three quarters of this thread's time at 5,000 ticks/s
                app.run_forever(ping_interval=interval, ping_timeout=interval / 2 if interval else None, reconnect=0,
                                skip_utf8_validation=True)
        except Exception as exc:  # noqa: BLE001
            conn.set_reason(f"websocket error: {exc}")
        finally:
            with self._lock:
                self._conn = None
            _close_quietly(sock)

    def _watch(self) -> None:
        interval = max(0.02, min(1.0, self._mute_seconds / 5, self._auth_timeout / 5))
        while not self._stopping.wait(interval):
            try:
                self._check()
            except Exception as exc:  # noqa: BLE001
                self._log("watchdog", "ERROR", "OpenAlgo feed: watchdog check failed: {!r}", exc, exc=exc)

    def _check(self) -> None:
        """Close a connection stuck in the handshake or mute in market hours."""
        with self._lock:
            conn = self._conn
        if conn is None or conn.close_reason is not None or conn.owed_since is not None:
            return
        now = time.monotonic()
        if conn.live_since is None:
            if now - conn.started > self._auth_timeout:
                conn.kill(f"no auth/subscribe answer within {self._auth_timeout:g}s")
            return
        try:
            open_market = bool(self._in_market_hours())
        except Exception as exc:  # noqa: BLE001
            self._log("in_market_hours", "ERROR", "OpenAlgo feed: in_market_hours raised {!r}", exc, exc=exc)
            open_market = True
        if not open_market:
            conn.quiet_since, conn.waited = now, 0.0
            return
        last = max(t for t in (conn.live_since, conn.last_tick, conn.quiet_since) if t is not None)
        if now - last - conn.waited > self._mute_seconds:
            conn.kill(f"mute: no tick for {now - last:.1f}s in market hours")


class _Connection:
    """State of one connection; its ``on_*`` methods are websocket-client callbacks (feed thread)."""

    def __init__(self, feed: MarketFeed) -> None:
        self.feed = feed
        self.started = time.monotonic()
        self.app: WebSocketApp | None = None
        self.sock: socket.socket | None = None
        self.authenticated = False
        self.live_since: float | None = None  # monotonic, when the subscribe ack came
        self.last_tick: float | None = None
        self.quiet_since: float | None = None  # last watchdog check outside market hours
        self.number: int | None = None  # connection number once live
        self.ticked = False
        self.close_reason: str | None = None
        #: monotonic time since when a paced session's ``sim_clock`` step waits for our acknowledgement
        self.owed_since: float | None = None
        #: seconds such steps waited since the last tick (not silence of the server's)
        self.waited = 0.0
        self._lock = threading.Lock()

    def set_reason(self, reason: str) -> None:
        with self._lock:
            if self.close_reason is None:
                self.close_reason = self.feed._redact(reason)

    def kill(self, reason: str, graceful: bool = False) -> None:
        """Close from any thread: the reader wakes at once (socket shut down)."""
        self.set_reason(reason)
        app = self.app
        if app is None:
            return
        app.keep_running = False
        ws = app.sock
        if graceful and ws is not None:
            try:
                ws.send_close()
            except Exception:  # noqa: BLE001 - best effort
                pass
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def on_open(self, app: WebSocketApp) -> None:
        try:
            app.send(self.feed._auth_frame())
        except Exception as exc:  # noqa: BLE001
            self.kill(f"sending authenticate failed: {exc!r}")

    def on_error(self, app: WebSocketApp, exc: Any) -> None:
        self.set_reason(f"{type(exc).__name__}: {exc}")

    def on_close(self, app: WebSocketApp, code: Any, message: Any) -> None:
        self.set_reason(f"closed by server (code {code}{': ' + str(message) if message else ''})")

    def on_message(self, app: WebSocketApp, raw: Any) -> None:
        feed = self.feed
        try:
            self._handle(app, parse_message(raw, feed._symbols, feed._now()))
        except Exception as exc:  # noqa: BLE001 - one bad frame never kills the feed
            feed._log("handler", "ERROR", "OpenAlgo feed: error handling a frame: {!r}", exc, exc=exc)

    def _handle(self, app: WebSocketApp, event: Any) -> None:
        feed = self.feed
        match event:
            case TickReceived(tick=tick):
                now = time.monotonic()
                self.last_tick, self.ticked, self.waited = now, True, 0.0
                feed._count(ticks=1, last_tick_monotonic=now)
                feed._call("on_tick", feed._on_tick, tick)
            case OrderUpdateReceived(update=update):
                feed._count(order_updates=1)
                feed._call("on_order_update", feed._on_order_update, update)
            case SimClockStep(time=moment, seq=seq) if feed._on_sim_clock is not None:
                self.owed_since = time.monotonic()
                feed._call("on_sim_clock", feed._on_sim_clock, moment, lambda: self.acknowledge(app, seq))
            case PaceAck(ok=ok, message=message) if feed._on_sim_clock is not None:
                if ok:
                    logger.info("OpenAlgo feed: the simulator paces its clock to this client")
                else:
                    logger.warning("OpenAlgo feed: the simulator refused to pace its clock: {}", message)
            case AuthResult(ok=True) if not self.authenticated:
                self.authenticated = True
                app.send(feed._subscribe_frame())
            case AuthResult(ok=False, code=code, message=message):
                logger.error("OpenAlgo feed: authentication refused ({}): {}", code, feed._redact(message))
                self.kill(f"authentication refused ({code})", graceful=True)
            case SubscribeAck() if self.authenticated and self.live_since is None:
                self._subscribed(app, event)
            case OrdersAck(ok=ok, message=message):
                if ok:
                    logger.info("OpenAlgo feed: order updates subscribed")
                else:
                    logger.warning("OpenAlgo feed: no order updates ({}); fills come from polling", message)
            case FeedError(code=code, message=message):
                feed._count(errors=1)
                feed._log(f"error:{code}", "WARNING", "OpenAlgo feed: server error {}: {}", code, message)
            case Malformed(reason=reason, snippet=snippet):
                feed._count(malformed=1)
                feed._log("malformed", "WARNING", "OpenAlgo feed: malformed frame ignored ({}): {}", reason, snippet)
            case Unsubscribed(symbol=symbol):
                feed._count(unsubscribed=1)
                feed._log("unsubscribed", "INFO", "OpenAlgo feed: tick for unsubscribed symbol {} ignored", symbol)
            case Unexpected(kind=kind, snippet=snippet):
                feed._count(unexpected=1)
                feed._log("unexpected", "INFO", "OpenAlgo feed: unexpected {!r} frame ignored: {}", kind, snippet)
            case _:  # a repeated auth answer or ack
                feed._count(unexpected=1)
                feed._log("unexpected", "INFO", "OpenAlgo feed: unexpected {} ignored", type(event).__name__)

    def acknowledge(self, app: WebSocketApp, seq: int) -> None:
        """Acknowledge a paced session's clock step ``seq`` (any thread; nothing once closed)."""
        if self.close_reason is not None:
            return
        if self.owed_since is not None:
            self.waited += time.monotonic() - self.owed_since
            self.owed_since = None
        try:
            app.send(json.dumps({"action": "sim_ack", "seq": seq}))
        except Exception as exc:  # noqa: BLE001 - the connection is going; the reader notices
            self.set_reason(f"sending sim_ack failed: {exc!r}")

    def _subscribed(self, app: WebSocketApp, ack: SubscribeAck) -> None:
        feed = self.feed
        if not ack.ok:
            logger.error("OpenAlgo feed: subscribe refused ({}): {}", ack.status, ack.message)
            self.kill(f"subscribe refused ({ack.status})", graceful=True)
            return
        if ack.status == "partial":
            failed = [
                str(sub.get("symbol"))
                for sub in ack.subscriptions
                if isinstance(sub, dict) and str(sub.get("status", "")).lower() == "error"
            ]
            logger.warning(
                "OpenAlgo feed: {} of {} subscriptions refused: {}", len(failed), len(ack.subscriptions), ", ".join(failed)
            )
        self.live_since = time.monotonic()
        self.number = feed._count(connections=1).connections
        logger.info("OpenAlgo feed: connection {} live, {} instruments", self.number, len(feed._instruments))
        if feed._subscribe_orders:
            app.send(json.dumps({"action": "subscribe_orders"}))
        feed._call("on_connected", feed._on_connected, self.number)
        if feed._on_sim_clock is not None:
            app.send(json.dumps({"action": "sim_pace"}))


def _open_socket(url: str, timeout: float) -> socket.socket:
    """A connected TCP (TLS for wss) socket; ``timeout`` bounds connect and each later socket operation."""
    parts = urlsplit(url)
    secure = parts.scheme == "wss"
    host = parts.hostname or "localhost"
    sock = socket.create_connection((host, parts.port or (443 if secure else 80)), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if secure:
        sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
    return sock


def _close_quietly(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass
