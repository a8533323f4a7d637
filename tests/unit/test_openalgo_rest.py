"""OpenAlgoClient against recorded OpenAlgo response shapes, served over real HTTP.

A tiny ``http.server`` on 127.0.0.1 (port 0) answers each POST from a script
(status + body text, a hang, or a dropped connection) and records what the
client sent, so the tests check the exact request bodies as well as the
parsing and the error mapping. The response bodies are the samples of
openalgo.md and the API reference (001), plus the analyzer-mode shapes the
server really sends (``price_type``, ``"mode": "analyze"``, strings for
numbers). Nothing here talks to a real broker.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import traceback
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from loguru import logger
from pydantic import SecretStr, ValidationError

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
from broker.openalgo_rest import OpenAlgoClient
from broker.schemas import ModifyOrderRequest, PlaceOrderRequest
from messages.base import IST

KEY = "c32eb9dee6673190bb9dfab5f18ef0a96b0d76ba484cd36bc5ca5f7ebc8745bf"
STRATEGY = "baseline_v1"
CE = "NIFTY30DEC2526000CE"

ENTRY = OrderRequest(symbol=CE, action="SELL", quantity=75, pricetype="SL", price=126.95, trigger_price=129.95)


# =====================================================================================
# The fake server
# =====================================================================================
@dataclass
class Reply:
    status: int = 200
    body: str = ""
    hang: bool = False  # hold the request until the test ends, never answer
    drop: bool = False  # close the connection without an answer


@dataclass
class Received:
    path: str
    content_type: str
    raw: bytes
    client_port: int

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


class FakeOpenAlgo:
    """Scripted HTTP server: ``reply(endpoint, ...)`` queues answers, ``received`` lists requests."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._script: dict[str, deque[Reply]] = defaultdict(deque)
        self._lock = threading.Lock()
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # one write per answer (flushed by http.server), no Nagle stalls

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with fake._lock:
                    fake.received.append(
                        Received(self.path, self.headers.get("Content-Type", ""), raw, self.client_address[1])
                    )
                    queue = fake._script.get(self.path)
                    reply = queue.popleft() if queue else Reply(599, '{"message": "no scripted reply"}')
                if reply.hang:
                    fake.release.wait(10)
                    self.close_connection = True
                    return
                if reply.drop:
                    self.close_connection = True
                    return
                data = reply.body.encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)

    def reply(self, endpoint: str, body: Any = None, status: int = 200, *, raw: str | None = None, **kw: bool) -> None:
        text = raw if raw is not None else json.dumps(body)
        self._script[f"/api/v1/{endpoint}"].append(Reply(status, text, **kw))

    def only(self) -> Received:
        """The one request received (fails if there were more or none)."""
        assert len(self.received) == 1, [r.path for r in self.received]
        return self.received[0]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    fake = FakeOpenAlgo()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def client(server):
    c = OpenAlgoClient(server.url, KEY, STRATEGY)
    yield c
    c.close()


@pytest.fixture
def log_lines():
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="DEBUG", format="{message}")
    yield lines
    logger.remove(sink)


# =====================================================================================
# Recorded responses (openalgo.md, 001, and the analyzer's shapes)
# =====================================================================================
PLACE_OK = {"orderid": "240307000614705", "status": "success"}
PLACE_OK_ANALYZE = {"mode": "analyze", "orderid": "25122300123456", "status": "success"}
MODIFY_OK = {"orderid": "240307000562466", "status": "success"}
CANCEL_OK = {"orderid": "1000000123665912", "status": "success"}

ORDERSTATUS_001 = {
    "data": {
        "action": "BUY",
        "average_price": 18.95,
        "exchange": "NSE",
        "order_status": "complete",
        "orderid": "250828000185002",
        "price": 0,
        "pricetype": "MARKET",
        "product": "MIS",
        "quantity": "1",
        "symbol": "YESBANK",
        "timestamp": "28-Aug-2025 09:59:10",
        "trigger_price": 0,
    },
    "status": "success",
}

ORDERSTATUS_ANALYZE = {
    "data": {
        "orderid": "25122300123456",
        "symbol": CE,
        "exchange": "NFO",
        "action": "SELL",
        "quantity": 75,
        "price": 126.95,
        "trigger_price": 129.95,
        "price_type": "SL",
        "product": "MIS",
        "order_status": "trigger pending",
        "average_price": 0.0,
        "filled_quantity": 0,
        "pending_quantity": 75,
        "timestamp": "2025-12-23 10:15:30",
        "strategy": STRATEGY,
    },
    "mode": "analyze",
    "status": "success",
}

ORDERBOOK_001 = {
    "data": {
        "orders": [
            {
                "action": "SELL",
                "exchange": "NSE",
                "order_status": "complete",
                "orderid": "24120900000213",
                "price": 1500,
                "pricetype": "LIMIT",
                "product": "MIS",
                "quantity": 5,
                "symbol": "INFY",
                "timestamp": "09-Dec-2024 09:44:09",
                "trigger_price": 0,
            },
            {
                "action": "BUY",
                "exchange": "NSE",
                "order_status": "complete",
                "orderid": "24120900000212",
                "price": 0,
                "pricetype": "MARKET",
                "product": "MIS",
                "quantity": 10,
                "symbol": "RELIANCE",
                "timestamp": "09-Dec-2024 09:44:09",
                "trigger_price": 0,
            },
        ],
        "statistics": {
            "total_buy_orders": 1,
            "total_completed_orders": 2,
            "total_open_orders": 0,
            "total_rejected_orders": 0,
            "total_sell_orders": 1,
        },
    },
    "status": "success",
}

POSITIONBOOK_001 = {
    "data": [
        {"average_price": "0.00", "exchange": "NSE", "product": "MIS", "quantity": 0, "symbol": "YESBANK"},
        {"average_price": "0.00", "exchange": "NSE", "product": "MIS", "quantity": -1, "symbol": "INFY"},
        {"average_price": "0.00", "exchange": "NSE", "product": "MIS", "quantity": 1, "symbol": "RELIANCE"},
    ],
    "status": "success",
}

