"""Request-body validation for the simulator's REST endpoints, with marshmallow as at OpenAlgo.

Every ``POST /api/v1/<endpoint>`` body is loaded by the endpoint's schema in
:data:`SCHEMAS` before the handler runs. The schemas mirror the real server's
own marshmallow schemas (``restx_api/schemas.py``, ``account_schema.py`` and
``data_schemas.py`` in OpenAlgo), so a bad body gets the same errors: an
unknown field → ``['Unknown field.']`` (marshmallow's default ``RAISE``), a
missing required one → ``['Missing data for required field.']``, ``null`` →
``['Field may not be null.']``, a value outside its choices → ``['Must be one
of: ...']``, an empty ``apikey`` → ``['Length must be between 1 and 256.']``,
``nan``/``inf`` → marshmallow's special-numeric error, and OpenAlgo's own
texts such as ``['Price must be a non-negative number.']``, ``['Quantity must
be a positive number.']`` or the fractional-quantity one.

Loading converts as the real server does: numbers may come as strings,
defaults fill in (``pricetype`` MARKET, ``product`` MIS, ``price`` and
``trigger_price`` 0.0, ``disclosed_quantity`` 0, history ``source`` 'api'),
order quantities become ``int``, history dates ``date`` and the analyzer
``mode`` a ``bool``; ``action`` is upper-cased, as OpenAlgo's order services
do right after loading. :func:`validate_body` returns the loaded data and the
errors by field (marshmallow's ``messages``: a list of texts per field, or for
the nested multiquotes ``symbols`` a dict by list index); the REST layer turns
errors into a 400 whose ``message`` is ``str(errors)``.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate

#: OpenAlgo's ``utils/constants.py``.
VALID_EXCHANGES = (
    "NSE", "NFO", "CDS", "BSE", "BFO", "BCD", "MCX", "NCDEX", "NCO",
    "NSE_INDEX", "BSE_INDEX", "MCX_INDEX", "GLOBAL_INDEX", "CRYPTO",
)
#: Exchanges whose quantities may be fractional (all others must be whole).
CRYPTO_EXCHANGES = ("CRYPTO",)
#: Exchanges that list derivatives (``expiry``), as OpenAlgo's ``data_schemas.py``.
F_AND_O_EXCHANGES = ("NFO", "BFO", "MCX", "CDS", "NCO", "BCD", "NCDEX", "CRYPTO")
#: Intervals the ``history`` schema accepts (the simulator serves only 1m and D).
HISTORY_INTERVALS = (
    "1s", "5s", "10s", "15s", "30s", "45s",
    "1m", "2m", "3m", "5m", "10m", "15m", "20m", "30m",
    "1h", "2h", "3h", "4h",
    "D", "W", "M", "Q", "Y",
)

_ACTIONS = ("BUY", "SELL", "buy", "sell")
_PRICETYPES = ("MARKET", "LIMIT", "SL", "SL-M")
_PRODUCTS = ("MIS", "NRML", "CNC")


def _one_of(choices: tuple[str, ...], **kwargs: Any) -> fields.Str:
    return fields.Str(validate=validate.OneOf(choices), **kwargs)


def _positive_quantity() -> fields.Float:
    return fields.Float(
        required=True, validate=validate.Range(min=0, min_inclusive=False, error="Quantity must be a positive number.")
    )


def _non_negative(field: type[fields.Float] | type[fields.Int], what: str, **kwargs: Any) -> fields.Field:
    kind = "integer" if field is fields.Int else "number"
    return field(validate=validate.Range(min=0, error=f"{what} must be a non-negative {kind}."), **kwargs)


class _Keyed(Schema):
    """A body carrying only the key (ping, funds, books, analyzer, intervals); base of the others."""

    apikey = fields.Str(required=True, validate=validate.Length(min=1, max=256))


class _Order(_Keyed):
    """Order terms: a whole quantity off crypto exchanges, and the action upper-cased."""

    @post_load
    def _coerce(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if data.get("exchange") not in CRYPTO_EXCHANGES and "quantity" in data:
            quantity = data["quantity"]
            if quantity != int(quantity):
                raise ValidationError(
                    {"quantity": [f"Fractional quantity ({quantity}) is not allowed for non-crypto exchanges."]}
                )
            data["quantity"] = int(quantity)
        data["action"] = data["action"].upper()
        return data


class PlaceOrderSchema(_Order):
    strategy = fields.Str(required=True)
    exchange = _one_of(VALID_EXCHANGES, required=True)
    symbol = fields.Str(required=True)
    action = _one_of(_ACTIONS, required=True)
    quantity = _positive_quantity()
    pricetype = _one_of(_PRICETYPES, load_default="MARKET")
    product = _one_of(_PRODUCTS, load_default="MIS")
    price = _non_negative(fields.Float, "Price", load_default=0.0)
    trigger_price = _non_negative(fields.Float, "Trigger price", load_default=0.0)
    disclosed_quantity = _non_negative(fields.Int, "Disclosed quantity", load_default=0)
    underlying_ltp = fields.Float(load_default=None, allow_none=True)


class ModifyOrderSchema(_Order):
    strategy = fields.Str(required=True)
    exchange = _one_of(VALID_EXCHANGES, required=True)
    symbol = fields.Str(required=True)
    orderid = fields.Str(required=True)
    action = _one_of(_ACTIONS, required=True)
    product = _one_of(_PRODUCTS, required=True)
    pricetype = _one_of(_PRICETYPES, required=True)
    price = _non_negative(fields.Float, "Price", required=True)
    quantity = _positive_quantity()
    disclosed_quantity = _non_negative(fields.Int, "Disclosed quantity", required=True)
    trigger_price = _non_negative(fields.Float, "Trigger price", required=True)


class StrategySchema(_Keyed):
    """cancelallorder and closeposition."""

    strategy = fields.Str(required=True)


class OrderIdSchema(StrategySchema):
    """cancelorder and orderstatus."""

    orderid = fields.Str(required=True)


class OpenPositionSchema(StrategySchema):
    symbol = fields.Str(required=True)
    exchange = fields.Str(required=True)  # any text, as at OpenAlgo
    product = _one_of(_PRODUCTS, required=True)


class AnalyzerToggleSchema(_Keyed):
    mode = fields.Bool(required=True)


class SymbolSchema(_Keyed):
    """quotes and symbol."""

    symbol = fields.Str(required=True)
    exchange = _one_of(VALID_EXCHANGES, required=True)


class SymbolExchangeSchema(Schema):
    symbol = fields.Str(required=True)
    exchange = _one_of(VALID_EXCHANGES, required=True)


class MultiQuotesSchema(_Keyed):
    symbols = fields.List(fields.Nested(SymbolExchangeSchema), required=True, validate=validate.Length(min=1))


class SearchSchema(_Keyed):
    query = fields.Str(required=True)
    exchange = _one_of(VALID_EXCHANGES)


class HistorySchema(SymbolSchema):
    interval = _one_of(HISTORY_INTERVALS, required=True)
    start_date = fields.Date(required=True, format="%Y-%m-%d")
    end_date = fields.Date(required=True, format="%Y-%m-%d")
    source = _one_of(("api", "db"), load_default="api")


class ExpirySchema(_Keyed):
    symbol = fields.Str(required=True)
    exchange = _one_of(F_AND_O_EXCHANGES, required=True)
    instrumenttype = _one_of(("futures", "options"), required=True)


class TelegramNotifySchema(_Keyed):
    """The fields of OpenAlgo's ``/telegram/notify`` model (checked there by hand, not by marshmallow)."""

    username = fields.Str(required=True)
    message = fields.Str(required=True)
    priority = fields.Int(load_default=5)
    wait_for_delivery = fields.Bool(load_default=False)


