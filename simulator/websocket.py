"""The simulator's WebSocket feed: OpenAlgo's streaming protocol on ``ws://127.0.0.1:<ws_port>`` (any path).

``{"action": "authenticate", "api_key": K}`` within ``auth_timeout`` s (else
close code 4401) → ``{"type": "auth", "status": "success", ...}`` or
``{"status": "error", "code": "AUTHENTICATION_ERROR", "message": ...}``.
``subscribe`` (``symbols`` list or single ``symbol``/``exchange``, mode
1/2/3 or LTP/Quote/Depth) → ``{"type": "subscribe", "status": "success" |
"partial", "subscriptions": [...]}``; ``unsubscribe``/``unsubscribe_all``;
ticks as ``{"type": "market_data", "symbol", "exchange", "mode", "broker",
"data": {...}}`` (see :func:`simulator.quotes.market_frame`), each client
getting the highest mode it subscribed the symbol with;
``{"action": "subscribe_orders"}`` → later ``{"type": "order_update",
"orderid", "order_status", "filled_quantity", "average_price", ...}`` on
every order state change. ``{"action": "ping"}`` → ``{"type": "pong", ...}``.

Paced sessions (simulator only, not OpenAlgo): when the hub is ``paced``, a
client may send ``{"action": "sim_pace"}`` (→ ``{"type": "sim_pace",
"status": "success"}`` and ``{"type": "sim_clock", "time": now, "seq": 0}``,
the clock as it stands, which needs no answer; without pacing it is an
``INVALID_ACTION`` error as on the real server). From then on the simulated
clock waits for it: each step of the clock ends with ``{"type": "sim_clock",
"time": ISO 8601, "seq": n}`` after that step's frames, and the next step
begins only when the client has answered ``{"action": "sim_ack", "seq": n}``
(:meth:`WsHub.sync`).

Protocol pings go out every ``heartbeat`` s (aiohttp's heartbeat, which also
answers the client's pings); a client that does not answer one within half
that is dropped without a close frame, and so is one whose send queue grows
past :data:`MAX_CLIENT_QUEUE` frames (a slow consumer).
Faults: ``ws_drop`` drops every connection without a close frame
(:meth:`WsHub.drop_all`); while ``ws_mute`` is on, market frames are
swallowed but replies and order updates still go out.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import WSMsgType, web
from loguru import logger

from broker.base import OrderSnapshot
from simulator.faults import Faults
from simulator.ledger import OrderLedger
from simulator.market import MarketData, SimTick
from simulator.quotes import Quote, listed, market_frame
from simulator.replies import BROKER_NAME

MODE_LABELS = {1: "LTP", 2: "Quote", 3: "Depth"}

#: A WebSocket client whose send queue grows past this is dropped (slow consumer).
MAX_CLIENT_QUEUE = 20_000
#: A paced client that does not acknowledge a clock step within this many (real) seconds is dropped
#: (longer than the trader's own patience with a busy actor graph, live.pacing.QUIET_TIMEOUT).
ACK_TIMEOUT = 300.0


@dataclass(eq=False)
class WsClient:
    """One connection: its send queue, authentication, subscriptions and tasks."""

    ws: web.WebSocketResponse
    transport: Any
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    authenticated: bool = False
    orders: bool = False
    subs: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    tasks: list[asyncio.Task] = field(default_factory=list)
    closed: bool = False
    #: the simulated clock waits for this client (``sim_pace``)
    paced: bool = False
    #: frames queued so far
    sent: int = 0
    #: the last ``sim_clock`` step sent, and the future its ``sim_ack`` resolves
    seq: int = 0
    ack: asyncio.Future | None = None

    def send(self, frame: str, market: bool = False) -> None:
        if self.closed:
            return
        if self.queue.qsize() >= MAX_CLIENT_QUEUE:
            logger.warning("simulator: dropping slow WebSocket client ({} frames queued)", self.queue.qsize())
            self.abort()
            return
        self.sent += 1
        self.queue.put_nowait((market, frame))

    def acknowledge(self, seq: Any) -> None:
        """A ``sim_ack``: resolves the wait for step ``seq`` (a stale or unknown one is ignored)."""
        if seq == self.seq:
            self.release()

    def release(self) -> None:
        """End the wait for the current step's acknowledgement (it came, or the connection is gone)."""
        if self.ack is not None and not self.ack.done():
            self.ack.set_result(None)

    def abort(self) -> None:
        """Drop the connection without a close frame (like a network failure)."""
        self.closed = True
        self.release()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


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