TRADEBOOK_001 = {
    "data": [
        {
            "action": "BUY",
            "average_price": 1914.4,
            "exchange": "NSE",
            "orderid": "24120900009388",
            "product": "MIS",
            "quantity": 1,
            "symbol": "INFY",
            "timestamp": "09-Dec-2024 09:16:48",
            "trade_value": 1914.4,
        },
        {
            "action": "SELL",
            "average_price": 21.61,
            "exchange": "NSE",
            "orderid": "24120900010875",
            "product": "MIS",
            "quantity": 20,
            "symbol": "YESBANK",
            "timestamp": "09-Dec-2024 09:17:30",
            "trade_value": 432.2,
        },
    ],
    "status": "success",
}

FUNDS_001 = {
    "data": {
        "availablecash": "18083.01",
        "collateral": "0.00",
        "m2mrealized": "0.00",
        "m2munrealized": "0.00",
        "utiliseddebits": "0.00",
    },
    "status": "success",
}

PING_001 = {"data": {"broker": "upstox", "message": "pong"}, "status": "success"}
ANALYZER_001 = {"data": {"analyze_mode": False, "mode": "live", "total_logs": 2}, "status": "success"}
TOGGLE_001 = {
    "data": {"analyze_mode": False, "message": "Analyzer mode switched to live", "mode": "live", "total_logs": 2},
    "status": "success",
}
CLOSEPOSITION_001 = {"message": "All Open Positions SquaredOff", "status": "success"}

QUOTES_001 = {
    "data": {
        "ask": 265.92,
        "bid": 265.84,
        "high": 270,
        "low": 265.32,
        "ltp": 265.93,
        "oi": 106860000,
        "open": 269,
        "prev_close": 268.52,
        "volume": 4214304,
    },
    "status": "success",
}

MULTIQUOTES = {
    "status": "success",
    "results": [
        {
            "symbol": "SBIN",
            "exchange": "NSE",
            "data": {
                "ask": 972.6,
                "bid": 0,
                "high": 980.6,
                "low": 971.05,
                "ltp": 972.6,
                "oi": 0,
                "open": 979.7,
                "prev_close": 981.55,
                "volume": 5377241,
            },
        },
        {"symbol": "NIFTY30DEC2599999CE", "exchange": "NFO", "error": "Symbol not found"},
    ],
}

SEARCH_001 = {
    "data": [
        {
            "brexchange": "NFO",
            "brsymbol": "NIFTY17JUL2525000CE",
            "exchange": "NFO",
            "expiry": "17-JUL-25",
            "instrumenttype": "OPTIDX",
            "lotsize": 75,
            "name": "NIFTY",
            "strike": 25000,
            "symbol": "NIFTY17JUL2525000CE",
            "tick_size": 0.05,
            "token": "47275",
        },
        {
            "brexchange": "NFO",
            "brsymbol": "NIFTY31JUL2525000CE",
            "exchange": "NFO",
            "expiry": "31-JUL-25",
            "instrumenttype": "OPTIDX",
            "lotsize": 75,
            "name": "NIFTY",
            "strike": 25000,
            "symbol": "NIFTY31JUL2525000CE",
            "tick_size": 0.05,
            "token": "55799",
        },
    ],
    "message": "Found 2 matching symbols",
    "status": "success",
}

HISTORY_001 = {
    "data": [
        {"close": 25292, "high": 25302.1, "low": 25272.3, "oi": 5401650, "open": 25302, "timestamp": 1750909500, "volume": 1042},
        {"close": 25298, "high": 25301, "low": 25287.6, "oi": 5401650, "open": 25288.9, "timestamp": 1750909560.0, "volume": 462},
        {"close": "25303", "high": "25310.1", "low": "25298.1", "open": "25298.9", "timestamp": 1750909620, "volume": "429"},
    ],
    "status": "success",
}

EXPIRY_OPTIONS = {
    "data": ["30-DEC-25", "06-jan-26", "23-DEC-25", "27-JAN-26", "30-MAR-26"],
    "message": "Found 5 expiry dates for NIFTY options in NFO",
    "status": "success",
}

SYMBOL_001 = {
    "data": {
        "brexchange": "NSE",
        "brsymbol": "ZOMATO-EQ",
        "exchange": "NSE",
        "expiry": "",
        "id": 7162,
        "instrumenttype": "",
        "lotsize": 1,
        "name": "ZOMATO",
        "strike": -0.01,
        "symbol": "ZOMATO",
        "tick_size": 0.01,
        "token": "5097",
    },
    "status": "success",
}

SYMBOL_OPTION = {
    "data": {
        "brexchange": "NFO",
        "brsymbol": "NIFTY25D3026000CE",
        "exchange": "NFO",
        "expiry": "30-DEC-25",
        "freeze_qty": "1800",
        "id": 91234,
        "instrumenttype": "OPTIDX",
        "lotsize": "75",
        "name": "NIFTY",
        "strike": "26000",
        "symbol": CE,
        "tick_size": "0.05",
        "token": "45504",
    },
    "mode": "analyze",
    "status": "success",
}

TELEGRAM_OK = {"status": "success", "message": "Notification sent successfully"}


# =====================================================================================
# Order calls: what is sent
# =====================================================================================
def test_place_order_sends_exactly_the_documented_fields(server, client):
    server.reply("placeorder", PLACE_OK)

    assert client.place_order(ENTRY) == "240307000614705"

    sent = server.only()
    assert sent.path == "/api/v1/placeorder"
    assert sent.content_type == "application/json"
    assert sent.json == {
        "apikey": KEY,
        "strategy": STRATEGY,
        "exchange": "NFO",
        "symbol": CE,
        "action": "SELL",
        "quantity": 75,
        "pricetype": "SL",
        "product": "MIS",
        "price": 126.95,
        "trigger_price": 129.95,
        "disclosed_quantity": 0,
    }
    assert type(sent.json["quantity"]) is int and type(sent.json["disclosed_quantity"]) is int


def test_place_order_in_analyze_mode_and_numeric_orderid(server, client):
    server.reply("placeorder", PLACE_OK_ANALYZE)
    server.reply("placeorder", {"orderid": 25122300123457, "status": "success"})

    assert client.place_order(ENTRY) == "25122300123456"
    assert client.place_order(ENTRY) == "25122300123457"


