"""parse_message: every OpenAlgo WebSocket frame becomes exactly one event, never an exception."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from broker.feed_parse import (
    AuthResult,
    FeedError,
    Malformed,
    OrdersAck,
    OrderUpdateReceived,
    PaceAck,
    SimClockStep,
    SubscribeAck,
    TickReceived,
    Unexpected,
    Unsubscribed,
    parse_message,
    parse_timestamp,
)
from messages.base import IST

CE = "NIFTY30DEC2526000CE"
PE = "NIFTY30DEC2526000PE"
SUBSCRIBED = {CE, PE}
RECEIVED = datetime(2025, 12, 1, 10, 0, 5, tzinfo=IST)
#: 2025-12-01 10:00:00.250 IST as epoch milliseconds
TS_MS = int(datetime(2025, 12, 1, 10, 0, 0, 250000, tzinfo=IST).timestamp() * 1000)


def parse(frame: object, subscribed: set[str] = SUBSCRIBED) -> object:
    raw = frame if isinstance(frame, str | bytes) else json.dumps(frame)
    return parse_message(raw, subscribed, RECEIVED)


def new_shape(**data: object) -> dict[str, object]:
    body = {"ltp": 101.5, "timestamp": TS_MS, "volume": 12000, "open": 99.0, "high": 103.0, "low": 98.0,
            "close": 100.0, "average_price": 100.7, "last_quantity": 75, "oi": 100}
    body.update(data)
    return {"type": "market_data", "symbol": CE, "exchange": "NFO", "mode": 2, "data": body}


def old_shape(**data: object) -> dict[str, object]:
    body = {"symbol": CE, "exchange": "NFO", "ltp": 101.5, "change": 1.5, "volume": 12000,
            "timestamp": "2025-12-01T04:30:00.250Z"}
    body.update(data)
    return {"type": "market_data", "mode": 2, "topic": f"{CE}.NFO", "data": body}


# --------------------------------------------------------------------- ticks


def test_new_shape_tick_with_epoch_milliseconds() -> None:
    event = parse(new_shape())
    assert isinstance(event, TickReceived)
    assert event.exchange == "NFO" and not event.time_from_receipt
    tick = event.tick
    assert (tick.symbol, tick.ltp, tick.volume) == (CE, 101.5, 12000)
    assert tick.time == datetime(2025, 12, 1, 10, 0, 0, 250000, tzinfo=IST)
    assert tick.time.utcoffset() == timedelta(hours=5, minutes=30)


def test_old_shape_tick_with_iso_timestamp_in_utc() -> None:
    event = parse(old_shape())
    assert isinstance(event, TickReceived)
    assert event.exchange == "NFO"
    assert event.tick.symbol == CE
    assert event.tick.time == datetime(2025, 12, 1, 10, 0, 0, 250000, tzinfo=IST)
    assert event.tick.time.utcoffset() == timedelta(hours=5, minutes=30)


def test_old_shape_symbol_from_topic_alone() -> None:
    frame = {"type": "market_data", "topic": f"{PE}.NFO", "data": {"ltp": 55, "timestamp": TS_MS}}
    event = parse(frame)
    assert isinstance(event, TickReceived)
    assert (event.tick.symbol, event.exchange, event.tick.ltp, event.tick.volume) == (PE, "NFO", 55.0, None)


def test_numbers_as_strings() -> None:
    event = parse(new_shape(ltp="101.55", volume="12075", timestamp=str(TS_MS)))
    assert isinstance(event, TickReceived)
    assert (event.tick.ltp, event.tick.volume) == (101.55, 12075)
    assert event.tick.time == datetime(2025, 12, 1, 10, 0, 0, 250000, tzinfo=IST)


def test_float_milliseconds_and_whole_float_volume() -> None:
    event = parse(new_shape(timestamp=TS_MS + 0.0, volume=12000.0))
    assert isinstance(event, TickReceived)
    assert event.tick.volume == 12000
    assert event.tick.time == datetime(2025, 12, 1, 10, 0, 0, 250000, tzinfo=IST)


def test_iso_with_offset_and_naive_iso_taken_as_ist() -> None:
    with_offset = parse(old_shape(timestamp="2025-12-01T10:00:00.250+05:30"))
    naive = parse(old_shape(timestamp="2025-12-01T10:00:00.250"))
    expected = datetime(2025, 12, 1, 10, 0, 0, 250000, tzinfo=IST)
    assert isinstance(with_offset, TickReceived) and with_offset.tick.time == expected
    assert isinstance(naive, TickReceived) and naive.tick.time == expected


@pytest.mark.parametrize("missing", [None, "", 0])
def test_tick_without_timestamp_is_stamped_with_receipt_and_flagged(missing: object) -> None:
    event = parse(new_shape(timestamp=missing))
    assert isinstance(event, TickReceived)
    assert event.time_from_receipt
    assert event.tick.time == RECEIVED


def test_tick_without_timestamp_field_at_all() -> None:
    frame = new_shape()
    del frame["data"]["timestamp"]  # type: ignore[attr-defined]
    event = parse(frame)
    assert isinstance(event, TickReceived) and event.time_from_receipt and event.tick.time == RECEIVED


def test_receipt_time_is_converted_to_ist() -> None:
    frame = new_shape(timestamp=None)
    event = parse_message(json.dumps(frame), SUBSCRIBED, datetime(2025, 12, 1, 4, 30, tzinfo=timezone.utc))
    assert isinstance(event, TickReceived)
    assert event.tick.time == datetime(2025, 12, 1, 10, 0, tzinfo=IST)
    assert event.tick.time.utcoffset() == timedelta(hours=5, minutes=30)


def test_unknown_extra_fields_are_accepted() -> None:
    frame = new_shape(depth={"buy": [], "sell": []}, broker_supported=True)
    frame["extra"] = {"anything": 1}
    assert isinstance(parse(frame), TickReceived)


@pytest.mark.parametrize(
    ("value", "expected_seconds"),
    [
        (1764563400250, 1764563400.25),  # milliseconds (OpenAlgo)
        (1764563400, 1764563400.0),  # plainly seconds
        (1764563400250000, 1764563400.25),  # microseconds
        (1764563400250000000, 1764563400.25),  # nanoseconds
        ("1764563400250", 1764563400.25),
    ],
)
def test_timestamp_magnitudes(value: object, expected_seconds: float) -> None:
    moment = parse_timestamp(value)
    assert moment is not None
    assert moment.timestamp() == pytest.approx(expected_seconds, abs=1e-3)
    assert moment.tzinfo == IST


# ---------------------------------------------------------------- junk classes


def test_tick_for_unsubscribed_symbol() -> None:
    assert parse(new_shape(), subscribed={PE}) == Unsubscribed(CE)
    assert parse(old_shape(), subscribed=set()) == Unsubscribed(CE)


@pytest.mark.parametrize(
    "frame",
    [
        "not json at all",
        b"\xff\xfe\x00",
        "",
        "[1, 2, 3]",
        "42",
        '"market_data"',
        "{\"type\": \"market_data\", \"symbol\": 5",  # truncated
    ],
)
def test_not_a_json_object_is_malformed(frame: str | bytes) -> None:
    event = parse(frame)
    assert isinstance(event, Malformed)
    assert event.snippet is not None


@pytest.mark.parametrize(
    "data",
    [
        {"ltp": 0},
        {"ltp": -1.5},
        {"ltp": "0.00"},
        {"ltp": None},
        {"ltp": "abc"},
        {"ltp": True},
        {"ltp": [101.5]},
        {"ltp": float("nan")},
        {"volume": -5},
        {"volume": "lots"},
        {"volume": 10.5},
        {"timestamp": "yesterday"},
        {"timestamp": -1},
        {"timestamp": {"ms": 1}},
    ],
)
def test_bad_tick_fields_are_malformed(data: dict[str, object]) -> None:
    event = parse(new_shape(**data))
    assert isinstance(event, Malformed), event
    assert event.reason


def test_market_data_without_data_object_or_symbol_is_malformed() -> None:
    assert isinstance(parse({"type": "market_data", "symbol": CE, "data": "101.5"}), Malformed)
    assert isinstance(parse({"type": "market_data", "symbol": CE}), Malformed)
    assert isinstance(parse({"type": "market_data", "data": {"ltp": 1}}), Malformed)
    assert isinstance(parse({"type": "market_data", "symbol": 7, "data": {"ltp": 1}}), Malformed)


def test_unknown_type_is_unexpected() -> None:
    event = parse({"type": "heartbeat", "x": 1})
    assert isinstance(event, Unexpected) and event.kind == "heartbeat"
    no_type = parse({"hello": "world"})
    assert isinstance(no_type, Unexpected) and no_type.kind == "<no type>"


def test_long_junk_is_cut_in_the_snippet() -> None:
    event = parse("x" * 10_000)
    assert isinstance(event, Malformed)
    assert len(event.snippet) < 300


# ----------------------------------------------------- control and order frames


def test_auth_success() -> None:
    assert parse({"type": "auth", "status": "success", "message": "Authentication successful"}) == AuthResult(
        True, None, "Authentication successful"
    )


def test_auth_failure_shape() -> None:
    event = parse({"status": "error", "code": "AUTHENTICATION_ERROR", "message": "Invalid API key"})
    assert event == AuthResult(False, "AUTHENTICATION_ERROR", "Invalid API key")
    typed = parse({"type": "auth", "status": "error", "message": "nope"})
    assert isinstance(typed, AuthResult) and not typed.ok


@pytest.mark.parametrize(("status", "ok"), [("success", True), ("partial", True), ("error", False)])
def test_subscribe_ack(status: str, ok: bool) -> None:
    subs = [{"symbol": CE, "exchange": "NFO", "status": "success", "mode": 2}]
    event = parse({"type": "subscribe", "status": status, "subscriptions": subs, "message": "done"})
    assert isinstance(event, SubscribeAck)
    assert event.ok is ok
    assert event.subscriptions == tuple(subs)


def test_error_message() -> None:
    event = parse({"type": "error", "code": "INVALID_ACTION", "message": "Unsupported action: subscribe_orders"})
    assert event == FeedError("INVALID_ACTION", "Unsupported action: subscribe_orders")
    assert parse({"status": "error", "message": "Not authenticated"}) == FeedError(None, "Not authenticated")


def test_order_update_with_strings_for_numbers() -> None:
    frame = {
        "type": "order_update",
        "orderid": 250101000123,
        "order_status": "Trigger Pending",
        "filled_quantity": "75",
        "average_price": "101.35",
        "quantity": "150",
        "symbol": CE,
        "exchange": "NFO",
        "action": "SELL",
        "trigger_price": "99.95",
        "timestamp": "2025-12-01 10:00:05",
        "unknown_field": [1, 2],
    }
    event = parse(frame)
    assert isinstance(event, OrderUpdateReceived)
    update = event.update
    assert update.orderid == "250101000123"
    assert update.order_status == "trigger pending"
    assert (update.filled_quantity, update.quantity) == (75, 150)
    assert (update.average_price, update.trigger_price, update.price) == (101.35, 99.95, 0.0)
    assert (update.symbol, update.exchange, update.action) == (CE, "NFO", "SELL")
    assert update.received_at == RECEIVED


def test_minimal_order_update_defaults() -> None:
    event = parse({"type": "order_update", "orderid": "A1", "order_status": "open"})
    assert isinstance(event, OrderUpdateReceived)
    assert (event.update.filled_quantity, event.update.average_price, event.update.quantity) == (0, 0.0, None)


@pytest.mark.parametrize(
    "fields",
    [
        {"order_status": "complete"},  # no orderid
        {"orderid": "A1"},  # no status
        {"orderid": "A1", "order_status": "complete", "filled_quantity": "seventy"},
        {"orderid": "A1", "order_status": "complete", "filled_quantity": -75},
        {"orderid": "A1", "order_status": "complete", "filled_quantity": 7.5},
        {"orderid": {"id": 1}, "order_status": "complete"},
        {"orderid": "A1", "order_status": "complete", "average_price": "n/a"},
    ],
)
def test_bad_order_update_is_malformed(fields: dict[str, object]) -> None:
    assert isinstance(parse({"type": "order_update", **fields}), Malformed)


def test_never_raises_on_arbitrary_json() -> None:
    frames: list[object] = [
        None, True, 1.5, [], {}, {"type": None}, {"type": 5}, {"type": "market_data", "data": None},
        {"type": "market_data", "topic": 5, "data": {}}, {"type": "market_data", "topic": "nodot", "data": {}},
        {"type": "order_update", "data": 1}, {"type": "subscribe", "subscriptions": "x"},
        {"type": "auth", "status": 1}, {"status": ["error"]},
    ]
    for frame in frames:
        parse(frame)


def test_the_answer_to_subscribe_orders_is_an_orders_ack() -> None:
    ok = parse({"type": "subscribe_orders", "status": "success", "message": "Subscribed to order updates"})
    assert ok == OrdersAck(True, "Subscribed to order updates")
    refused = parse({"type": "subscribe_orders", "status": "error", "message": "not supported"})
    assert refused == OrdersAck(False, "not supported")


def test_a_paced_simulators_clock_step_and_pace_answer() -> None:
    step = parse({"type": "sim_clock", "time": "2025-12-23T10:00:00.500000+05:30", "seq": 7})
    assert step == SimClockStep(datetime(2025, 12, 23, 10, 0, 0, 500000, tzinfo=IST), 7)
    assert parse({"type": "sim_pace", "status": "success", "message": "ok"}) == PaceAck(True, "ok")


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "sim_clock", "time": "2025-12-23T10:00:00+05:30"},
        {"type": "sim_clock", "time": "2025-12-23T10:00:00+05:30", "seq": "7"},
        {"type": "sim_clock", "time": "2025-12-23T10:00:00+05:30", "seq": True},
        {"type": "sim_clock", "seq": 1},
        {"type": "sim_clock", "time": "soon", "seq": 1},
    ],
)
def test_a_bad_clock_step_is_malformed(frame: dict[str, object]) -> None:
    assert isinstance(parse(frame), Malformed)
