"""Request-body validation for the simulator's REST endpoints: a small marshmallow look-alike.

Every ``POST /api/v1/<endpoint>`` body is checked against the endpoint's
schema in :data:`SCHEMAS` before the handler runs, with the same error
messages as the real OpenAlgo server (which uses marshmallow): an unknown
field → ``['Unknown field.']``, a missing required one → ``['Missing data for
required field.']``, a value outside its choices → ``['Must be one of: ...']``,
a negative price → ``['Price must be a non-negative number.']`` and so on.
:func:`validate_body` returns the loaded data (converted, with defaults) and
the errors by field; the REST layer turns errors into a 400 whose
``message`` is ``str(errors)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

VALID_EXCHANGES = ("NSE", "BSE", "NFO", "BFO", "CDS", "BCD", "MCX", "NCDEX", "NSE_INDEX", "BSE_INDEX")
F_AND_O_EXCHANGES = ("NFO", "BFO", "MCX", "CDS", "BCD", "NCDEX")


@dataclass(frozen=True)
class _Field:
    """One field of a schema: its kind, whether it is required, its default and its limits."""

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