def test_place_order_success_without_orderid_is_an_unknown_outcome(server, client):
    server.reply("placeorder", {"status": "success"})

    with pytest.raises(TransportError):
        client.place_order(ENTRY)


def test_modify_order_sends_every_field_and_a_string_orderid(server, client):
    server.reply("modifyorder", MODIFY_OK)

    assert client.modify_order("240307000562466", ENTRY, 75, 120.0, 123.0) == "240307000562466"

    body = server.only().json
    assert set(body) == {
        "apikey",
        "strategy",
        "exchange",
        "symbol",
        "orderid",
        "action",
        "product",
        "pricetype",
        "price",
        "quantity",
        "disclosed_quantity",
        "trigger_price",
    }
    assert body["orderid"] == "240307000562466" and isinstance(body["orderid"], str)
    assert (body["price"], body["trigger_price"], body["quantity"]) == (120.0, 123.0, 75)
    assert (body["pricetype"], body["product"], body["exchange"], body["strategy"]) == ("SL", "MIS", "NFO", STRATEGY)


def test_modify_order_can_only_change_quantity_price_and_trigger(server, client):
    """OpenAlgo's modifyorder ignores a changed pricetype, action or product (with a 200): the
    client cannot even ask for one; the other fields always go as the order was placed."""
    server.reply("modifyorder", MODIFY_OK)
    placed = ENTRY.model_copy(update={"action": "BUY", "pricetype": "LIMIT", "product": "NRML"})

    client.modify_order("7", placed, 150, 101.0, 0.0)

    body = server.only().json
    assert (body["action"], body["pricetype"], body["product"], body["symbol"]) == ("BUY", "LIMIT", "NRML", ENTRY.symbol)
    assert (body["quantity"], body["price"], body["trigger_price"]) == (150, 101.0, 0.0)


def test_cancel_order_sends_apikey_strategy_and_orderid_only(server, client):
    server.reply("cancelorder", CANCEL_OK)

    assert client.cancel_order("1000000123665912") is None

    assert server.only().json == {"apikey": KEY, "strategy": STRATEGY, "orderid": "1000000123665912"}


def test_an_order_the_server_would_refuse_is_rejected_before_sending(server, client):
    odd = ENTRY.model_copy(update={"product": "BO"})

    with pytest.raises(OrderRejected, match="product"):
        client.place_order(odd)
    assert server.received == []


def test_request_models_forbid_unknown_and_missing_fields():
    fields = dict(
        apikey=KEY,
        strategy=STRATEGY,
        exchange="NFO",
        symbol=CE,
        action="BUY",
        quantity=75,
        pricetype="SL",
        product="MIS",
        price=1.0,
        trigger_price=2.0,
        disclosed_quantity=0,
    )
    PlaceOrderRequest(**fields)
    with pytest.raises(ValidationError):
        PlaceOrderRequest(**fields, price_type="SL")
    with pytest.raises(ValidationError):  # modifyorder needs the orderid…
        ModifyOrderRequest(**fields)
    without_disclosed = {k: v for k, v in fields.items() if k != "disclosed_quantity"}
    with pytest.raises(ValidationError):  # …and every other field
        ModifyOrderRequest(**without_disclosed, orderid="1")
    with pytest.raises(ValidationError):  # no SL-L in OpenAlgo
        PlaceOrderRequest(**{**fields, "pricetype": "SL-L"})
    assert KEY not in repr(PlaceOrderRequest(**fields))


# =====================================================================================
# Order calls: what is read
# =====================================================================================
def test_order_status_reference_sample(server, client):
    server.reply("orderstatus", ORDERSTATUS_001)

    snap = client.order_status("24120900146469")

    assert server.only().json == {"apikey": KEY, "strategy": STRATEGY, "orderid": "24120900146469"}
    assert snap == OrderSnapshot(
        orderid="250828000185002",
        symbol="YESBANK",
        action="BUY",
        quantity=1,  # sent as "1"
        pricetype="MARKET",
        price=0.0,
        trigger_price=0.0,
        status="complete",
        filled_quantity=1,  # not sent: a complete order is filled in full
        average_price=18.95,
        exchange="NSE",
        product="MIS",
        timestamp=datetime(2025, 8, 28, 9, 59, 10, tzinfo=IST),
    )


def test_order_status_analyzer_shape_with_price_type(server, client):
    server.reply("orderstatus", ORDERSTATUS_ANALYZE)

    snap = client.order_status("25122300123456")

    assert snap.pricetype == "SL"
    assert snap.status == "trigger pending"
    assert (snap.quantity, snap.filled_quantity, snap.average_price) == (75, 0, 0.0)
    assert (snap.price, snap.trigger_price) == (126.95, 129.95)
    assert snap.timestamp == datetime(2025, 12, 23, 10, 15, 30, tzinfo=IST)


@pytest.mark.parametrize(
    ("sent", "read"),
    [("validation pending", "validation pending"), ("AMO REQ RECEIVED", "AMO REQ RECEIVED"), ("COMPLETE", "complete"), ("Trigger Pending", "trigger pending")],
)
def test_order_status_words(server, client, sent, read):
    reply = json.loads(json.dumps(ORDERSTATUS_ANALYZE))
    reply["data"]["order_status"] = sent
    server.reply("orderstatus", reply)

    assert client.order_status("25122300123456").status == read


def test_order_status_strings_for_numbers_and_missing_orderid(server, client):
    reply = json.loads(json.dumps(ORDERSTATUS_ANALYZE))
    data = reply["data"]
    del data["orderid"]
    data.update(quantity="75", filled_quantity="75", average_price="127.10", price="126.95", trigger_price="129.95", order_status="complete")
    server.reply("orderstatus", reply)

    snap = client.order_status("25122300123456")

    assert snap.orderid == "25122300123456"
    assert (snap.quantity, snap.filled_quantity, snap.average_price, snap.trigger_price) == (75, 75, 127.10, 129.95)


