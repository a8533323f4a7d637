"""Classify one OpenAlgo WebSocket text frame (openalgo.md, WebSocket section).

:func:`parse_message` is pure and never raises: every frame becomes exactly
one :data:`FeedEvent`. Liberal in what it accepts — numbers as numeric
strings, unknown extra fields, both market-data shapes:

* new: ``{"type": "market_data", "symbol", "exchange", "mode",
  "data": {"ltp", "timestamp" (epoch ms), "volume", ...}}``
* old (seed): ``{"type": "market_data", "topic": "SYMBOL.EXCHANGE",
  "data": {"symbol", "exchange", "ltp", "timestamp" (ISO string), ...}}``
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from messages.base import IST
from messages.market import Tick

#: How much of a junk frame is kept for logs (characters).
SNIPPET_CHARS = 200


class OrderUpdateMessage(BaseModel):
    """An ``order_update`` push (``{"action": "subscribe_orders"}``).

    ``filled_quantity`` and ``quantity`` are cumulative contracts;
    ``average_price`` (cumulative average fill), ``price`` and
    ``trigger_price`` are rupees, 0 when absent. ``order_status`` is the
    OpenAlgo word as sent (``open``, ``complete``, ``cancelled``,
    ``rejected``, ``trigger pending`` …), lower-cased. ``received_at`` is when
    the frame arrived (IST); the broker's own ``timestamp`` is kept as sent.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    orderid: str = Field(min_length=1)
    order_status: str = Field(min_length=1)
    filled_quantity: int = Field(default=0, ge=0)
    average_price: float = Field(default=0.0, ge=0)
    symbol: str | None = None
    exchange: str | None = None
    action: str | None = None
    quantity: int | None = Field(default=None, ge=0)
    price: float = Field(default=0.0, ge=0)
    trigger_price: float = Field(default=0.0, ge=0)
    timestamp: str | None = None
    received_at: AwareDatetime


@dataclass(frozen=True, slots=True)
class TickReceived:
    """A valid tick for a subscribed symbol.

    ``time_from_receipt`` is True when the frame carried no timestamp and
    ``tick.time`` is the receipt time instead.
    """

    tick: Tick
    exchange: str | None
    time_from_receipt: bool = False


@dataclass(frozen=True, slots=True)
class AuthResult:
    """Answer to ``authenticate``: ``ok``, or the error ``code`` (``AUTHENTICATION_ERROR``) and message."""

    ok: bool
    code: str | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class SubscribeAck:
    """Answer to ``subscribe``; ``ok`` for status ``success`` or ``partial``."""

    status: str
    subscriptions: tuple[Any, ...] = ()
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("success", "partial")


@dataclass(frozen=True, slots=True)
class OrdersAck:
    """The answer to ``{"action": "subscribe_orders"}``: ``ok`` when order updates will be pushed."""

    ok: bool
    message: str


@dataclass(frozen=True, slots=True)
class SimClockStep:
    """Simulator only (paced sessions): simulated time is now ``time``; acknowledge ``seq``
    once everything received before this frame has been handled."""

    time: datetime
    seq: int


@dataclass(frozen=True, slots=True)
class PaceAck:
    """Simulator only: the answer to ``{"action": "sim_pace"}``."""

    ok: bool
    message: str


@dataclass(frozen=True, slots=True)
class OrderUpdateReceived:
    """A valid order update."""

    update: OrderUpdateMessage


@dataclass(frozen=True, slots=True)
class FeedError:
    """An error message from the server other than an authentication failure."""

    code: str | None
    message: str


@dataclass(frozen=True, slots=True)
class Malformed:
    """Not JSON, not an object, wrong field types, or an impossible value (ltp ≤ 0)."""

    reason: str
    snippet: str


@dataclass(frozen=True, slots=True)
class Unexpected:
    """Well-formed JSON of a kind this client does not use (``kind`` = its ``type``)."""

    kind: str
    snippet: str


