"""Pydantic models of the OpenAlgo REST bodies (openalgo.md, API reference 001).

Two kinds of model live here:

* **Requests** — strict: exactly the documented fields (the server answers
  400 ``Unknown field.`` to anything else), typed as the server wants them
  (``orderid`` a string, quantities integers, prices rupees as numbers).
  The API key is a :class:`pydantic.SecretStr`, so a request's ``repr`` never
  shows it; only :meth:`OpenAlgoRequest.wire` reveals it, to build the body.
* **Responses** — liberal: numbers may arrive as strings (``"12.50"``),
  optional fields may be missing, unknown fields are ignored, and
  ``"mode": "analyze"`` may appear anywhere. Never an impossible number,
  though: NaN or ±infinity (also as text, ``"nan"``, ``"inf"``) in any
  number, or a negative price, quantity, volume or fund, is a
  :data:`BAD_NUMBER` validation error, which the client turns into a
  :class:`broker.base.TransportError` naming the endpoint and the field.
  Signed are only the position book ``quantity`` (short < 0), P&L (``pnl``,
  ``m2mrealized``, ``m2munrealized``) and ``strike`` (equities carry -0.01).

Units everywhere: prices and money in rupees, quantities in contracts (units,
not lots), times as aware datetimes in IST.
"""

from __future__ import annotations

import ast
import json
import math
from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AliasChoices,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    FieldSerializationInfo,
    SecretStr,
    field_serializer,
    field_validator,
)
from pydantic_core import PydanticCustomError

from messages.base import IST, Action, PriceType

Product = Literal["MIS", "NRML", "CNC"]

#: The ``order_status`` words the server documents (openalgo.md).
KNOWN_ORDER_STATUSES = frozenset({"open", "complete", "cancelled", "rejected", "trigger pending"})


# =====================================================================================
# Liberal scalar parsing
# =====================================================================================
def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


#: The pydantic error type of an impossible number in a response: NaN or ±infinity in any
#: number field, or a negative value where none can be (see the module docstring).
BAD_NUMBER = "bad_number"


def _number(value: object) -> float:
    """A finite float from a number or a numeric string (``"1,234.50"`` allowed).

    NaN and ±infinity — numbers, text such as ``"nan"`` or ``"-Infinity"``, or
    an integer too large for a float — raise a :data:`BAD_NUMBER`
    ``PydanticCustomError``; anything else that is not a number raises ValueError
    (``PydanticCustomError`` is a ValueError too).
    """
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf if value > 0 else -math.inf
    elif isinstance(value, str):
        number = float(value.strip().replace(",", ""))
    else:
        raise ValueError(f"not a number: {type(value).__name__}")
    if not math.isfinite(number):
        raise PydanticCustomError(BAD_NUMBER, "not a finite number ({number})", {"number": str(number)})
    return number


def _not_negative(value: float | None) -> float | None:
    """``value`` unchanged; a :data:`BAD_NUMBER` error if it is below 0 (None and 0 pass)."""
    if value is not None and value < 0:
        raise PydanticCustomError(BAD_NUMBER, "negative ({number})", {"number": str(value)})
    return value


_NOT_NEGATIVE = AfterValidator(_not_negative)


def _float_or_zero(value: object) -> float:
    return 0.0 if _blank(value) else _number(value)


def _float_or_none(value: object) -> float | None:
    return None if _blank(value) else _number(value)


def _whole(value: object) -> int:
    number = _number(value)
    if not number.is_integer():
        raise ValueError(f"not a whole number: {value!r}")
    return int(number)


def _int_or_zero(value: object) -> int:
    return 0 if _blank(value) else _whole(value)


def _int_or_none(value: object) -> int | None:
    return None if _blank(value) else _whole(value)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | int | float):
        return str(value).strip()
    raise ValueError(f"not text: {type(value).__name__}")


def _upper_text(value: object) -> str:
    return _text(value).upper()