def test_order_book_reference_sample_and_analyzer_rows(server, client):
    reply = json.loads(json.dumps(ORDERBOOK_001))
    reply["mode"] = "analyze"
    reply["data"]["orders"] += [
        {
            "orderid": "25122300123456",
            "symbol": CE,
            "exchange": "NFO",
            "action": "SELL",
            "quantity": "75",
            "price": "126.95",
            "trigger_price": "129.95",
            "pricetype": "SL",
            "product": "MIS",
            "order_status": "open",
            "average_price": "0.00",
            "filled_quantity": "0",
            "pending_quantity": 75,
            "rejection_reason": "",
            "timestamp": "2025-12-23 10:15:30",
            "strategy": STRATEGY,
        },
        {"orderid": "999", "symbol": "??", "order_status": "open"},  # no action: unreadable, skipped
    ]
    server.reply("orderbook", reply)

    book = client.order_book()

    assert server.only().json == {"apikey": KEY}
    assert [row.orderid for row in book] == ["24120900000213", "24120900000212", "25122300123456"]
    infy, reliance, ours = book
    assert (infy.action, infy.quantity, infy.price, infy.pricetype, infy.status) == ("SELL", 5, 1500.0, "LIMIT", "complete")
    assert infy.filled_quantity == 5 and infy.average_price == 0.0  # not given by this broker
    assert infy.timestamp == datetime(2024, 12, 9, 9, 44, 9, tzinfo=IST)
    assert reliance.pricetype == "MARKET" and reliance.exchange == "NSE"
    assert (ours.quantity, ours.price, ours.trigger_price, ours.filled_quantity, ours.status) == (75, 126.95, 129.95, 0, "open")
    assert (ours.strategy, infy.strategy) == (STRATEGY, None)  # the gateway's look-up compares it where given


@pytest.mark.parametrize(
    "reply",
    [
        {"data": {"orders": [], "statistics": {"total_open_orders": 0}}, "status": "success"},
        {"data": [], "status": "success"},
        {"data": None, "status": "success", "mode": "analyze"},
    ],
)
def test_empty_order_book(server, client, reply):
    server.reply("orderbook", reply)

    assert client.order_book() == []


def test_position_book_signed_quantities_and_string_prices(server, client):
    reply = json.loads(json.dumps(POSITIONBOOK_001))
    reply["data"].append(
        {"symbol": CE, "exchange": "NFO", "product": "MIS", "quantity": "-75", "average_price": "127.10", "ltp": "120.5", "pnl": "493.50"}
    )
    server.reply("positionbook", reply)
    server.reply("positionbook", reply)

    rows = client.position_book()

    assert server.received[0].json == {"apikey": KEY}
    assert rows == [
        PositionRow(symbol="YESBANK", exchange="NSE", product="MIS", quantity=0, average_price=0.0),
        PositionRow(symbol="INFY", exchange="NSE", product="MIS", quantity=-1, average_price=0.0),
        PositionRow(symbol="RELIANCE", exchange="NSE", product="MIS", quantity=1, average_price=0.0),
        PositionRow(symbol=CE, exchange="NFO", product="MIS", quantity=-75, average_price=127.10),
    ]
    detail = client.position_book_detail()
    assert (detail[3].ltp, detail[3].pnl) == (120.5, 493.5)
    assert detail[0].ltp is None


def test_trade_book(server, client):
    server.reply("tradebook", TRADEBOOK_001)

    trades = client.trade_book()

    assert server.only().json == {"apikey": KEY}
    assert [(t.orderid, t.action, t.quantity, t.average_price) for t in trades] == [
        ("24120900009388", "BUY", 1, 1914.4),
        ("24120900010875", "SELL", 20, 21.61),
    ]
    assert trades[1].trade_value == 432.2
    assert trades[0].timestamp == datetime(2024, 12, 9, 9, 16, 48, tzinfo=IST)


def test_close_position(server, client):
    server.reply("closeposition", CLOSEPOSITION_001)
    server.reply("closeposition", {**CLOSEPOSITION_001, "mode": "analyze"})

    first = client.close_position()
    second = client.close_position()

    assert server.received[0].json == {"apikey": KEY, "strategy": STRATEGY}
    assert (first.message, first.analyze) == ("All Open Positions SquaredOff", False)
    assert second.analyze is True


# =====================================================================================
# Account and data calls
# =====================================================================================
def test_ping(server, client):
    server.reply("ping", PING_001)

    info = client.ping()

    assert server.only().json == {"apikey": KEY}
    assert (info.broker, info.message) == ("upstox", "pong")


def test_analyzer_status_and_toggle(server, client):
    server.reply("analyzer", ANALYZER_001)
    server.reply("analyzer/toggle", TOGGLE_001)
    server.reply(
        "analyzer/toggle",
        {"data": {"analyze_mode": True, "message": "Analyzer mode switched to analyze", "mode": "analyze", "total_logs": 2}, "mode": "analyze", "status": "success"},
    )

    status = client.analyzer_status()
    live = client.analyzer_toggle(False)
    paper = client.analyzer_toggle(True)

    assert [r.json for r in server.received] == [
        {"apikey": KEY},
        {"apikey": KEY, "mode": False},
        {"apikey": KEY, "mode": True},
    ]
    assert (status.analyze_mode, status.mode, status.total_logs) == (False, "live", 2)
    assert live.message == "Analyzer mode switched to live" and live.analyze_mode is False
    assert paper.analyze_mode is True and paper.mode == "analyze"


def test_funds_as_strings_and_as_numbers(server, client):
    server.reply("funds", FUNDS_001)
    server.reply(
        "funds",
        {"data": {"availablecash": 10000000.0, "collateral": 0, "m2mrealized": -1250.5, "m2munrealized": 300, "utiliseddebits": 98000}, "mode": "analyze", "status": "success"},
    )

    live = client.funds()
    paper = client.funds()

    assert server.received[0].json == {"apikey": KEY}
    assert (live.availablecash, live.collateral, live.utiliseddebits) == (18083.01, 0.0, 0.0)
    assert (paper.availablecash, paper.m2mrealized, paper.m2munrealized) == (10_000_000.0, -1250.5, 300.0)