@dataclass(frozen=True, slots=True)
class Unsubscribed:
    """A tick for a symbol not in the subscribed set."""

    symbol: str


FeedEvent = (
    TickReceived
    | AuthResult
    | SubscribeAck
    | OrdersAck
    | SimClockStep
    | PaceAck
    | OrderUpdateReceived
    | FeedError
    | Malformed
    | Unexpected
    | Unsubscribed
)
JUNK = (Malformed, Unexpected, Unsubscribed)


class _Bad(ValueError):
    """Internal: a field has the wrong type or value."""


def parse_message(raw: str | bytes, subscribed: set[str] | frozenset[str], received_at: datetime) -> FeedEvent:
    """Classify one text frame; never raises.

    ``subscribed`` holds the symbols we asked for; ``received_at`` (aware)
    stamps ticks that carry no timestamp and order updates. Tick times are
    IST; ``ltp`` rupees, ``volume`` cumulative day contracts or None.
    """
    try:
        return _parse(raw, subscribed, received_at)
    except _Bad as exc:
        return Malformed(str(exc), _snippet(raw))
    except Exception as exc:  # noqa: BLE001 - never raise on bad input
        return Malformed(f"{type(exc).__name__}: {exc}", _snippet(raw))


def _parse(raw: str | bytes, subscribed: set[str] | frozenset[str], received_at: datetime) -> FeedEvent:
    try:
        msg = json.loads(raw)
    except (ValueError, TypeError):
        return Malformed("not JSON", _snippet(raw))
    if not isinstance(msg, dict):
        return Malformed("not a JSON object", _snippet(raw))
    kind = msg.get("type")
    status = _lower(msg.get("status"))
    if kind == "market_data":
        return _market_data(msg, subscribed, received_at)
    if kind == "order_update":
        return _order_update(msg, received_at)
    if kind == "auth" or msg.get("code") == "AUTHENTICATION_ERROR":
        ok = status == "success"
        return AuthResult(ok, None if ok else str(msg.get("code") or "AUTHENTICATION_ERROR"), _text(msg.get("message")))
    if kind in ("subscribe_orders", "unsubscribe_orders"):
        return OrdersAck(status == "success", _text(msg.get("message")))
    if kind == "sim_clock":
        return _sim_clock(msg)
    if kind == "sim_pace":
        return PaceAck(status == "success", _text(msg.get("message")))
    if kind == "subscribe":
        subs = msg.get("subscriptions")
        return SubscribeAck(status or "", tuple(subs) if isinstance(subs, list) else (), _text(msg.get("message")))
    if kind == "error" or status == "error":
        code = msg.get("code")
        return FeedError(None if code is None else str(code), _text(msg.get("message")))
    return Unexpected(str(kind) if kind is not None else "<no type>", _snippet(raw))


def _market_data(msg: dict[str, Any], subscribed: set[str] | frozenset[str], received_at: datetime) -> FeedEvent:
    data = msg.get("data")
    if not isinstance(data, dict):
        raise _Bad("market_data without a data object")
    topic = msg.get("topic")
    topic_symbol, topic_exchange = None, None
    if isinstance(topic, str) and "." in topic:
        topic_symbol, topic_exchange = topic.rsplit(".", 1)
    symbol = msg.get("symbol") or data.get("symbol") or topic_symbol
    exchange = msg.get("exchange") or data.get("exchange") or topic_exchange
    if not isinstance(symbol, str) or not symbol:
        raise _Bad("market_data without a symbol")
    if symbol not in subscribed:
        return Unsubscribed(symbol)
    ltp = _number(data.get("ltp"), "ltp")
    if ltp is None or ltp <= 0:
        raise _Bad(f"ltp must be > 0, got {data.get('ltp')!r}")
    volume = _volume(data.get("volume"))
    when = parse_timestamp(data.get("timestamp"))
    tick = Tick(symbol=symbol, time=when or to_ist_aware(received_at), ltp=ltp, volume=volume)
    return TickReceived(tick, exchange if isinstance(exchange, str) else None, when is None)


