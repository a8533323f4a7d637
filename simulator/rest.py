"""The simulator's REST API: OpenAlgo v2 endpoints and their reply shapes.

``POST /api/v1/<endpoint>`` with a JSON body carrying the key as ``apikey``:
ping, analyzer, analyzer/toggle, funds, placeorder, modifyorder,
cancelorder, cancelallorder, orderstatus, orderbook, tradebook,
positionbook, closeposition, openposition, margin, telegram/notify (here) and
quotes, multiquotes, search, history (``1m`` and ``D``), intervals, expiry,
symbol (:mod:`simulator.data_endpoints`).

Validation follows the real server (:mod:`simulator.validation`): unknown or
malformed fields → 400 whose ``message`` is the marshmallow error dict as a
string (e.g. ``"{'foo': ['Unknown field.']}"``); bad or missing ``apikey`` →
403 ``Invalid openalgo apikey``; unknown order → 404; cancel/modify of a
final order → 400 ``Cannot cancel order in complete status``; a broker
reject (:class:`~broker.base.OrderRejected`) → 400 with its message. Rate
limits (429) and unknown endpoints (404) are answered by the server before
a request gets here. In analyzer mode every reply carries ``"mode":
"analyze"``, order-status rows say ``price_type`` and timestamps are
``YYYY-MM-DD HH:MM:SS``; in live mode rows say ``pricetype``, timestamps are
``DD-Mon-YYYY HH:MM:SS`` and some numbers are strings (as real brokers send
them). Prices are rupees, quantities contracts. Analyzer mode refuses MIS
orders that open or add to a position outside 09:00–15:15 IST.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from datetime import time as dtime
from typing import Any

from loguru import logger

from broker.base import NotFound, OrderNotCancellable, OrderRejected, OrderRequest, OrderSnapshot
from broker.simulated import SimulatedBroker
from messages.base import IST
from simulator import data_endpoints
from simulator.clock import SimClock
from simulator.faults import Faults
from simulator.ledger import FillTotals, OrderLedger, OrderMeta
from simulator.market import MarketData
from simulator.quotes import QuoteBoard, listed
from simulator.replies import BROKER_NAME, Reply, error
from simulator.validation import validate_body

#: MIS orders that open or add to a position are refused outside this window in analyzer mode.
MIS_OPEN = dtime(9, 0)
MIS_SQUARE_OFF = dtime(15, 15)

Handler = Callable[[dict[str, Any]], Awaitable[Reply]]


#: The simulator's margin for a short option: this share of its strike's notional (NIFTY's SPAN + exposure, about 8 %).
SHORT_MARGIN = 0.08


class RestApi:
    """Answers validated REST requests against the broker, the order ledger and the market.

    Owns the analyzer state (:attr:`analyze_mode`, :attr:`total_logs`) and the
    :attr:`notifications` sent with ``telegram/notify``. ``hold(seconds)``
    delays a reply (the ``place_timeouts`` fault) until the seconds pass or
    the server stops.
    """

    def __init__(
        self,
        *,
        market: MarketData,
        broker: SimulatedBroker,
        clock: SimClock,
        quotes: QuoteBoard,
        ledger: OrderLedger,
        faults: Faults,
        api_key: str,
        analyze_mode: bool,
        funds: float,
        hold: Callable[[float], Awaitable[None]],
    ) -> None:
        self.market = market
        self.broker = broker
        self.clock = clock
        self.quotes = quotes
        self.ledger = ledger
        self.faults = faults
        self.api_key = api_key
        self.analyze_mode = analyze_mode
        self.funds = funds
        self.total_logs = 0
        self.notifications: list[dict[str, Any]] = []
        self._hold = hold
        self._handlers: dict[str, Handler] = {
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
            "quotes": self._market_reader(lambda d: data_endpoints.quotes(self.market, self.quotes, d)),
            "multiquotes": self._market_reader(lambda d: data_endpoints.multiquotes(self.market, self.quotes, d)),
            "search": self._market_reader(lambda d: data_endpoints.search(self.market, d)),
            "history": self._market_reader(lambda d: data_endpoints.history(self.market, self.clock.now(), d)),
            "intervals": self._market_reader(data_endpoints.intervals),
            "expiry": self._market_reader(lambda d: data_endpoints.expiry(self.market, d)),
            "symbol": self._market_reader(lambda d: data_endpoints.symbol(self.market, d)),
            "telegram/notify": self._telegram,
            "margin": self._margin,
        }

    @staticmethod
    def _market_reader(answer: Callable[[dict[str, Any]], Reply]) -> Handler:
        async def handler(d: dict[str, Any]) -> Reply:
            return answer(d)

        return handler

    def knows(self, endpoint: str) -> bool:
        """Whether ``endpoint`` (the path after ``/api/v1/``) is served."""
        return endpoint in self._handlers

    async def answer(self, endpoint: str, body: Any) -> Reply:
        """Validate ``body`` for a known ``endpoint``, check the key and run the endpoint."""
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
            self.total_logs += 1
        status, payload = await self._handlers[endpoint](data)
        return self._tag(endpoint, status, payload)

    def _tag(self, endpoint: str, status: int, payload: dict[str, Any]) -> Reply:
        if self.analyze_mode and not endpoint.startswith("analyzer"):
            payload["mode"] = "analyze"
        return status, payload

    def stamp(self, moment: datetime | None) -> str:
        """``moment`` (default: simulated now) as the current mode writes timestamps."""
        moment = (moment or self.clock.now()).astimezone(IST)
        return moment.strftime("%Y-%m-%d %H:%M:%S" if self.analyze_mode else "%d-%b-%Y %H:%M:%S")

    # --- account endpoints -------------------------------------------------------------------------
    async def _ping(self, data: dict[str, Any]) -> Reply:
        return 200, {"status": "success", "data": {"broker": BROKER_NAME, "message": "pong"}}

    def _analyzer_data(self) -> dict[str, Any]:
        return {
            "analyze_mode": self.analyze_mode,
            "mode": "analyze" if self.analyze_mode else "live",
            "total_logs": self.total_logs,
        }

    async def _analyzer(self, data: dict[str, Any]) -> Reply:
        return 200, {"status": "success", "data": self._analyzer_data()}

    async def _analyzer_toggle(self, data: dict[str, Any]) -> Reply:
        self.analyze_mode = bool(data["mode"])
        body = self._analyzer_data()
        body["message"] = f"Analyzer mode switched to {body['mode']}"
        return 200, {"status": "success", "data": body}

    def _pnl(self) -> tuple[float, float, float]:
        """(realized, unrealized, utilised margin) rupees over all symbols."""
        realized = unrealized = utilised = 0.0
        positions = {p.symbol: p for p in self.broker.position_book()}
        for symbol, totals in self.ledger.totals().items():
            pos = positions.get(symbol)
            net = totals.buy_qty - totals.sell_qty
            quote = self.quotes.get(symbol)
            ltp = quote.ltp if quote and quote.ltp else (pos.average_price if pos else 0.0)
            total = totals.sell_value - totals.buy_value + net * ltp
            open_pnl = net * (ltp - pos.average_price) if pos and net else 0.0
            realized += total - open_pnl
            unrealized += open_pnl
            if pos and net:
                utilised += abs(net) * pos.average_price
        return realized, unrealized, utilised

    async def _funds(self, data: dict[str, Any]) -> Reply:
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

    async def _margin(self, d: dict[str, Any]) -> Reply:
        """A stand-in for the broker's SPAN + exposure: a short option needs :data:`SHORT_MARGIN` of its
        strike's notional (strike × quantity), a long one its premium (last price × quantity)."""
        span = exposure = 0.0
        for position in d["positions"]:
            inst = listed(self.market, position["symbol"], position["exchange"])
            if inst is None:
                return error(400, f"Invalid symbol: {position['symbol']} on exchange: {position['exchange']}")
            try:
                quantity = float(position["quantity"])
            except ValueError:
                quantity = -1.0
            if quantity <= 0:
                return error(400, "Quantity must be a positive number")
            if position["action"].upper() == "SELL" and inst.strike is not None:
                span += SHORT_MARGIN * 0.7 * inst.strike * quantity
                exposure += SHORT_MARGIN * 0.3 * inst.strike * quantity
            else:
                quote = self.quotes.get(inst.symbol)
                span += (quote.ltp if quote is not None else 0.0) * quantity
        return 200, {"status": "success", "data": {
            "total_margin_required": round(span + exposure, 2), "span_margin": round(span, 2),
            "exposure_margin": round(exposure, 2)}}

    async def _telegram(self, d: dict[str, Any]) -> Reply:
        note = {"username": d["username"], "message": d["message"], "priority": d.get("priority", 5)}
        self.notifications.append(note)
        logger.info("simulator telegram/notify to {} (priority {}): {}", note["username"], note["priority"], note["message"])
        return 200, {"status": "success", "message": "Notification sent successfully"}

    # --- order endpoints ---------------------------------------------------------------------------
    def _position_qty(self, symbol: str) -> int:
        for row in self.broker.position_book():
            if row.symbol == symbol:
                return row.quantity
        return 0

    def _symbol_meta(self, symbol: str) -> OrderMeta:
        """Exchange and product of a symbol's position: those of its first order."""
        inst = self.market.instruments.get(symbol)
        return self.ledger.symbol_meta(symbol, self.broker.order_book(), inst.exchange if inst else "NFO")

    async def _placeorder(self, d: dict[str, Any]) -> Reply:
        symbol, exchange, action = d["symbol"], d["exchange"], d["action"]
        inst = listed(self.market, symbol, exchange)
        if inst is None:
            return error(400, f"Symbol {symbol} not found on {exchange}")
        if inst.exchange == "NSE_INDEX":
            return error(400, f"Index {symbol} cannot be traded")
        if self.analyze_mode and d["product"] == "MIS":
            now = self.clock.now().astimezone(IST).time()
            if not MIS_OPEN <= now < MIS_SQUARE_OFF:
                held = self._position_qty(symbol)
                reducing = (action == "BUY" and held < 0) or (action == "SELL" and held > 0)
                if not reducing:
                    return error(
                        400,
                        f"MIS orders cannot be placed after square-off time ({MIS_SQUARE_OFF:%H:%M} IST). "
                        "Trading resumes at 09:00 AM IST.",
                    )
        rms = self.faults.draw_reject()
        if rms is not None:
            return error(400, rms)
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
            meta = OrderMeta(exchange=exchange, product=d["product"], strategy=d["strategy"], placed_at=self.clock.now())
            orderid = self.broker.place_order(request)
        except OrderRejected as exc:
            return error(400, str(exc))
        self.ledger.remember(orderid, meta)
        if self.faults.take_place_timeout():
            await self._hold(self.faults.timeout_hold_s)
        return 200, {"status": "success", "orderid": orderid}

    async def _modifyorder(self, d: dict[str, Any]) -> Reply:
        orderid = d["orderid"]
        if d["quantity"] != int(d["quantity"]):  # a body naming CRYPTO passes the schema; our orders are NFO
            return error(400, f"Fractional quantity ({d['quantity']}) is not allowed for non-crypto exchanges.")
        try:
            held = self.broker.order_status(orderid)
            # as the real server: only quantity, price and trigger price are applied; a changed
            # pricetype, action or product is ignored and still answered with a 200
            placed = OrderRequest(
                symbol=held.symbol, action=held.action, quantity=held.quantity, pricetype=held.pricetype,
                price=held.price, trigger_price=held.trigger_price,
            )
            self.broker.modify_order(orderid, placed, d["quantity"], d["price"], d["trigger_price"])
        except NotFound:
            return error(404, f"Order {orderid} not found")
        except OrderNotCancellable as exc:
            return error(400, f"Cannot modify order in {exc.status} status")
        except OrderRejected as exc:
            return error(400, str(exc))
        body: dict[str, Any] = {"status": "success", "orderid": orderid}
        if self.analyze_mode:
            body["message"] = "Order modified successfully"
        return 200, body

    async def _cancelorder(self, d: dict[str, Any]) -> Reply:
        orderid = d["orderid"]
        try:
            self.broker.cancel_order(orderid)
        except NotFound:
            return error(404, f"Order {orderid} not found")
        except OrderNotCancellable as exc:
            return error(400, f"Cannot cancel order in {exc.status} status")
        body: dict[str, Any] = {"status": "success", "orderid": orderid}
        if self.analyze_mode:
            body["message"] = "Order cancelled successfully"
        return 200, body

    async def _cancelallorder(self, d: dict[str, Any]) -> Reply:
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
        meta = self.ledger.meta(s.orderid)
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
            "timestamp": self.stamp(meta.placed_at or s.timestamp),
            "trigger_price": s.trigger_price,
        }
        if self.analyze_mode:
            row["pending_quantity"] = s.quantity - s.filled_quantity if s.status in ("open", "trigger pending") else 0
            row["strategy"] = meta.strategy
        return row

    async def _orderstatus(self, d: dict[str, Any]) -> Reply:
        try:
            snap = self.broker.order_status(d["orderid"])
        except NotFound:
            return error(404, f"Order {d['orderid']} not found")
        return 200, {"status": "success", "data": self._order_row(snap, status_form=True)}

    async def _orderbook(self, d: dict[str, Any]) -> Reply:
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

    async def _tradebook(self, d: dict[str, Any]) -> Reply:
        trades = self.ledger.trades()
        rows = []
        for t in reversed(trades):
            row = {k: v for k, v in t.items() if k != "time"}
            row["timestamp"] = self.stamp(t["time"])
            rows.append(row)
        return 200, {"status": "success", "data": rows}

    async def _positionbook(self, d: dict[str, Any]) -> Reply:
        rows = []
        totals_by_symbol = self.ledger.totals()
        for p in self.broker.position_book():
            totals = totals_by_symbol.get(p.symbol, FillTotals())
            quote = self.quotes.get(p.symbol)
            ltp = quote.ltp if quote else 0.0
            pnl = totals.sell_value - totals.buy_value + p.quantity * ltp
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

    async def _closeposition(self, d: dict[str, Any]) -> Reply:
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
            meta = OrderMeta(exchange=held.exchange, product=held.product, strategy=d["strategy"], placed_at=self.clock.now())
            try:
                orderid = self.broker.place_order(request)
            except OrderRejected as exc:
                logger.warning("simulator: closeposition of {} refused: {}", p.symbol, exc)
                continue
            self.ledger.remember(orderid, meta)
        return 200, {"status": "success", "message": "All Open Positions SquaredOff"}

    async def _openposition(self, d: dict[str, Any]) -> Reply:
        qty = self._position_qty(d["symbol"]) if listed(self.market, d["symbol"], d["exchange"]) else 0
        return 200, {"status": "success", "quantity": qty}