def test_quote(server, client):
    server.reply("quotes", QUOTES_001)

    quote = client.quote("WIPRO", "NSE")

    assert server.only().json == {"apikey": KEY, "symbol": "WIPRO", "exchange": "NSE"}
    assert (quote.ltp, quote.bid, quote.ask, quote.prev_close, quote.volume, quote.oi) == (265.93, 265.84, 265.92, 268.52, 4214304, 106860000)


def test_quote_with_missing_optional_fields(server, client):
    server.reply("quotes", {"data": {"ltp": "101.25", "volume": "1200"}, "status": "success"})

    quote = client.quote(CE, "NFO")

    assert (quote.ltp, quote.volume, quote.bid, quote.oi) == (101.25, 1200, None, None)


def test_multi_quotes_per_symbol_data_or_error(server, client):
    server.reply("multiquotes", MULTIQUOTES)

    results = client.multi_quotes([("SBIN", "NSE"), ("NIFTY30DEC2599999CE", "NFO")])

    assert server.only().json == {
        "apikey": KEY,
        "symbols": [{"symbol": "SBIN", "exchange": "NSE"}, {"symbol": "NIFTY30DEC2599999CE", "exchange": "NFO"}],
    }
    sbin, missing = results
    assert sbin.ok and sbin.data.ltp == 972.6 and sbin.data.bid == 0.0
    assert not missing.ok and missing.data is None and missing.error == "Symbol not found"


def test_search(server, client):
    server.reply("search", SEARCH_001)
    server.reply("search", {"data": [], "message": "Found 0 matching symbols", "status": "success"})

    found = client.search("NIFTY 25000 JUL CE", "NFO")
    nothing = client.search("RELIANCE")

    assert server.received[0].json == {"apikey": KEY, "query": "NIFTY 25000 JUL CE", "exchange": "NFO"}
    assert server.received[1].json == {"apikey": KEY, "query": "RELIANCE"}  # optional exchange left out
    assert [(s.symbol, s.lotsize, s.tick_size, s.strike, s.expiry) for s in found] == [
        ("NIFTY17JUL2525000CE", 75, 0.05, 25000.0, date(2025, 7, 17)),
        ("NIFTY31JUL2525000CE", 75, 0.05, 25000.0, date(2025, 7, 31)),
    ]
    assert nothing == []


def test_history_epoch_seconds_become_ist(server, client):
    server.reply("history", HISTORY_001)

    candles = client.history("NIFTY31JUL25FUT", "NFO", "1m", date(2025, 6, 26), date(2025, 6, 27))

    assert server.only().json == {
        "apikey": KEY,
        "symbol": "NIFTY31JUL25FUT",
        "exchange": "NFO",
        "interval": "1m",
        "start_date": "2025-06-26",
        "end_date": "2025-06-27",
    }
    assert [c.timestamp for c in candles] == [
        datetime(2025, 6, 26, 9, 15, tzinfo=IST),
        datetime(2025, 6, 26, 9, 16, tzinfo=IST),
        datetime(2025, 6, 26, 9, 17, tzinfo=IST),
    ]
    assert all(c.timestamp.utcoffset().total_seconds() == 5.5 * 3600 for c in candles)
    first, _, last = candles
    assert (first.open, first.high, first.low, first.close, first.volume, first.oi) == (25302.0, 25302.1, 25272.3, 25292.0, 1042, 5401650)
    assert (last.open, last.close, last.volume, last.oi) == (25298.9, 25303.0, 429, None)


def test_expiries_sorted_as_dates(server, client):
    server.reply("expiry", EXPIRY_OPTIONS)

    expiries = client.expiries("NIFTY", "NFO", "options")

    assert server.only().json == {"apikey": KEY, "symbol": "NIFTY", "exchange": "NFO", "instrumenttype": "options"}
    assert expiries == [date(2025, 12, 23), date(2025, 12, 30), date(2026, 1, 6), date(2026, 1, 27), date(2026, 3, 30)]


def test_symbol_info_equity_sample_and_option(server, client):
    server.reply("symbol", SYMBOL_001)
    server.reply("symbol", SYMBOL_OPTION)

    zomato = client.symbol_info("ZOMATO", "NSE")
    option = client.symbol_info(CE, "NFO")

    assert server.received[1].json == {"apikey": KEY, "symbol": CE, "exchange": "NFO"}
    assert (zomato.lotsize, zomato.tick_size, zomato.expiry, zomato.strike, zomato.freeze_qty) == (1, 0.01, None, -0.01, None)
    assert (option.lotsize, option.tick_size, option.freeze_qty, option.expiry, option.strike) == (75, 0.05, 1800, date(2025, 12, 30), 26000.0)


def test_telegram_notify(server, client):
    server.reply("telegram/notify", TELEGRAM_OK)
    server.reply("telegram/notify", {"status": "error", "message": "User not found or not linked to Telegram"}, 404)
    server.reply("telegram/notify", {"status": "error", "message": "Invalid or missing API key"}, 403)

    sent = client.telegram_notify("john_trader", "stop hit on NIFTY 26000 CE", priority=9)
    unlinked = client.telegram_notify("nobody", "hello")

    assert server.received[0].json == {"apikey": KEY, "username": "john_trader", "message": "stop hit on NIFTY 26000 CE", "priority": 9}
    assert server.received[1].json["priority"] == 5
    assert sent.delivered and sent.http_status == 200
    assert not unlinked.delivered and unlinked.http_status == 404 and "not linked" in unlinked.message
    with pytest.raises(AuthError):
        client.telegram_notify("john_trader", "x")


# =====================================================================================
# Error mapping
# =====================================================================================
def test_400_with_a_string_message(server, client):
    server.reply("placeorder", {"status": "error", "message": "Quantity must be in multiples of lot size 75", "mode": "analyze"}, 400)

    with pytest.raises(OrderRejected) as caught:
        client.place_order(ENTRY)

    assert type(caught.value) is OrderRejected and not caught.value.retryable
    assert "Quantity must be in multiples of lot size 75" in str(caught.value)
    assert "analyze" in str(caught.value)


def test_400_with_an_object_message(server, client):
    server.reply("placeorder", {"status": "error", "message": {"quantity": ["Not a valid integer."], "price_type": ["Unknown field."]}}, 400)

    with pytest.raises(OrderRejected) as caught:
        client.place_order(ENTRY)

    assert "quantity: Not a valid integer.; price_type: Unknown field." in str(caught.value)