# Every number type below is finite (NaN and ±infinity are BAD_NUMBER); the plain ones are
# also ≥ 0, the Signed ones may be negative.
#: Rupees ≥ 0; missing, null or ``""`` is 0.
Rupees = Annotated[float, BeforeValidator(_float_or_zero), _NOT_NEGATIVE]
#: Rupees ≥ 0, or None when not given.
OptRupees = Annotated[float | None, BeforeValidator(_float_or_none), _NOT_NEGATIVE]
#: Rupees ≥ 0 (or index points), required (``ltp``, history OHLC).
Price = Annotated[float, BeforeValidator(_number), _NOT_NEGATIVE]
#: Signed rupees (P&L); missing, null or ``""`` is 0.
SignedRupees = Annotated[float, BeforeValidator(_float_or_zero)]
#: Signed rupees (P&L, ``strike``), or None when not given.
OptSignedRupees = Annotated[float | None, BeforeValidator(_float_or_none)]
#: Whole count ≥ 0 (contracts, volume); missing, null or ``""`` is 0; ``"75"`` and ``75.0`` are 75.
Count = Annotated[int, BeforeValidator(_int_or_zero), _NOT_NEGATIVE]
#: Whole count ≥ 0, or None when not given.
OptCount = Annotated[int | None, BeforeValidator(_int_or_none), _NOT_NEGATIVE]
#: Signed whole count (position book ``quantity``: short < 0); missing, null or ``""`` is 0.
SignedCount = Annotated[int, BeforeValidator(_int_or_zero)]
#: Any scalar as stripped text (numbers become their decimal text, null becomes ``""``).
Text = Annotated[str, BeforeValidator(_text)]
#: Upper-cased text (actions, price types, products, exchanges).
UpperText = Annotated[str, BeforeValidator(_upper_text)]


_ORDER_TIME_FORMATS = (
    "%d-%b-%Y %H:%M:%S",  # 09-Dec-2024 09:44:09 (broker order book)
    "%Y-%m-%d %H:%M:%S",  # 2025-12-23 10:15:30 (analyzer order book)
    "%d-%m-%Y %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
)


def parse_order_time(value: object) -> datetime | None:
    """An order/trade time as an aware IST datetime, or None if absent or unreadable.

    Naive texts (``"09-Dec-2024 09:44:09"``, ``"2025-12-23 10:15:30"``) are IST
    wall-clock times; numbers are epoch seconds. Never raises: a row with an
    odd timestamp is still a usable row.
    """
    if _blank(value) or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=IST)
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(float(value), tz=IST)
        if not isinstance(value, str):
            return None
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = None
            for fmt in _ORDER_TIME_FORMATS:
                try:
                    parsed = datetime.strptime(text, fmt)
                    break
                except ValueError:
                    continue
        if parsed is None:
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=IST)
    except (ValueError, OverflowError, OSError):
        return None


def epoch_to_ist(value: object) -> datetime:
    """Epoch **seconds** (int, float or numeric string) as an aware IST datetime; ValueError otherwise
    (a :data:`BAD_NUMBER` one for NaN or ±infinity)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(IST)
    try:
        return datetime.fromtimestamp(_number(value), tz=IST)
    except (OverflowError, OSError) as exc:
        raise ValueError(f"epoch seconds out of range: {value!r}") from exc


_EXPIRY_FORMATS = ("%d-%b-%y", "%d-%b-%Y", "%Y-%m-%d", "%d%b%y", "%d%b%Y")


def parse_expiry(value: object) -> date | None:
    """An expiry like ``"30-DEC-25"`` (any case; also ``2025-12-30``) as a date; None if blank.

    ValueError for text that is not a date.
    """
    if _blank(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"not an expiry date: {value!r}")
    text = value.strip()
    for fmt in _EXPIRY_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"not an expiry date: {value!r}")


OrderTime = Annotated[datetime | None, BeforeValidator(parse_order_time)]
OptExpiry = Annotated[date | None, BeforeValidator(parse_expiry)]


def normalise_status(value: object) -> str:
    """``order_status`` as sent, except that a documented word in another case is lower-cased.

    ``"COMPLETE"`` → ``"complete"``; an unknown word (``"validation pending"``)
    is returned unchanged (stripped) for the OrderActor to log.
    """
    text = _text(value)
    folded = " ".join(text.lower().split())
    return folded if folded in KNOWN_ORDER_STATUSES else text


def readable_message(value: object) -> str:
    """One human-readable line from an OpenAlgo ``message`` in any of its shapes.

    * a string → itself;
    * a string holding a dict or list (``"{'status': 'error', 'message': 'x'}"``,
      JSON or Python literal) → as if it were that object;
    * a dict with ``message`` (or ``error``) → that, recursively;
    * any other dict (marshmallow errors: ``{"quantity": ["Not a valid integer."]}``)
      → ``"quantity: Not a valid integer."``, entries joined by ``"; "``;
    * a list → its items joined by ``"; "``.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("{", "[") and len(text) <= 20_000:
            parsed = _literal(text)
            if isinstance(parsed, dict | list):
                return readable_message(parsed)
        return text
    if isinstance(value, dict):
        for key in ("message", "error", "errors"):
            if key in value and not _blank(value[key]):
                return readable_message(value[key])
        parts = [f"{key}: {readable_message(item)}" for key, item in value.items() if key not in ("status", "mode")]
        return "; ".join(parts)
    if isinstance(value, list | tuple):
        return "; ".join(readable_message(item) for item in value)
    return str(value)


