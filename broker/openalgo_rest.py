"""The OpenAlgo REST client: :class:`broker.base.Broker` plus the data and account calls.

One ``POST {host}/api/v1/<endpoint>`` per call, JSON body with the API key
inside as ``apikey``, over one pooled :class:`requests.Session`, with a
connect and a read time-out on every call. No retries and no throttling here:
:class:`broker.gateway.BrokerGateway` does both.

Errors (all :class:`broker.base.BrokerError`):

======================================================  ==========================
no connection, reset, time-out, unusable 2xx body        :class:`TransportError`
  … or NaN, ±infinity, a negative price or quantity      :class:`TransportError`
HTTP 400, or a 2xx with ``"status": "error"``           :class:`OrderRejected`
  … on cancel/modify, naming a final order status       :class:`OrderNotCancellable`
HTTP 401, 403 (bad key, broker not logged in)           :class:`AuthError`
HTTP 404 (order or symbol unknown)                       :class:`NotFound`
HTTP 429 (``"10 per 1 second"``)                         :class:`RateLimited`
HTTP 5xx                                                 :class:`ServerError`
any other 4xx                                            :class:`OrderRejected`
======================================================  ==========================

The API key never appears in a log line, an exception message or a ``repr``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable
from datetime import date
from typing import Any, NoReturn, TypeVar

import requests
from loguru import logger
from pydantic import BaseModel, SecretStr, ValidationError

from broker.base import (
    AuthError,
    BrokerError,
    NotFound,
    OrderNotCancellable,
    OrderRejected,
    OrderRequest,
    OrderSnapshot,
    PositionRow,
    RateLimited,
    ServerError,
    TransportError,
)
from broker.schemas import (
    BAD_NUMBER,
    AnalyzerState,
    AnalyzerToggleRequest,
    ApiKeyRequest,
    Candle,
    DataReply,
    Envelope,
    ExpiryRequest,
    Funds,
    HistoryRequest,
    ListReply,
    Margin,
    MarginPosition,
    MarginRequest,
    MessageResult,
    ModifyOrderRequest,
    MultiQuoteResult,
    MultiQuotesReply,
    MultiQuotesRequest,
    NotifyResult,
    OpenAlgoRequest,
    OrderBookReply,
    OrderIdReply,
    OrderIdRequest,
    OrderRow,
    PingInfo,
    PlaceOrderRequest,
    PositionBookRow,
    Quote,
    QuoteRequest,
    SearchRequest,
    StrategyRequest,
    SymbolInfo,
    SymbolRef,
    TelegramNotifyRequest,
    TradeRow,
    parse_expiry,
    readable_message,
)

R = TypeVar("R", bound=BaseModel)

_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}

#: How much of a non-JSON error body goes into an exception message.
_SNIPPET = 200

#: Telegram answers that mean "not delivered" rather than "the system is broken".
_TELEGRAM_SOFT_FAILURES = frozenset({400, 401, 404, 409})

# A final status named in a cancel/modify refusal. The verb of the refused
# action is removed first, so "Order cannot be cancelled as it is being
# processed" names no status, while "Cannot cancel order in complete status"
# names "complete".
_REFUSED_ACTION = re.compile(
    r"\b(?:cannot|can\s*not|can't|could\s*not|couldn't|unable\s+to|failed\s+to|not\s+able\s+to|not)"
    r"\s+(?:be\s+)?(?:cancel(?:l?ed|ling|ing)?|modif(?:y|ied|ying)|complete[d]?|reject(?:ed)?)\b",
    re.IGNORECASE,
)
_FINAL_WORD = re.compile(r"\b(complete|completed|cancelled|canceled|rejected)\b", re.IGNORECASE)
_FINAL_STATUS = {
    "complete": "complete",
    "completed": "complete",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "rejected": "rejected",
}


def final_status_named(message: str) -> str | None:
    """The final order status (``complete``/``cancelled``/``rejected``) a refusal names, or None."""
    match = _FINAL_WORD.search(_REFUSED_ACTION.sub(" ", message))
    return _FINAL_STATUS[match.group(1).lower()] if match else None


class _MaskedBody(bytes):
    """Request body bytes whose ``repr`` hides the content (it holds the API key).

    Keeps the key out of tracebacks that print local variables (loguru's
    ``diagnose``).
    """

    def __repr__(self) -> str:
        return f"<request body, {len(self)} bytes>"

    __str__ = __repr__


class OpenAlgoClient:
    """Talks to one OpenAlgo server for one strategy. Thread-safe (stateless apart from the pooled session).

    ``host`` like ``"http://127.0.0.1:5000"``; ``api_key`` a string or
    :class:`SecretStr`; ``strategy`` the name sent with order calls.
    ``connect_timeout`` / ``read_timeout`` in seconds apply to every call.
    ``session`` replaces the client's own :class:`requests.Session` (the
    client then leaves closing it to the caller). ValueError for an empty
    ``strategy``.
    """

    def __init__(
        self,
        host: str,
        api_key: str | SecretStr,
        strategy: str,
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        session: requests.Session | None = None,
    ) -> None:
        if not strategy:
            raise ValueError("strategy must not be empty")
        self._host = host.rstrip("/")
        self._base = f"{self._host}/api/v1/"
        self._key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self._strategy = strategy
        self._timeout = (connect_timeout, read_timeout)
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()

    def __repr__(self) -> str:
        return f"OpenAlgoClient(host={self._host!r}, strategy={self._strategy!r})"

    @property
    def strategy(self) -> str:
        return self._strategy

    def close(self) -> None:
        """Close the session's pooled connections (only a session the client created)."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> OpenAlgoClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # =================================================================================
    # Broker protocol
    # =================================================================================
    def place_order(self, request: OrderRequest) -> str:
        """``placeorder``; returns the broker's orderid (string).

        Raises :class:`OrderRejected` (400: lot size, price band, margin,
        MIS outside hours…), or the transport/auth/server errors of the table.
        """
        body = self._request("placeorder", PlaceOrderRequest, **self._order_fields(request))
        reply = self._call("placeorder", body, OrderIdReply)
        if not reply.orderid:
            raise TransportError("placeorder: success without an orderid")
        return reply.orderid

    def modify_order(self, orderid: str, placed: OrderRequest, quantity: int, price: float, trigger_price: float) -> str:
        """``modifyorder``: new ``quantity`` (contracts), ``price`` and ``trigger_price`` (rupees)
        for the order placed as ``placed``; returns the orderid.

        The endpoint wants every field; all but those three are sent as
        ``placed`` has them, because the server applies only those three (a
        changed price type, action or product is ignored with a 200).
        :class:`OrderNotCancellable` (``.status``) when the server says the
        order is already complete, cancelled or rejected.
        """
        terms = placed.modified(quantity, price, trigger_price)
        body = self._request("modifyorder", ModifyOrderRequest, orderid=str(orderid), **self._order_fields(terms))
        reply = self._call("modifyorder", body, OrderIdReply, cancel_like=True)
        return reply.orderid or str(orderid)

    def cancel_order(self, orderid: str) -> None:
        """``cancelorder``. :class:`OrderNotCancellable` (``.status``) if the order is already final,
        :class:`NotFound` if the server does not know it."""
        body = self._request("cancelorder", OrderIdRequest, strategy=self._strategy, orderid=str(orderid))
        self._call("cancelorder", body, OrderIdReply, cancel_like=True)

    def order_status(self, orderid: str) -> OrderSnapshot:
        """``orderstatus`` as a snapshot (``status`` is ``order_status``; unknown words unchanged).

        :class:`NotFound` if the order is unknown.
        """
        body = self._request("orderstatus", OrderIdRequest, strategy=self._strategy, orderid=str(orderid))
        reply = self._call("orderstatus", body, DataReply[OrderRow])
        try:
            return _snapshot(reply.data, fallback_orderid=str(orderid))
        except ValidationError as exc:
            raise TransportError(self._mask(f"orderstatus: unusable order: {_errors(exc)}")) from None

    def order_book(self) -> list[OrderSnapshot]:
        """``orderbook``: every order of the day, oldest first as the server lists them.

        A row that cannot be read as an order (no BUY/SELL action…) is
        logged and skipped. A row with an impossible number (NaN, ±infinity,
        a negative price or quantity) fails the whole call with
        :class:`TransportError` naming the order and the field: skipped, it
        could hide a working order.
        """
        reply = self._call("orderbook", self._request("orderbook", ApiKeyRequest), OrderBookReply)
        snapshots: list[OrderSnapshot] = []
        for raw in reply.data.orders:
            try:
                snapshots.append(_snapshot(OrderRow.model_validate(raw)))
            except ValidationError as exc:
                if any(error["type"] == BAD_NUMBER for error in exc.errors()):
                    message = f"orderbook: unusable order {raw.get('orderid')!r}: {_errors(exc)}"
                    raise TransportError(self._mask(message)) from None
                logger.error("orderbook: skipped unreadable row (orderid {!r}): {}", raw.get("orderid"), self._mask(_errors(exc)))
        return snapshots

    def position_book(self) -> list[PositionRow]:
        """``positionbook``: every position of the day; ``quantity`` signed contracts, closed ones 0."""
        rows = self.position_book_detail()
        return [
            PositionRow(
                symbol=row.symbol,
                exchange=row.exchange or "NFO",
                product=row.product or "MIS",
                quantity=row.quantity,
                average_price=row.average_price,
            )
            for row in rows
        ]

    # =================================================================================
    # Account
    # =================================================================================
    def ping(self) -> PingInfo:
        """``ping``: the connected broker (``.broker``) and ``.message == "pong"``.

        :class:`AuthError` for a bad key or a broker session that is not logged in.
        """
        return self._call("ping", self._request("ping", ApiKeyRequest), DataReply[PingInfo]).data

    def analyzer_status(self) -> AnalyzerState:
        """``analyzer``: ``.analyze_mode`` True when the server is in paper (analyzer) mode."""
        return self._call("analyzer", self._request("analyzer", ApiKeyRequest), DataReply[AnalyzerState]).data

    def analyzer_toggle(self, mode: bool) -> AnalyzerState:
        """``analyzer/toggle``: ``mode`` True switches to analyze (paper), False to live; returns the new state."""
        body = self._request("analyzer/toggle", AnalyzerToggleRequest, mode=mode)
        return self._call("analyzer/toggle", body, DataReply[AnalyzerState]).data

    def funds(self) -> Funds:
        """``funds``: available cash, collateral, M2M and utilised debits, rupees."""
        return self._call("funds", self._request("funds", ApiKeyRequest), DataReply[Funds]).data

    def margin(self, positions: Iterable[tuple[str, str, str, int]], product: str) -> Margin:
        """``margin`` for a basket of ``(symbol, exchange, action, quantity contracts)`` at MARKET in
        ``product``: the rupees it needs (``total_margin_required``). At most 50 positions (ValueError beyond)."""
        basket = [
            MarginPosition(symbol=symbol, exchange=exchange, action=action, quantity=str(quantity), product=product,
                           pricetype="MARKET")
            for symbol, exchange, action, quantity in positions
        ]
        if not 1 <= len(basket) <= 50:
            raise ValueError(f"margin takes 1 to 50 positions, got {len(basket)}")
        body = self._request("margin", MarginRequest, positions=basket)
        return self._call("margin", body, DataReply[Margin]).data

    def trade_book(self) -> list[TradeRow]:
        """``tradebook``: the day's trades (``quantity`` contracts, ``average_price`` rupees, IST times)."""
        return self._call("tradebook", self._request("tradebook", ApiKeyRequest), ListReply[TradeRow]).data

    def position_book_detail(self) -> list[PositionBookRow]:
        """``positionbook`` with everything the server gives (``ltp``, ``pnl`` rupees where sent)."""
        return self._call("positionbook", self._request("positionbook", ApiKeyRequest), ListReply[PositionBookRow]).data

    def close_position(self) -> MessageResult:
        """``closeposition``: square off this strategy's open positions; the server's message."""
        body = self._request("closeposition", StrategyRequest, strategy=self._strategy)
        reply = self._call("closeposition", body, Envelope)
        return MessageResult(message=reply.message, analyze=reply.analyze)

    # =================================================================================
    # Market data and symbols
    # =================================================================================
    def quote(self, symbol: str, exchange: str) -> Quote:
        """``quotes``: last price and the day's open/high/low/prev close, bid/ask (rupees), volume, oi."""
        body = self._request("quotes", QuoteRequest, symbol=symbol, exchange=exchange)
        return self._call("quotes", body, DataReply[Quote]).data

    def multi_quotes(self, symbols: Iterable[tuple[str, str]]) -> list[MultiQuoteResult]:
        """``multiquotes`` for ``(symbol, exchange)`` pairs: one result per symbol, with ``.data``
        (a :class:`Quote`) or ``.error`` (text) — a failed symbol does not fail the call."""
        refs = [SymbolRef(symbol=symbol, exchange=exchange) for symbol, exchange in symbols]
        body = self._request("multiquotes", MultiQuotesRequest, symbols=refs)
        return self._call("multiquotes", body, MultiQuotesReply).results

    def search(self, query: str, exchange: str | None = None) -> list[SymbolInfo]:
        """``search`` (e.g. ``"NIFTY 25000 DEC CE"``, exchange ``"NFO"``); matching instruments."""
        body = self._request("search", SearchRequest, query=query, exchange=exchange)
        return self._call("search", body, ListReply[SymbolInfo]).data

    def history(self, symbol: str, exchange: str, interval: str, start_date: date, end_date: date) -> list[Candle]:
        """``history`` bars from ``start_date`` to ``end_date`` (inclusive, IST trading days).

        ``interval`` like ``"1m"``; each :class:`Candle` has an aware IST
        ``timestamp`` (the server sends epoch seconds) and rupee prices.
        """
        body = self._request(
            "history",
            HistoryRequest,
            symbol=symbol,
            exchange=exchange,
            interval=interval,
            start_date=start_date,
            end_date=end_date,
        )
        return self._call("history", body, ListReply[Candle]).data

    def expiries(self, symbol: str, exchange: str, instrumenttype: str = "options") -> list[date]:
        """``expiry``: the expiry dates (``"30-DEC-25"`` on the wire) sorted, earliest first.

        An entry that is not a date is logged and skipped.
        """
        body = self._request("expiry", ExpiryRequest, symbol=symbol, exchange=exchange, instrumenttype=instrumenttype)
        reply = self._call("expiry", body, ListReply[Any])
        dates: set[date] = set()
        for item in reply.data:
            try:
                parsed = parse_expiry(item)
            except ValueError:
                logger.warning("expiry: skipped unreadable date {!r}", item)
                continue
            if parsed is not None:
                dates.add(parsed)
        return sorted(dates)

    def symbol_info(self, symbol: str, exchange: str) -> SymbolInfo:
        """``symbol``: lot size and freeze quantity (contracts), tick size and strike (rupees), expiry.

        :class:`NotFound` (or :class:`OrderRejected`, depending on the server) for an unknown symbol.
        """
        body = self._request("symbol", QuoteRequest, symbol=symbol, exchange=exchange)
        return self._call("symbol", body, DataReply[SymbolInfo]).data

    # =================================================================================
    # Notifications
    # =================================================================================
    def telegram_notify(self, username: str, message: str, priority: int = 5) -> NotifyResult:
        """``telegram/notify`` to OpenAlgo user ``username`` (priority 1–10).

        A refusal that must not disturb trading (HTTP 400/401/404/409 or a
        200 with ``"status": "error"``: user not linked, bot not running…)
        returns ``delivered=False``; 403, 429, 5xx and transport failures
        raise as in the table.
        """
        body = self._request("telegram/notify", TelegramNotifyRequest, username=username, message=message, priority=priority)
        code, parsed, text = self._exchange("telegram/notify", body)
        if 200 <= code < 300 or code in _TELEGRAM_SOFT_FAILURES:
            envelope = parsed if isinstance(parsed, dict) else {}
            note = self._mask(readable_message(envelope.get("message")) or text[:_SNIPPET])
            if 200 <= code < 300 and str(envelope.get("status", "")).lower() != "error":
                if parsed is None:
                    raise TransportError(f"telegram/notify: HTTP {code} with a body that is not JSON")
                return NotifyResult(delivered=True, message=note, http_status=code)
            logger.warning("telegram/notify not delivered (HTTP {}): {}", code, note)
            return NotifyResult(delivered=False, message=note, http_status=code)
        self._raise_for(code, parsed, text, "telegram/notify", cancel_like=False)

    # =================================================================================
    # Internals
    # =================================================================================
    def _order_fields(self, request: OrderRequest) -> dict[str, Any]:
        return {
            "strategy": self._strategy,
            "exchange": request.exchange,
            "symbol": request.symbol,
            "action": request.action,
            "quantity": request.quantity,
            "pricetype": request.pricetype,
            "product": request.product,
            "price": request.price,
            "trigger_price": request.trigger_price,
            "disclosed_quantity": 0,
        }

    def _request(self, endpoint: str, model: type[OpenAlgoRequest], **fields: Any) -> OpenAlgoRequest:
        """Build a strict request body; a field the server would refuse is :class:`OrderRejected` at once."""
        try:
            return model(apikey=self._key, **fields)
        except ValidationError as exc:
            raise OrderRejected(self._mask(f"{endpoint}: invalid request: {_errors(exc)}")) from None

    def _call(self, endpoint: str, body: OpenAlgoRequest, reply_model: type[R], *, cancel_like: bool = False) -> R:
        """POST ``body``, map failures to :class:`BrokerError`, parse the reply into ``reply_model``."""
        code, parsed, text = self._exchange(endpoint, body)
        if not 200 <= code < 300 or (isinstance(parsed, dict) and str(parsed.get("status", "")).lower() == "error"):
            self._raise_for(code, parsed, text, endpoint, cancel_like=cancel_like)
        if not isinstance(parsed, dict):
            what = "not JSON" if parsed is None else f"JSON {type(parsed).__name__}, not an object"
            raise TransportError(self._mask(f"{endpoint}: HTTP {code} with a body that is {what}: {text[:_SNIPPET]!r}"))
        try:
            return reply_model.model_validate(parsed)
        except ValidationError as exc:
            raise TransportError(self._mask(f"{endpoint}: unexpected response: {_errors(exc)}")) from None

    def _exchange(self, endpoint: str, body: OpenAlgoRequest) -> tuple[int, Any, str]:
        """One POST: ``(status code, parsed JSON or None, body text)``. Only :class:`TransportError` raised."""
        url = self._base + endpoint
        payload = _MaskedBody(json.dumps(body.wire(), separators=(",", ":")).encode())
        started = time.monotonic()
        try:
            response = self._session.post(url, data=payload, headers=_HEADERS, timeout=self._timeout)
            content = response.content
        except requests.Timeout as exc:
            raise TransportError(self._mask(f"{endpoint}: timed out ({type(exc).__name__}: {exc})")) from None
        except requests.RequestException as exc:
            raise TransportError(self._mask(f"{endpoint}: no answer ({type(exc).__name__}: {exc})")) from None
        elapsed_ms = (time.monotonic() - started) * 1000
        text = content.decode("utf-8", errors="replace")
        try:
            parsed: Any = json.loads(content) if content.strip() else None
        except ValueError:
            parsed = None
        analyze = isinstance(parsed, dict) and str(parsed.get("mode", "")).lower() == "analyze"
        logger.debug(
            "openalgo {} -> HTTP {} in {:.0f} ms{}", endpoint, response.status_code, elapsed_ms, " [analyze]" if analyze else ""
        )
        return response.status_code, parsed, text

    def _raise_for(self, code: int, parsed: Any, text: str, endpoint: str, *, cancel_like: bool) -> NoReturn:
        """Raise the :class:`BrokerError` for an error answer (non-2xx, or 2xx with ``status: error``)."""
        if isinstance(parsed, dict):
            message = readable_message(parsed.get("message")) or readable_message(
                {k: v for k, v in parsed.items() if k not in ("status", "mode")}
            )
            analyze = str(parsed.get("mode", "")).lower() == "analyze"
        else:
            message = " ".join(text.split())[:_SNIPPET]
            analyze = False
        message = self._mask(message or "(no message)")
        summary = f"{endpoint}: HTTP {code}: {message}{' [analyze]' if analyze else ''}"
        error = self._error_for(code, summary, message, cancel_like)
        logger.warning("openalgo {}", summary)
        raise error

    @staticmethod
    def _error_for(code: int, summary: str, message: str, cancel_like: bool) -> BrokerError:
        if code == 400 or 200 <= code < 300:
            status = final_status_named(message) if cancel_like else None
            return OrderNotCancellable(summary, status) if status else OrderRejected(summary)
        if code in (401, 403):
            return AuthError(summary)
        if code == 404:
            return NotFound(summary)
        if code == 429:
            return RateLimited(summary)
        if 400 <= code < 500:
            return OrderRejected(summary)
        return ServerError(summary)

    def _mask(self, text: str) -> str:
        """``text`` with the API key replaced by ``***`` wherever it stands as a token of its own (not
        inside a longer word: a short key must not turn "Max retries exceeded" into "Ma*** …")."""
        key = self._key.get_secret_value()
        if not key:
            return text
        return re.sub(rf"(?<![A-Za-z0-9]){re.escape(key)}(?![A-Za-z0-9])", "***", text)


def _snapshot(row: OrderRow, fallback_orderid: str = "") -> OrderSnapshot:
    """An :class:`OrderSnapshot` from an order row. A ``complete`` order without
    ``filled_quantity`` counts as filled in full; otherwise a missing fill is 0."""
    filled = row.filled_quantity
    if filled is None:
        filled = row.quantity if row.order_status == "complete" else 0
    return OrderSnapshot(
        orderid=row.orderid or fallback_orderid,
        symbol=row.symbol,
        action=row.action,
        quantity=row.quantity,
        pricetype=row.pricetype,
        price=row.price,
        trigger_price=row.trigger_price,
        status=row.order_status,
        filled_quantity=filled,
        average_price=row.average_price,
        exchange=row.exchange or "NFO",
        product=row.product or "MIS",
        timestamp=row.timestamp,
        strategy=row.strategy or None,
    )


def _errors(exc: ValidationError) -> str:
    """A ValidationError as ``"field: reason; …"`` without the offending input values."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in error.get("loc", ())) or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)