def test_400_with_a_stringified_dict_message(server, client):
    server.reply(
        "placeorder",
        {"status": "error", "message": "{'status': 'error', 'message': 'RMS:Margin Exceeds, Required:98000.00, Available:18083.01'}"},
        400,
    )

    with pytest.raises(OrderRejected) as caught:
        client.place_order(ENTRY)

    assert "RMS:Margin Exceeds, Required:98000.00, Available:18083.01" in str(caught.value)
    assert "{'status'" not in str(caught.value)


def test_a_reject_naming_a_status_on_placement_is_a_plain_reject(server, client):
    server.reply("placeorder", {"status": "error", "message": "Order rejected: trigger price already crossed"}, 400)

    with pytest.raises(OrderRejected) as caught:
        client.place_order(ENTRY)

    assert type(caught.value) is OrderRejected


def test_200_with_status_error_is_a_reject(server, client):
    server.reply("placeorder", {"status": "error", "message": "Order placement failed"})

    with pytest.raises(OrderRejected, match="Order placement failed"):
        client.place_order(ENTRY)


@pytest.mark.parametrize(
    ("message", "status"),
    [
        ("Cannot cancel order in complete status", "complete"),
        ("Cannot cancel order in cancelled status", "cancelled"),
        ("Order is already CANCELLED", "cancelled"),
        ("Order cannot be cancelled as it is in REJECTED state", "rejected"),
        ("{'status': 'error', 'message': 'Order status is Complete'}", "complete"),
        ({"message": "Order already canceled"}, "cancelled"),
    ],
)
def test_cancel_of_a_final_order_is_not_cancellable(server, client, message, status):
    server.reply("cancelorder", {"status": "error", "message": message, "mode": "analyze"}, 400)

    with pytest.raises(OrderNotCancellable) as caught:
        client.cancel_order("25122300123456")

    assert caught.value.status == status


def test_cancel_refused_without_a_final_status_is_a_plain_reject(server, client):
    server.reply("cancelorder", {"status": "error", "message": "Order cannot be cancelled as it is being processed. Try later."}, 400)

    with pytest.raises(OrderRejected) as caught:
        client.cancel_order("25122300123456")

    assert type(caught.value) is OrderRejected


def test_modify_of_a_final_order_is_not_cancellable(server, client):
    server.reply("modifyorder", {"status": "error", "message": "Cannot modify order in cancelled status", "mode": "analyze"}, 400)

    with pytest.raises(OrderNotCancellable) as caught:
        client.modify_order("25122300123456", ENTRY, ENTRY.quantity, ENTRY.price, ENTRY.trigger_price)

    assert caught.value.status == "cancelled"


ERROR_CASES = [
    (403, {"status": "error", "message": "Invalid openalgo apikey"}, AuthError),
    (401, {"status": "error", "message": "Authorization error"}, AuthError),
    (404, {"status": "error", "message": "Order 25122300123456 not found", "mode": "analyze"}, NotFound),
    (429, {"message": "10 per 1 second"}, RateLimited),
    (500, {"status": "error", "message": "Error placing order: broker timeout"}, ServerError),
    (503, "<html><body>Service Unavailable</body></html>", ServerError),
    (409, {"status": "error", "message": "Conflict"}, OrderRejected),
]


@pytest.mark.parametrize(("code", "body", "error"), ERROR_CASES)
def test_http_status_codes(server, client, code, body, error):
    raw = body if isinstance(body, str) else json.dumps(body)
    server.reply("orderstatus", status=code, raw=raw)

    with pytest.raises(error) as caught:
        client.order_status("25122300123456")

    assert type(caught.value) is error
    assert f"HTTP {code}" in str(caught.value)
    assert caught.value.retryable is (code == 429 or code >= 500)


def test_rate_limit_message_is_kept(server, client):
    server.reply("placeorder", {"message": "10 per 1 second"}, 429)

    with pytest.raises(RateLimited, match="10 per 1 second"):
        client.place_order(ENTRY)


def test_cancel_of_an_unknown_order_is_not_found(server, client):
    server.reply("cancelorder", {"status": "error", "message": "Order 42 not found", "mode": "analyze"}, 404)

    with pytest.raises(NotFound):
        client.cancel_order("42")


# =====================================================================================
# Transport
# =====================================================================================
def test_invalid_json_from_a_2xx_is_a_transport_error(server, client):
    server.reply("placeorder", raw="<html>proxy says hi</html>")

    with pytest.raises(TransportError) as caught:
        client.place_order(ENTRY)

    assert caught.value.retryable


def test_a_2xx_of_the_wrong_shape_is_a_transport_error(server, client):
    server.reply("ping", {"status": "success"})  # no data
    server.reply("orderbook", raw='["not", "an", "object"]')

    with pytest.raises(TransportError, match="ping"):
        client.ping()
    with pytest.raises(TransportError, match="orderbook"):
        client.order_book()


def test_connection_refused_is_a_transport_error():
    with socket.socket() as bound:  # bound, never listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        with OpenAlgoClient(f"http://127.0.0.1:{port}", KEY, STRATEGY, connect_timeout=1.0) as client:
            with pytest.raises(TransportError) as caught:
                client.ping()

    assert caught.value.retryable
    assert KEY not in str(caught.value)


def test_a_slow_server_is_a_read_timeout(server):
    server.reply("placeorder", hang=True)

    with OpenAlgoClient(server.url, KEY, STRATEGY, read_timeout=0.2) as client:
        with pytest.raises(TransportError, match="timed out"):
            client.place_order(ENTRY)


def test_a_dropped_connection_is_a_transport_error(server, client):
    server.reply("orderbook", drop=True)

    with pytest.raises(TransportError):
        client.order_book()


def test_one_pooled_connection_is_reused(server, client):
    server.reply("ping", PING_001)
    server.reply("funds", FUNDS_001)

    client.ping()
    client.funds()

    first, second = server.received
    assert first.client_port == second.client_port


class RecordingSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, object]] = []

    def post(self, url, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        self.calls.append((url, kwargs.get("timeout")))
        return super().post(url, *args, **kwargs)


def test_every_call_has_both_timeouts_and_uses_the_given_session(server):
    session = RecordingSession()
    client = OpenAlgoClient(server.url + "/", SecretStr(KEY), STRATEGY, connect_timeout=1.5, read_timeout=4.0, session=session)
    replies = {
        "placeorder": PLACE_OK,
        "modifyorder": MODIFY_OK,
        "cancelorder": CANCEL_OK,
        "orderstatus": ORDERSTATUS_001,
        "orderbook": ORDERBOOK_001,
        "positionbook": POSITIONBOOK_001,
        "ping": PING_001,
        "analyzer": ANALYZER_001,
        "analyzer/toggle": TOGGLE_001,
        "funds": FUNDS_001,
        "tradebook": TRADEBOOK_001,
        "closeposition": CLOSEPOSITION_001,
        "quotes": QUOTES_001,
        "multiquotes": MULTIQUOTES,
        "search": SEARCH_001,
        "history": HISTORY_001,
        "expiry": EXPIRY_OPTIONS,
        "symbol": SYMBOL_001,
        "telegram/notify": TELEGRAM_OK,
    }
    for endpoint, body in replies.items():
        server.reply(endpoint, body)

    client.place_order(ENTRY)
    client.modify_order("1", ENTRY, ENTRY.quantity, ENTRY.price, ENTRY.trigger_price)
    client.cancel_order("1")
    client.order_status("1")
    client.order_book()
    client.position_book()
    client.ping()
    client.analyzer_status()
    client.analyzer_toggle(True)
    client.funds()
    client.trade_book()
    client.close_position()
    client.quote("WIPRO", "NSE")
    client.multi_quotes([("SBIN", "NSE")])
    client.search("NIFTY", "NFO")
    client.history(CE, "NFO", "1m", date(2025, 6, 26), date(2025, 6, 26))
    client.expiries("NIFTY", "NFO")
    client.symbol_info("ZOMATO", "NSE")
    client.telegram_notify("john_trader", "hi")
    client.close()  # not ours to close: the session stays usable

    assert [url for url, _ in session.calls] == [f"{server.url}/api/v1/{endpoint}" for endpoint in replies]
    assert {timeout for _, timeout in session.calls} == {(1.5, 4.0)}
    assert all(r.json["apikey"] == KEY for r in server.received)
    server.reply("ping", PING_001)
    assert session.post(f"{server.url}/api/v1/ping", json={"apikey": KEY}, timeout=2).status_code == 200
    session.close()


# =====================================================================================
# Impossible numbers: NaN, ±infinity, negatives where none can be
# =====================================================================================
NAN, INF = float("nan"), float("inf")  # json.dumps writes NaN / Infinity, which json.loads reads back


def _changed(sample: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """A deep copy of ``sample`` with the item at ``path`` set to ``value``."""
    reply = json.loads(json.dumps(sample))
    target = reply
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return reply


_ORDERBOOK_OURS = {"data": {"orders": [ORDERSTATUS_ANALYZE["data"]]}, "mode": "analyze", "status": "success"}
_POSITIONBOOK_OURS = {
    "data": [{"symbol": CE, "exchange": "NFO", "product": "MIS", "quantity": "-75", "average_price": "127.10", "ltp": "120.5", "pnl": "493.50"}],
    "status": "success",
}

#: endpoint → (sample reply, path to the changed row, the call)
_CALLS = {
    "orderbook": (_ORDERBOOK_OURS, ("data", "orders", 0), lambda c: c.order_book()),
    "orderstatus": (ORDERSTATUS_ANALYZE, ("data",), lambda c: c.order_status("25122300123456")),
    "tradebook": (TRADEBOOK_001, ("data", 1), lambda c: c.trade_book()),
    "positionbook": (_POSITIONBOOK_OURS, ("data", 0), lambda c: c.position_book()),
    "funds": (FUNDS_001, ("data",), lambda c: c.funds()),
    "quotes": (QUOTES_001, ("data",), lambda c: c.quote("WIPRO", "NSE")),
    "multiquotes": (MULTIQUOTES, ("results", 0, "data"), lambda c: c.multi_quotes([("SBIN", "NSE")])),
    "symbol": (SYMBOL_OPTION, ("data",), lambda c: c.symbol_info(CE, "NFO")),
    "search": (SEARCH_001, ("data", 0), lambda c: c.search("NIFTY 25000 JUL CE", "NFO")),
    "history": (HISTORY_001, ("data", 1), lambda c: c.history("NIFTY31JUL25FUT", "NFO", "1m", date(2025, 6, 26), date(2025, 6, 26))),
}

_IMPOSSIBLE = [
    ("orderbook", "average_price", NAN),
    ("orderbook", "price", "inf"),
    ("orderbook", "trigger_price", -0.05),
    ("orderbook", "quantity", "nan"),
    ("orderbook", "filled_quantity", -75),
    ("orderstatus", "average_price", "NaN"),
    ("orderstatus", "price", -126.95),
    ("orderstatus", "trigger_price", INF),
    ("orderstatus", "quantity", -75),
    ("orderstatus", "filled_quantity", "Infinity"),
    ("tradebook", "average_price", NAN),
    ("tradebook", "quantity", -20),
    ("tradebook", "trade_value", "-Infinity"),
    ("positionbook", "average_price", "nan"),
    ("positionbook", "average_price", -127.10),
    ("positionbook", "ltp", INF),
    ("positionbook", "ltp", "-120.5"),
    ("positionbook", "quantity", "nan"),  # may be negative, never NaN
    ("positionbook", "pnl", NAN),  # may be negative, never NaN
    ("funds", "availablecash", "nan"),
    ("funds", "availablecash", -1),
    ("funds", "collateral", "-0.01"),
    ("funds", "utiliseddebits", INF),
    ("funds", "m2mrealized", NAN),  # may be negative, never NaN
    ("funds", "m2munrealized", "-inf"),
    ("quotes", "ltp", NAN),
    ("quotes", "ltp", "nan"),
    ("quotes", "ltp", -265.93),
    ("quotes", "bid", "inf"),
    ("quotes", "ask", -1),
    ("quotes", "open", "1e400"),  # overflows to infinity
    ("quotes", "volume", -5),
    ("quotes", "volume", 10**400),  # a whole number no float holds
    ("quotes", "oi", "nan"),
    ("multiquotes", "ltp", NAN),
    ("symbol", "lotsize", "nan"),
    ("symbol", "lotsize", -75),
    ("symbol", "freeze_qty", INF),
    ("symbol", "tick_size", -0.05),
    ("symbol", "strike", NAN),  # may be negative (equities: -0.01), never NaN
    ("search", "lotsize", NAN),
    ("history", "open", -1),
    ("history", "high", INF),
    ("history", "low", NAN),
    ("history", "close", "nan"),
    ("history", "volume", -429),
    ("history", "oi", "-1"),
]


@pytest.mark.parametrize(("endpoint", "field", "value"), _IMPOSSIBLE, ids=[f"{e}-{f}-{v!r:.12}" for e, f, v in _IMPOSSIBLE])
def test_an_impossible_number_is_a_transport_error_naming_the_endpoint_and_field(server, client, endpoint, field, value):
    sample, row, call = _CALLS[endpoint]
    server.reply(endpoint, _changed(sample, (*row, field), value))

    with pytest.raises(TransportError) as caught:
        call(client)

    assert isinstance(caught.value, BrokerError)
    assert re.match(rf"{endpoint}: .*\b{field}: (not a finite number|negative) \(", str(caught.value)), str(caught.value)


def test_an_order_book_row_with_an_impossible_number_fails_the_call_instead_of_being_skipped(server, client):
    reply = _changed(_ORDERBOOK_OURS, ("data", "orders", 0, "average_price"), NAN)
    reply["data"]["orders"].append({"orderid": "999", "symbol": "??", "order_status": "open"})  # unreadable: still skipped
    server.reply("orderbook", reply)
    server.reply("orderbook", _ORDERBOOK_OURS | {"data": {"orders": reply["data"]["orders"][1:]}})

    with pytest.raises(TransportError, match=r"^orderbook: unusable order '25122300123456': average_price: not a finite number \(nan\)$"):
        client.order_book()
    assert client.order_book() == []


def test_legal_negatives_and_zeros_are_still_read(server, client):
    """Guard (passes before and after): P&L and a short position are signed; prices may be 0."""
    server.reply("positionbook", _changed(_POSITIONBOOK_OURS, ("data", 0, "pnl"), "-493.50"))
    server.reply("funds", _changed(FUNDS_001, ("data", "m2munrealized"), "-300.25"))
    server.reply("orderstatus", _changed(ORDERSTATUS_001, ("data", "average_price"), 0))

    (position,) = client.position_book_detail()
    funds = client.funds()
    market = client.order_status("250828000185002")

    assert (position.quantity, position.pnl) == (-75, -493.5)
    assert funds.m2munrealized == -300.25
    assert (market.price, market.trigger_price, market.average_price) == (0.0, 0.0, 0.0)


# =====================================================================================
# The API key stays secret
# =====================================================================================
def test_the_key_never_appears_in_errors_or_logs(server, client, log_lines):
    server.reply("ping", {"status": "error", "message": f"Invalid openalgo apikey {KEY}"}, 403)
    server.reply("placeorder", {"status": "error", "message": {"apikey": [f"{KEY} is not valid"]}}, 400)
    server.reply("funds", raw=f"not json {KEY}")
    server.reply("orderbook", hang=True)
    errors: list[BaseException] = []

    for call in (client.ping, lambda: client.place_order(ENTRY), client.funds):
        with pytest.raises(Exception) as caught:
            call()
        errors.append(caught.value)
    with OpenAlgoClient(server.url, KEY, STRATEGY, read_timeout=0.2) as slow:
        with pytest.raises(TransportError) as caught:
            slow.order_book()
        errors.append(caught.value)
        assert KEY not in repr(slow)

    assert [type(e) for e in errors] == [AuthError, OrderRejected, TransportError, TransportError]
    assert "Invalid openalgo apikey ***" in str(errors[0])
    for error in errors:
        assert KEY not in str(error)
        assert KEY not in "".join(traceback.format_exception(error))
    assert log_lines, "the client logs its calls"
    assert not [line for line in log_lines if KEY in line]


def test_a_short_key_is_masked_as_a_token_not_inside_words(server) -> None:
    """"Max retries exceeded" stays readable with the key "x"; "key x rejected" does not show it."""
    with OpenAlgoClient(server.url, "x", STRATEGY) as short:
        assert short._mask("Max retries exceeded; key x rejected (x)") == "Max retries exceeded; key *** rejected (***)"


def test_margin_of_a_basket(server, client):
    """``margin`` (001): quantities and prices go as strings; the reply's total in rupees."""
    server.reply("margin", {"status": "success", "data": {"total_margin_required": 328482.00,
                                                          "span_margin": 258482.00, "exposure_margin": 70000.00}})
    server.reply("margin", {"status": "error", "message": "Invalid symbol: NIFTYX on exchange: NFO"}, 400)
    margin = client.margin([("NIFTY30DEC2526000CE", "NFO", "SELL", 750), ("NIFTY30DEC2526000PE", "NFO", "SELL", 750)],
                           "MIS")
    assert server.received[0].json == {"apikey": KEY, "positions": [
        {"symbol": "NIFTY30DEC2526000CE", "exchange": "NFO", "action": "SELL", "quantity": "750", "product": "MIS",
         "pricetype": "MARKET", "price": "0", "trigger_price": "0"},
        {"symbol": "NIFTY30DEC2526000PE", "exchange": "NFO", "action": "SELL", "quantity": "750", "product": "MIS",
         "pricetype": "MARKET", "price": "0", "trigger_price": "0"},
    ]}
    assert (margin.total_margin_required, margin.span_margin, margin.exposure_margin) == (328482.0, 258482.0, 70000.0)
    with pytest.raises(BrokerError, match="Invalid symbol"):
        client.margin([("NIFTYX", "NFO", "SELL", 75)], "MIS")
    with pytest.raises(ValueError, match="1 to 50 positions"):
        client.margin([], "MIS")