class MarginPositionSchema(Schema):
    """One position of OpenAlgo's margin calculator (``quantity`` and prices as strings, as its schema)."""

    symbol = fields.Str(required=True, validate=validate.Length(min=1, max=50))
    exchange = _one_of(("NSE", "BSE", "NFO", "BFO", "CDS", "MCX"), required=True)
    action = _one_of(_ACTIONS, required=True)
    quantity = fields.Str(required=True)
    product = _one_of(_PRODUCTS, required=True)
    pricetype = _one_of(_PRICETYPES, required=True)
    price = fields.Str(load_default="0")
    trigger_price = fields.Str(load_default="0")


class MarginCalculatorSchema(_Keyed):
    positions = fields.List(fields.Nested(MarginPositionSchema), required=True,
                            validate=validate.Length(min=1, max=50, error="Positions must contain 1 to 50 items."))


_KEY_ONLY = _Keyed()
_BY_STRATEGY = StrategySchema()
_BY_ORDERID = OrderIdSchema()
_BY_SYMBOL = SymbolSchema()

#: The schema of each endpoint (the path after ``/api/v1/``).
SCHEMAS: dict[str, Schema] = {
    "ping": _KEY_ONLY,
    "analyzer": _KEY_ONLY,
    "analyzer/toggle": AnalyzerToggleSchema(),
    "funds": _KEY_ONLY,
    "orderbook": _KEY_ONLY,
    "tradebook": _KEY_ONLY,
    "positionbook": _KEY_ONLY,
    "intervals": _KEY_ONLY,
    "placeorder": PlaceOrderSchema(),
    "modifyorder": ModifyOrderSchema(),
    "cancelorder": _BY_ORDERID,
    "orderstatus": _BY_ORDERID,
    "cancelallorder": _BY_STRATEGY,
    "closeposition": _BY_STRATEGY,
    "openposition": OpenPositionSchema(),
    "quotes": _BY_SYMBOL,
    "multiquotes": MultiQuotesSchema(),
    "search": SearchSchema(),
    "history": HistorySchema(),
    "expiry": ExpirySchema(),
    "symbol": _BY_SYMBOL,
    "telegram/notify": TelegramNotifySchema(),
    "margin": MarginCalculatorSchema(),
}


def validate_body(endpoint: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Load ``body`` with the endpoint's schema: (loaded data with defaults, errors by field)."""
    try:
        return SCHEMAS[endpoint].load(body), {}
    except ValidationError as err:
        valid = err.valid_data if isinstance(err.valid_data, dict) else {}
        return valid, err.normalized_messages()