def _requested(data: dict[str, Any]) -> list[dict[str, Any]]:
    symbols = data.get("symbols") or []
    if not symbols and data.get("symbol") and data.get("exchange"):
        symbols = [{"symbol": data["symbol"], "exchange": data["exchange"]}]
    return [s for s in symbols if isinstance(s, dict)]


class WsHub:
    """The connected clients and everything sent to them. Runs on the server's event loop.

    ``market`` says which symbols can be subscribed, ``ledger`` gives an
    order's exchange/product/strategy for order updates and ``stamp`` writes
    their timestamps. :attr:`logins` counts successful authentications (one
    per connection).
    """

    def __init__(
        self,
        *,
        market: MarketData,
        ledger: OrderLedger,
        faults: Faults,
        api_key: str,
        heartbeat: float,
        auth_timeout: float,
        stamp: Callable[[datetime | None], str],
        paced: bool = False,
        ack_timeout: float = ACK_TIMEOUT,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.market = market
        self.ledger = ledger
        self.faults = faults
        self.api_key = api_key
        self.heartbeat = heartbeat
        self.auth_timeout = auth_timeout
        self.stamp = stamp
        self.clients: set[WsClient] = set()
        self.logins = 0
        self.paced = paced
        self.ack_timeout = ack_timeout
        self._now = now
        #: set while at least one paced client is connected (created on the loop, see :meth:`wait_for_paced`)
        self._paced_present: asyncio.Event | None = None

    # --- pacing ------------------------------------------------------------------------------------
    def _paced_event(self) -> asyncio.Event:
        if self._paced_present is None:
            self._paced_present = asyncio.Event()
        return self._paced_present

    def _paced_changed(self) -> None:
        event = self._paced_event()
        if any(c.paced and not c.closed for c in self.clients):
            event.set()
        else:
            event.clear()

    async def wait_for_paced(self) -> None:
        """Return once at least one paced client is connected."""
        await self._paced_event().wait()

    async def sync(self, sim_time: datetime) -> None:
        """End a clock step: every paced client has handled everything sent to it, up to ``sim_time``.

        Each paced client gets ``sim_clock`` (``sim_time``, a new ``seq``) and
        is waited for; if anything else was sent to it meanwhile (order
        updates caused by its own requests), it gets another ``sim_clock`` for
        the same time, until a step passes with nothing new. A client that
        does not answer within ``ack_timeout`` real seconds is dropped. With
        no paced client connected it returns at once.
        """
        paced = [c for c in self.clients if c.paced and not c.closed]
        if not paced:
            await asyncio.sleep(0)  # nobody to wait for: still let the server answer between steps
        elif len(paced) == 1:
            await self._settle(paced[0], sim_time)
        else:
            await asyncio.gather(*(self._settle(c, sim_time) for c in paced))

    async def _settle(self, client: WsClient, sim_time: datetime) -> None:
        stamp = sim_time.isoformat()
        while not client.closed:
            client.seq += 1
            client.ack = asyncio.get_running_loop().create_future()
            client.send(json.dumps({"type": "sim_clock", "time": stamp, "seq": client.seq}))
            mark = client.sent
            try:
                async with asyncio.timeout(self.ack_timeout):
                    await client.ack
            except TimeoutError:
                logger.warning("simulator: paced client did not acknowledge {} within {} s; dropping it", stamp, self.ack_timeout)
                client.abort()
                return
            if client.sent == mark:
                return

    # --- pushed to clients -----------------------------------------------------------------------
    def broadcast(self, tick: SimTick, quote: Quote) -> None:
        """Send ``tick`` to every authenticated client subscribed to its symbol."""
        key = (tick.symbol, tick.exchange)
        frames: dict[int, str] = {}
        for client in list(self.clients):
            if not client.authenticated:
                continue
            modes = client.subs.get(key)
            if not modes:
                continue
            mode = max(modes)
            frame = frames.get(mode)
            if frame is None:
                frame = frames[mode] = json.dumps(market_frame(tick, quote, mode))
            client.send(frame, market=True)

    def push_order_update(self, s: OrderSnapshot) -> None:
        """Send the order's new state to every client that subscribed to order updates."""
        targets = [c for c in self.clients if c.authenticated and c.orders]
        if not targets:
            return
        meta = self.ledger.meta(s.orderid)
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
                "timestamp": self.stamp(s.timestamp),
                "strategy": meta.strategy,
                "broker": BROKER_NAME,
            }
        )
        for client in targets:
            client.send(frame)

    def drop_all(self) -> None:
        """Drop every connection without a close frame (the ``ws_drop`` fault)."""
        for client in list(self.clients):
            client.abort()

    async def close_all(self) -> None:
        """Close every connection with code 1001 (server shutdown) and wait for its tasks."""
        clients = list(self.clients)
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

    # --- one connection ----------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """Serve one connection until it closes (aiohttp handler for every path)."""
        ws = web.WebSocketResponse(heartbeat=self.heartbeat, timeout=2.0, max_msg_size=1 << 20)
        await ws.prepare(request)
        client = WsClient(ws=ws, transport=request.transport)
        self.clients.add(client)
        client.tasks = [
            asyncio.create_task(self._writer(client)),
            asyncio.create_task(self._auth_deadline(client)),
        ]
        try:
            while True:
                msg = await ws.receive()
                if msg.type == WSMsgType.TEXT:
                    self._on_message(client, msg.data)
                elif msg.type == WSMsgType.BINARY:
                    self._send_error(client, "INVALID_JSON", "Invalid JSON message")
                else:  # CLOSE, CLOSING, CLOSED, ERROR (a ping not answered in time)
                    if isinstance(ws.exception(), asyncio.TimeoutError):
                        logger.info("simulator: WebSocket client did not answer a ping; dropping it ({})", ws.exception())
                    break
        except (ConnectionError, RuntimeError):
            pass
        finally:
            client.closed = True
            client.release()
            self.clients.discard(client)
            if client.paced:
                self._paced_changed()
            for task in client.tasks:
                if task is not asyncio.current_task():
                    task.cancel()
            await asyncio.gather(*client.tasks, return_exceptions=True)
        return ws

    async def _writer(self, client: WsClient) -> None:
        try:
            while True:
                market, frame = await client.queue.get()
                if market and self.faults.ws_muted():
                    continue
                await client.ws.send_str(frame)
        except (ConnectionError, RuntimeError):
            client.abort()

    async def _auth_deadline(self, client: WsClient) -> None:
        await asyncio.sleep(self.auth_timeout)
        if not client.authenticated and not client.ws.closed:
            logger.info("simulator: WebSocket client did not authenticate within {} s", self.auth_timeout)
            await client.ws.close(code=4401, message=b"auth timeout")

    def _send_json(self, client: WsClient, payload: dict[str, Any]) -> None:
        client.send(json.dumps(payload))

    def _send_error(self, client: WsClient, code: str, message: str) -> None:
        self._send_json(client, {"status": "error", "code": code, "message": message})

    def _on_message(self, client: WsClient, text: str) -> None:
        try:
            data = json.loads(text)
        except ValueError:
            self._send_error(client, "INVALID_JSON", "Invalid JSON message")
            return
        if not isinstance(data, dict):
            self._send_error(client, "INVALID_JSON", "Invalid JSON message")
            return
        action = data.get("action") or data.get("type")
        if action in ("authenticate", "auth"):
            self._authenticate(client, data)
        elif action == "ping":
            pong: dict[str, Any] = {"type": "pong", "status": "success", "server_timestamp": int(time.time() * 1000)}
            if data.get("timestamp") is not None:
                pong["client_timestamp"] = data["timestamp"]
            self._send_json(client, pong)
        elif action == "sim_ack" and self.paced:
            client.acknowledge(data.get("seq"))
        elif action == "sim_pace" and self.paced:
            if not client.authenticated:
                self._send_error(client, "NOT_AUTHENTICATED", "You must authenticate first")
                return
            client.paced = True
            self._paced_changed()
            self._send_json(client, {"type": "sim_pace", "status": "success", "message": "The simulated clock waits for this client"})
            if self._now is not None:
                # where the clock stands (it may have run on while this client was away): seq 0 needs no answer
                self._send_json(client, {"type": "sim_clock", "time": self._now().isoformat(), "seq": 0})
        elif action in ("subscribe", "unsubscribe", "unsubscribe_all", "subscribe_orders", "unsubscribe_orders"):
            if not client.authenticated:
                self._send_error(client, "NOT_AUTHENTICATED", "You must authenticate first")
            elif action == "subscribe":
                self._subscribe(client, data)
            elif action == "subscribe_orders":
                client.orders = True
                self._send_json(client, {"type": "subscribe_orders", "status": "success", "message": "Subscribed to order updates", "broker": BROKER_NAME})
            elif action == "unsubscribe_orders":
                client.orders = False
                self._send_json(client, {"type": "unsubscribe_orders", "status": "success", "message": "Unsubscribed from order updates", "broker": BROKER_NAME})
            else:
                self._unsubscribe(client, data, all_=action == "unsubscribe_all")
        else:
            self._send_error(client, "INVALID_ACTION", f"Invalid action: {action}")

    def _authenticate(self, client: WsClient, data: dict[str, Any]) -> None:
        key = data.get("api_key") or data.get("apikey")
        if not key:
            self._send_error(client, "AUTHENTICATION_ERROR", "API key is required")
            return
        if key != self.api_key:
            self._send_error(client, "AUTHENTICATION_ERROR", "Invalid API key")
            return
        client.authenticated = True
        self.logins += 1
        self._send_json(
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

    def _subscribe(self, client: WsClient, data: dict[str, Any]) -> None:
        mode = _mode(data.get("mode", 2))
        if mode is None:
            self._send_error(client, "INVALID_MODE", f"Invalid mode: {data.get('mode')!r}")
            return
        symbols = _requested(data)
        if not symbols:
            self._send_error(client, "INVALID_PARAMETERS", "At least one symbol must be specified")
            return
        results = []
        ok = True
        for item in symbols:
            symbol, exchange = item.get("symbol"), item.get("exchange")
            if not symbol or not exchange:
                continue
            if listed(self.market, symbol, exchange) is None:
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
        self._send_json(client, reply)

    def _unsubscribe(self, client: WsClient, data: dict[str, Any], all_: bool) -> None:
        done: list[dict[str, Any]] = []
        if all_:
            done = [{"symbol": s, "exchange": e, "status": "success", "broker": BROKER_NAME} for (s, e) in client.subs]
            client.subs.clear()
        else:
            symbols = _requested(data)
            if not symbols:
                self._send_error(client, "INVALID_PARAMETERS", "Either symbols or unsubscribe_all is required")
                return
            for item in symbols:
                key = (item.get("symbol"), item.get("exchange"))
                mode = _mode(item.get("mode", data.get("mode", 2))) or 2
                modes = client.subs.get(key)  # type: ignore[arg-type]
                if modes is not None:
                    modes.discard(mode)
                    if not modes:
                        del client.subs[key]  # type: ignore[arg-type]
                done.append({"symbol": key[0], "exchange": key[1], "status": "success", "broker": BROKER_NAME})
        self._send_json(
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