def _literal(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


Message = Annotated[str, BeforeValidator(readable_message)]


# =====================================================================================
# Requests (strict)
# =====================================================================================
class OpenAlgoRequest(BaseModel):
    """Base of every request body: the API key plus only the documented fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    apikey: SecretStr

    @field_serializer("apikey")
    def _serialise_key(self, value: SecretStr, info: FieldSerializationInfo) -> str:
        if info.context and info.context.get("reveal_apikey"):
            return value.get_secret_value()
        return str(value)

    def wire(self) -> dict[str, Any]:
        """The JSON body to POST, API key in clear. Never log it."""
        return self.model_dump(mode="json", exclude_none=True, context={"reveal_apikey": True})


class ApiKeyRequest(OpenAlgoRequest):
    """``ping``, ``analyzer``, ``funds``, ``orderbook``, ``tradebook``, ``positionbook``."""


class AnalyzerToggleRequest(OpenAlgoRequest):
    """``analyzer/toggle``: ``mode`` True = analyze (paper), False = live."""

    mode: bool


class StrategyRequest(OpenAlgoRequest):
    """``closeposition``: squares off the strategy's open positions."""

    strategy: str = Field(min_length=1)


class PlaceOrderRequest(OpenAlgoRequest):
    """``placeorder``. ``quantity``/``disclosed_quantity`` contracts; ``price``/``trigger_price`` rupees (0 when unused)."""

    strategy: str = Field(min_length=1)
    exchange: str = Field(min_length=1)
    symbol: str = Field(min_length=1)
    action: Action
    quantity: int = Field(gt=0)
    pricetype: PriceType
    product: Product
    price: float = Field(ge=0)
    trigger_price: float = Field(ge=0)
    disclosed_quantity: int = Field(ge=0)


class ModifyOrderRequest(PlaceOrderRequest):
    """``modifyorder``: every field of the order is required, plus ``orderid`` (a string)."""

    orderid: str = Field(min_length=1)


class OrderIdRequest(OpenAlgoRequest):
    """``cancelorder`` and ``orderstatus``."""

    strategy: str = Field(min_length=1)
    orderid: str = Field(min_length=1)


class QuoteRequest(OpenAlgoRequest):
    """``quotes`` and ``symbol``."""

    symbol: str = Field(min_length=1)
    exchange: str = Field(min_length=1)


class SymbolRef(BaseModel):
    """One ``{symbol, exchange}`` item of a ``multiquotes`` request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str = Field(min_length=1)
    exchange: str = Field(min_length=1)


class MultiQuotesRequest(OpenAlgoRequest):
    """``multiquotes``."""

    symbols: list[SymbolRef] = Field(min_length=1)


class SearchRequest(OpenAlgoRequest):
    """``search``; ``exchange`` is optional and left out of the body when None."""

    query: str = Field(min_length=1)
    exchange: str | None = None


class MarginPosition(BaseModel):
    """One position of a ``margin`` request: OpenAlgo takes ``quantity`` (contracts) and the prices
    (rupees) as strings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str = Field(min_length=1)
    exchange: str = Field(min_length=1)
    action: Action
    quantity: str
    product: Product
    pricetype: PriceType
    price: str = "0"
    trigger_price: str = "0"


class MarginRequest(OpenAlgoRequest):
    """``margin``: the margin a basket of 1 to 50 positions needs."""

    positions: list[MarginPosition] = Field(min_length=1, max_length=50)


class HistoryRequest(OpenAlgoRequest):
    """``history``: dates are sent as ``YYYY-MM-DD``; ``interval`` like ``"1m"``."""

    symbol: str = Field(min_length=1)
    exchange: str = Field(min_length=1)
    interval: str = Field(min_length=1)
    start_date: date
    end_date: date


class ExpiryRequest(OpenAlgoRequest):
    """``expiry``: ``instrumenttype`` is ``"options"`` or ``"futures"``."""

    symbol: str = Field(min_length=1)
    exchange: str = Field(min_length=1)
    instrumenttype: Literal["options", "futures"]


class TelegramNotifyRequest(OpenAlgoRequest):
    """``telegram/notify``: ``username`` is the OpenAlgo login, ``priority`` 1 (low) – 10 (urgent)."""

    username: str = Field(min_length=1)
    message: str = Field(min_length=1)
    priority: int = Field(ge=1, le=10)


# =====================================================================================
# Responses (liberal)
# =====================================================================================
class OpenAlgoModel(BaseModel):
    """Base of every parsed response: unknown fields ignored, frozen."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class Envelope(OpenAlgoModel):
    """The top level every response shares: ``status``, ``message``, ``mode`` (``"analyze"`` in paper mode)."""

    status: Text = ""
    message: Message = ""
    mode: Text | None = None

    @property
    def analyze(self) -> bool:
        """True when the server says it answered in analyzer (paper) mode."""
        return (self.mode or "").lower() == "analyze"


T = TypeVar("T")


class DataReply(Envelope, Generic[T]):
    """An envelope whose payload is ``data``."""

    data: T


def _none_to_list(value: object) -> object:
    return [] if value is None else value


class ListReply(Envelope, Generic[T]):
    """An envelope whose ``data`` is a list (null or missing → empty)."""

    data: Annotated[list[T], BeforeValidator(_none_to_list)] = Field(default_factory=list)


class OrderIdReply(Envelope):
    """``placeorder``/``modifyorder``/``cancelorder``: the broker's order id."""

    orderid: Text = ""


class PingInfo(OpenAlgoModel):
    """``ping``: the connected broker's name and ``"pong"``."""

    broker: Text = ""
    message: Text = ""


class AnalyzerState(OpenAlgoModel):
    """``analyzer`` and ``analyzer/toggle``: ``analyze_mode`` True = paper trading."""

    analyze_mode: bool
    mode: Text = ""
    total_logs: OptCount = None
    message: Message = ""


class Funds(OpenAlgoModel):
    """``funds``, all in rupees (the server may send them as strings); only the M2M P&L may be negative."""

    availablecash: Rupees = 0.0
    collateral: Rupees = 0.0
    m2mrealized: SignedRupees = 0.0
    m2munrealized: SignedRupees = 0.0
    utiliseddebits: Rupees = 0.0


class Margin(OpenAlgoModel):
    """``margin``: what a basket needs, rupees; the components besides the total are the broker's own."""

    total_margin_required: Rupees
    span_margin: Rupees | None = None
    exposure_margin: Rupees | None = None


class OrderRow(OpenAlgoModel):
    """One order from ``orderstatus`` or an ``orderbook`` row.

    ``pricetype`` is read from ``pricetype`` or ``price_type``; quantities in
    contracts, prices in rupees, ``timestamp`` aware IST (None if unreadable).
    ``filled_quantity`` is None when the server leaves it out.
    """

    orderid: Text = ""
    symbol: Text = ""
    exchange: UpperText = ""
    action: UpperText = ""
    quantity: Count = 0
    price: Rupees = 0.0
    trigger_price: Rupees = 0.0
    pricetype: UpperText = Field(default="", validation_alias=AliasChoices("pricetype", "price_type"))
    product: UpperText = ""
    order_status: Annotated[str, BeforeValidator(normalise_status)] = ""
    filled_quantity: OptCount = None
    average_price: Rupees = 0.0
    timestamp: OrderTime = None
    #: the strategy tag, where the server gives one (analyzer-mode rows); "" otherwise
    strategy: Text = ""


class OrderBook(OpenAlgoModel):
    """``orderbook`` ``data``: the day's ``orders`` and the server's counts."""

    #: raw rows; the client parses each into an :class:`OrderRow` (a malformed row is skipped, not fatal)
    orders: list[dict[str, Any]] = Field(default_factory=list)
    statistics: dict[str, Any] | None = None

    @field_validator("orders", mode="before")
    @classmethod
    def _rows_are_objects(cls, value: object) -> object:
        if value is None:
            return []
        if isinstance(value, list):
            return [row for row in value if isinstance(row, dict)]
        return value


def _orders_in(value: object) -> object:
    """Some brokers answer an empty order book as ``"data": []`` or a bare list of rows."""
    if value is None:
        return {"orders": []}
    if isinstance(value, list):
        return {"orders": value}
    return value


class OrderBookReply(Envelope):
    data: Annotated[OrderBook, BeforeValidator(_orders_in)] = Field(default_factory=OrderBook)


class TradeRow(OpenAlgoModel):
    """One ``tradebook`` row: ``quantity`` contracts, ``average_price``/``trade_value`` rupees, ``timestamp`` IST."""

    orderid: Text = ""
    symbol: Text = ""
    exchange: UpperText = ""
    product: UpperText = ""
    action: UpperText = ""
    quantity: Count = 0
    average_price: Rupees = 0.0
    trade_value: OptRupees = None
    timestamp: OrderTime = None


class PositionBookRow(OpenAlgoModel):
    """One ``positionbook`` row: ``quantity`` signed contracts (short < 0), prices rupees ≥ 0, ``pnl`` signed rupees."""

    symbol: Text
    exchange: UpperText = "NFO"
    product: UpperText = "MIS"
    quantity: SignedCount = 0
    average_price: Rupees = 0.0
    ltp: OptRupees = None
    pnl: OptSignedRupees = None


class Quote(OpenAlgoModel):
    """``quotes`` data: prices rupees, ``volume`` the day's cumulative volume, ``oi`` contracts.

    Fields other than ``ltp`` are None when the server leaves them out.
    """

    ltp: Price
    open: OptRupees = None
    high: OptRupees = None
    low: OptRupees = None
    prev_close: OptRupees = None
    bid: OptRupees = None
    ask: OptRupees = None
    volume: OptCount = None
    oi: OptCount = None


class MultiQuoteResult(OpenAlgoModel):
    """One ``multiquotes`` result: ``data`` for a symbol that was quoted, else ``error``."""

    symbol: Text = ""
    exchange: UpperText = ""
    data: Quote | None = None
    error: Annotated[str | None, BeforeValidator(lambda v: None if v is None else readable_message(v))] = None

    @property
    def ok(self) -> bool:
        return self.data is not None and self.error is None


class MultiQuotesReply(Envelope):
    results: Annotated[list[MultiQuoteResult], BeforeValidator(_none_to_list)] = Field(default_factory=list)


class SymbolInfo(OpenAlgoModel):
    """``symbol`` data or one ``search`` row.

    ``lotsize`` and ``freeze_qty`` contracts, ``tick_size`` and ``strike``
    rupees (equities carry strike -0.01), ``expiry`` a date (None for
    equities). Fields the server leaves out are None.
    """

    symbol: Text
    exchange: UpperText = ""
    name: Text = ""
    instrumenttype: Text = ""
    lotsize: OptCount = None
    tick_size: OptRupees = None
    freeze_qty: OptCount = None
    expiry: OptExpiry = None
    strike: OptSignedRupees = None
    token: Text = ""
    brsymbol: Text = ""
    brexchange: Text = ""


class Candle(OpenAlgoModel):
    """One ``history`` bar: ``timestamp`` the bar's start, aware IST (sent as epoch seconds);
    prices rupees; ``volume`` and ``oi`` contracts."""

    timestamp: Annotated[AwareDatetime, BeforeValidator(epoch_to_ist)]
    open: Price
    high: Price
    low: Price
    close: Price
    volume: Count = 0
    oi: OptCount = None


class MessageResult(OpenAlgoModel):
    """A reply that only carries a message (``closeposition``); ``analyze`` True in paper mode."""

    message: str
    analyze: bool = False


class NotifyResult(OpenAlgoModel):
    """``telegram/notify``: ``delivered`` False when the server refused (user not linked, bot off…)."""

    delivered: bool
    message: str
    http_status: int