def _sim_clock(msg: dict[str, Any]) -> FeedEvent:
    seq = msg.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise _Bad(f"sim_clock seq must be an integer, got {seq!r}")
    when = parse_timestamp(msg.get("time"))
    if when is None:
        raise _Bad("sim_clock without a time")
    return SimClockStep(when, seq)


def _order_update(msg: dict[str, Any], received_at: datetime) -> FeedEvent:
    body = dict(msg)
    if isinstance(msg.get("data"), dict):  # tolerate a nested payload
        body.update(msg["data"])
    fields: dict[str, Any] = {"received_at": to_ist_aware(received_at)}
    for key in ("orderid", "symbol", "exchange", "action", "timestamp"):
        value = body.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise _Bad(f"order_update {key} has type {type(value).__name__}")
            fields[key] = str(value)
    status = body.get("order_status", body.get("status"))
    if isinstance(status, str):
        fields["order_status"] = status.strip().lower()
    for key in ("filled_quantity", "quantity"):
        value = _number(body.get(key), key)
        if value is not None:
            if value != int(value):
                raise _Bad(f"order_update {key} is not whole: {value}")
            fields[key] = int(value)
    for key in ("average_price", "price", "trigger_price"):
        value = _number(body.get(key), key)
        if value is not None:
            fields[key] = value
    try:
        return OrderUpdateReceived(OrderUpdateMessage(**fields))
    except ValidationError as exc:
        raise _Bad(f"order_update: {exc.errors()[0]['loc']} {exc.errors()[0]['msg']}") from None


def parse_timestamp(value: Any) -> datetime | None:
    """A feed timestamp as an aware IST datetime; None when absent (None, "", 0).

    Numbers (or numeric strings) are epoch **milliseconds** per OpenAlgo;
    magnitudes that can only be seconds (< 1e11), microseconds (≥ 1e14) or
    nanoseconds (≥ 1e17) are scaled accordingly. Strings are ISO 8601
    (``Z`` or an offset; a naive one is taken as IST). Raises ValueError on
    anything else.
    """
    if isinstance(value, bool):
        raise _Bad(f"timestamp is a bool: {value!r}")
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            number: float | None = float(text)
        except ValueError:
            number = None
        if number is None or not math.isfinite(number):
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                raise _Bad(f"unreadable timestamp {value!r}") from None
            return to_ist_aware(moment)
        value = number
    epoch = _number(value, "timestamp")
    if epoch == 0:
        return None
    if epoch is None or epoch < 0:
        raise _Bad(f"bad timestamp {value!r}")
    if epoch >= 1e17:
        seconds = epoch / 1e9
    elif epoch >= 1e14:
        seconds = epoch / 1e6
    elif epoch >= 1e11:
        seconds = epoch / 1e3
    else:
        seconds = epoch
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc).astimezone(IST)
    except (OverflowError, OSError, ValueError):
        raise _Bad(f"timestamp out of range {value!r}") from None


def to_ist_aware(moment: datetime) -> datetime:
    """``moment`` in IST; a naive datetime is taken to be IST already."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=IST)
    return moment.astimezone(IST)


def _number(value: Any, name: str) -> float | None:
    """int, float or numeric string → finite float; None for None/""; _Bad otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _Bad(f"{name} is a bool")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise _Bad(f"{name} is not a number: {value!r}") from None
    if not isinstance(value, int | float):
        raise _Bad(f"{name} has type {type(value).__name__}")
    result = float(value)
    if not math.isfinite(result):
        raise _Bad(f"{name} is not finite")
    return result


def _volume(value: Any) -> int | None:
    number = _number(value, "volume")
    if number is None:
        return None
    if number < 0 or number != int(number):
        raise _Bad(f"volume must be a whole number ≥ 0, got {value!r}")
    return int(number)


def _lower(value: Any) -> str | None:
    return value.strip().lower() if isinstance(value, str) else None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _snippet(raw: Any) -> str:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    text = str(raw)
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS] + "…"
