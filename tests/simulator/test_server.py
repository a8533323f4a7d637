"""The OpenAlgo simulator server over raw HTTP (requests) and WebSocket (websocket-client).

Validation and error codes as openalgo.md describes them, every fault knob,
the analyzer toggle, no future leakage in history, the WebSocket protocol.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from datetime import time as dtime
from typing import Any

import pytest
import requests
import websocket

from simulator.faults import Faults
from simulator.server import SimulatorServer
from tests.contract.small_market import CE, CE2, INDEX, LOT, PE, build_market
from tests.waiting import wait_for

KEY = "raw-test-key-abcdef0123456789"


@pytest.fixture
def make_server() -> Iterator[Callable[..., SimulatorServer]]:
    """``make_server(**overrides)``: a started simulator (09:20 start, speed 60); all stopped at teardown."""
    servers: list[SimulatorServer] = []

    def make(**overrides: Any) -> SimulatorServer:
        options: dict[str, Any] = {"api_key": KEY, "speed": 60, "start": dtime(9, 20)}
        options.update(overrides)
        server = SimulatorServer(build_market(), **options).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., SimulatorServer]) -> SimulatorServer:
    return make_server()


def post(server: SimulatorServer, endpoint: str, timeout: float = 5.0, apikey: str | None = KEY, **body: Any) -> requests.Response:
    payload = dict(body)
    if apikey is not None:
        payload = {"apikey": apikey, **payload}
    return requests.post(f"{server.rest_url}/api/v1/{endpoint}", json=payload, timeout=timeout)


def place(server: SimulatorServer, symbol: str = CE, action: str = "BUY", pricetype: str = "MARKET", **extra: Any) -> requests.Response:
    body = {"strategy": "raw", "symbol": symbol, "exchange": "NFO", "action": action, "quantity": str(LOT), "pricetype": pricetype, "product": "MIS"}
    body.update(extra)
    return post(server, "placeorder", **body)


def status_of(server: SimulatorServer, orderid: str) -> dict[str, Any]:
    return post(server, "orderstatus", strategy="raw", orderid=orderid).json()["data"]


def sim_now(server: SimulatorServer) -> datetime:
    return datetime.fromisoformat(requests.get(f"{server.rest_url}/sim/clock", timeout=5).json()["sim_time"])


def ltp(server: SimulatorServer, symbol: str = CE) -> float:
    return post(server, "quotes", symbol=symbol, exchange="NFO").json()["data"]["ltp"]


# --- WebSocket helpers ---------------------------------------------------------------------------
def ws_connect(server: SimulatorServer, authenticate: bool = True) -> websocket.WebSocket:
    ws = websocket.create_connection(server.ws_url, timeout=5)
    if authenticate:
        ws.send(json.dumps({"action": "authenticate", "api_key": KEY}))
        reply = json.loads(ws.recv())
        assert reply["type"] == "auth" and reply["status"] == "success", reply
    return ws


def close_ws(ws: websocket.WebSocket) -> None:
    """Close politely if still connected, then release the socket in any case."""
    try:
        ws.close(timeout=1)
    finally:
        ws.shutdown()


def recv_until(ws: websocket.WebSocket, predicate: Callable[[dict[str, Any]], bool], timeout: float = 5.0) -> dict[str, Any]:
    """The first JSON message satisfying ``predicate`` within ``timeout`` s (others are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("expected WebSocket message did not arrive")
        ws.settimeout(remaining)
        message = json.loads(ws.recv())
        if predicate(message):
            return message


def is_tick(message: dict[str, Any]) -> bool:
    return message.get("type") == "market_data"


def subscribe(ws: websocket.WebSocket, symbols: list[tuple[str, str]], mode: int = 2) -> dict[str, Any]:
    ws.send(json.dumps({"action": "subscribe", "symbols": [{"symbol": s, "exchange": e} for s, e in symbols], "mode": mode}))
    return recv_until(ws, lambda m: m.get("type") == "subscribe")


# =====================================================================================
# REST validation and errors
# =====================================================================================
def test_unknown_field_is_400(server: SimulatorServer) -> None:
    reply = place(server, target="5")
    assert reply.status_code == 400
    body = reply.json()
    assert body["status"] == "error" and "Unknown field." in body["message"] and "target" in body["message"]
    assert post(server, "ping", extra=1).status_code == 400


def test_missing_or_malformed_fields_are_400(server: SimulatorServer) -> None:
    missing = post(server, "placeorder", strategy="raw", symbol=CE, exchange="NFO", action="BUY")
    assert missing.status_code == 400 and "quantity" in missing.json()["message"]
    assert "Missing data for required field." in missing.json()["message"]
    numeric_orderid = post(server, "orderstatus", strategy="raw", orderid=21061400000001)
    assert numeric_orderid.status_code == 400 and "orderid" in numeric_orderid.json()["message"]
    assert place(server, pricetype="SL-L").status_code == 400
    assert place(server, quantity="abc").status_code == 400
    # numbers as strings are fine
    assert place(server, pricetype="LIMIT", price="1.05").status_code == 200


def test_bad_or_missing_apikey_is_403(server: SimulatorServer) -> None:
    for key in ("wrong", None):
        reply = post(server, "funds", apikey=key)
        assert reply.status_code == 403
        assert reply.json()["status"] == "error" and reply.json()["message"] == "Invalid openalgo apikey"


def test_unknown_order_is_404(server: SimulatorServer) -> None:
    assert post(server, "orderstatus", strategy="raw", orderid="999").status_code == 404
    assert post(server, "cancelorder", strategy="raw", orderid="999").status_code == 404
    modify = post(
        server, "modifyorder", strategy="raw", symbol=CE, exchange="NFO", orderid="999", action="BUY", product="MIS",
        pricetype="LIMIT", price="10", quantity=str(LOT), disclosed_quantity="0", trigger_price="0",
    )
    assert modify.status_code == 404


def test_cancel_or_modify_of_complete_order_is_400_naming_the_status(server: SimulatorServer) -> None:
    orderid = place(server).json()["orderid"]
    wait_for(lambda: status_of(server, orderid)["order_status"] == "complete")
    cancel = post(server, "cancelorder", strategy="raw", orderid=orderid)
    assert cancel.status_code == 400 and "complete" in cancel.json()["message"]
    modify = post(
        server, "modifyorder", strategy="raw", symbol=CE, exchange="NFO", orderid=orderid, action="BUY", product="MIS",
        pricetype="LIMIT", price="10", quantity=str(LOT), disclosed_quantity="0", trigger_price="0",
    )
    assert modify.status_code == 400 and "complete" in modify.json()["message"]


def test_modify_applies_only_quantity_price_and_trigger_like_the_real_server(server: SimulatorServer) -> None:
    """OpenAlgo v2.0.2.1: a changed pricetype, action or product is ignored, and still answered 200."""
    below = round(ltp(server) - 20, 1)
    orderid = place(server, action="BUY", pricetype="LIMIT", price=str(below)).json()["orderid"]
    modify = post(
        server, "modifyorder", strategy="raw", symbol=CE, exchange="NFO", orderid=orderid, action="SELL", product="NRML",
        pricetype="SL", price=str(below - 1), quantity=str(2 * LOT), disclosed_quantity="0", trigger_price="0",
    )
    assert modify.status_code == 200
    row = status_of(server, orderid)
    assert (row["action"], row["price_type"], row["product"]) == ("BUY", "LIMIT", "MIS")
    assert (float(row["price"]), int(row["quantity"])) == (below - 1, 2 * LOT)


def test_broker_reject_is_400_with_its_message(server: SimulatorServer) -> None:
    reply = place(server, quantity="50")
    assert reply.status_code == 400 and "lot size" in reply.json()["message"]
    reply = place(server, pricetype="SL", action="BUY", trigger_price="1", price="2")  # BUY stop below the market
    assert reply.status_code == 400 and "trigger" in reply.json()["message"]
    assert post(server, "orderbook").json()["data"]["orders"] == []


def test_order_rate_limit_answers_429_without_retry_after(make_server: Callable[..., SimulatorServer]) -> None:
    # at speed 1 the simulated second is a real one: 15 calls fit in it even on a loaded machine
    # (at the fixture's speed 60 the window is 17 ms, which 15 HTTP calls can outlast)
    server = make_server(speed=1)
    replies = [post(server, "cancelorder", strategy="raw", orderid=f"x{i}") for i in range(15)]
    assert [r.status_code for r in replies[:10]] == [404] * 10  # a fresh one-second window allows 10
    limited = [r for r in replies if r.status_code == 429]
    assert limited, "15 order calls within a second were all accepted"
    assert limited[0].json() == {"message": "10 per 1 second"}
    assert "Retry-After" not in limited[0].headers


def test_analyzer_toggle_changes_reply_shapes(server: SimulatorServer) -> None:
    assert post(server, "analyzer").json()["data"]["analyze_mode"] is True
    orderid = place(server, pricetype="LIMIT", price="1.00").json()["orderid"]
    assert status_of(server, orderid)["price_type"] == "LIMIT"

    live = post(server, "analyzer/toggle", mode=False).json()
    assert live["data"] == {"analyze_mode": False, "mode": "live", "total_logs": live["data"]["total_logs"], "message": "Analyzer mode switched to live"}
    reply = post(server, "orderstatus", strategy="raw", orderid=orderid).json()
    assert "mode" not in reply
    assert reply["data"]["pricetype"] == "LIMIT" and reply["data"]["quantity"] == str(LOT)
    assert post(server, "analyzer").json()["data"]["mode"] == "live"

    assert post(server, "analyzer/toggle", mode=True).json()["data"]["analyze_mode"] is True
    assert post(server, "orderbook").json()["mode"] == "analyze"


def test_history_has_no_future_bars(server: SimulatorServer) -> None:
    before = sim_now(server)
    rows = post(server, "history", symbol=CE, exchange="NFO", interval="1m", start_date="2021-06-14", end_date="2021-06-14").json()["data"]
    after = sim_now(server)
    starts = [row["timestamp"] for row in rows]
    assert starts == sorted(starts) and isinstance(starts[0], int)
    assert all(ts + 60 <= after.timestamp() for ts in starts), "a bar whose minute had not ended was served"
    ended = [b for b in server.market.bars[CE] if b.start.timestamp() + 60 <= before.timestamp()]
    assert len(rows) >= len(ended) >= 5
    daily = post(server, "history", symbol=CE, exchange="NFO", interval="D", start_date="2021-06-14", end_date="2021-06-14").json()["data"]
    assert len(daily) == 1 and daily[0]["open"] == rows[0]["open"]
    assert post(server, "history", symbol=CE, exchange="NFO", interval="5m", start_date="2021-06-14", end_date="2021-06-14").status_code == 400


def test_quotes_include_the_session_before_start(server: SimulatorServer) -> None:
    quote = post(server, "quotes", symbol=CE, exchange="NFO").json()["data"]
    first = next(t for t in server.market.ticks if t.symbol == CE)
    assert quote["open"] == quote["prev_close"] == first.ltp
    assert quote["volume"] >= 60 * LOT  # five minutes traded before 09:20
    assert post(server, "quotes", symbol="NOPE", exchange="NFO").status_code == 404


def test_cancelallorder_skips_trigger_pending_in_analyzer_mode_and_closeposition(server: SimulatorServer) -> None:
    limit_id = place(server, pricetype="LIMIT", price="1.00").json()["orderid"]
    stop = round(ltp(server) + 40)
    stop_id = place(server, pricetype="SL", price=str(stop + 1), trigger_price=str(stop)).json()["orderid"]
    reply = post(server, "cancelallorder", strategy="raw").json()
    assert reply["canceled_orders"] == [limit_id]
    assert status_of(server, stop_id)["order_status"] == "trigger pending"

    bought = place(server, symbol=PE).json()["orderid"]
    wait_for(lambda: status_of(server, bought)["order_status"] == "complete")
    assert post(server, "closeposition", strategy="raw").json()["message"] == "All Open Positions SquaredOff"
    wait_for(lambda: {r["symbol"]: r["quantity"] for r in post(server, "positionbook").json()["data"]}.get(PE) == 0)


def test_mis_orders_refused_after_square_off_in_analyzer_mode(make_server: Callable[..., SimulatorServer]) -> None:
    late = make_server(start=dtime(15, 16))
    reply = place(late, pricetype="LIMIT", price="1.00")
    assert reply.status_code == 400 and "square-off" in reply.json()["message"]
    assert place(late, pricetype="LIMIT", price="1.00", product="NRML").status_code == 200


def test_telegram_notify_is_accepted(server: SimulatorServer) -> None:
    reply = post(server, "telegram/notify", username="trader", message="hello", priority=5)
    assert reply.status_code == 200 and server.notifications == [{"username": "trader", "message": "hello", "priority": 5}]


def test_received_log_and_request_hook(server: SimulatorServer) -> None:
    seen: list[tuple[float, str, Any]] = []
    server.on_request(lambda t, endpoint, body: seen.append((t, endpoint, body)))
    place(server, pricetype="LIMIT", price="1.00")
    assert [(e, b["symbol"]) for _, e, b in seen] == [("placeorder", CE)]
    assert server.received[-1][1] == "placeorder" and server.received[-1][0] == seen[0][0]


def test_done_event_at_window_end(make_server: Callable[..., SimulatorServer]) -> None:
    short = make_server(start=dtime(10, 25), end=dtime(10, 26), speed=120)
    assert short.wait_until_done(timeout=10)
    clock = requests.get(f"{short.rest_url}/sim/clock", timeout=5).json()
    assert clock["done"] is True and clock["speed"] == 120
    assert clock["end"] == "2021-06-14T10:26:00+05:30"
    assert datetime.fromisoformat(clock["sim_time"]) >= datetime.fromisoformat(clock["end"])
    assert post(short, "ping").status_code == 200  # still serving after the window


# =====================================================================================
# fault knobs
# =====================================================================================
def test_fault_latency(server: SimulatorServer) -> None:
    server.faults.latency_ms = 300
    began = time.monotonic()
    assert post(server, "ping").status_code == 200
    assert time.monotonic() - began >= 0.3
    server.faults.latency_ms = 0


def test_fault_reject_rate(make_server: Callable[..., SimulatorServer]) -> None:
    server = make_server(faults=Faults(reject_rate=1.0, seed=3))
    reply = place(server, pricetype="LIMIT", price="1.00")
    assert reply.status_code == 400 and reply.json()["message"].startswith(("RMS", "Order rejected by RMS"))
    assert post(server, "orderbook").json()["data"]["orders"] == []
    server.faults.reject_rate = 0.0
    assert place(server, pricetype="LIMIT", price="1.00").status_code == 200


def test_fault_rate_limit_burst(server: SimulatorServer) -> None:
    server.faults.rate_limit_burst = 2
    first, second, third = (post(server, "ping") for _ in range(3))
    assert first.status_code == second.status_code == 429
    assert first.json()["status"] == "error" and first.json()["message"].endswith("per 1 second")
    assert "Retry-After" not in first.headers
    assert third.status_code == 200


def test_fault_server_errors(server: SimulatorServer) -> None:
    server.faults.server_errors = 2
    assert [post(server, "funds").status_code for _ in range(3)] == [500, 500, 200]


def test_fault_place_timeout_leaves_exactly_one_order(server: SimulatorServer) -> None:
    server.faults.timeout_hold_s = 5.0
    server.faults.place_timeouts = 1
    with pytest.raises(requests.exceptions.ReadTimeout):
        post(server, "placeorder", timeout=0.5, strategy="raw", symbol=CE, exchange="NFO", action="BUY", quantity=str(LOT), pricetype="LIMIT", price="1.00", product="MIS")
    orders = post(server, "orderbook").json()["data"]["orders"]
    assert len(orders) == 1 and orders[0]["order_status"] == "open"
    assert place(server, pricetype="LIMIT", price="1.00").status_code == 200  # the fault was used up


# =====================================================================================
# WebSocket
# =====================================================================================
def test_ws_bad_key_is_authentication_error(server: SimulatorServer) -> None:
    ws = websocket.create_connection(server.ws_url, timeout=5)
    try:
        ws.send(json.dumps({"action": "authenticate", "api_key": "wrong"}))
        reply = json.loads(ws.recv())
        assert reply["status"] == "error" and reply["code"] == "AUTHENTICATION_ERROR"
        ws.send(json.dumps({"action": "subscribe", "symbols": [{"symbol": CE, "exchange": "NFO"}], "mode": 2}))
        assert json.loads(ws.recv())["code"] == "NOT_AUTHENTICATED"
    finally:
        close_ws(ws)


def test_ws_unauthenticated_socket_closed_with_4401(make_server: Callable[..., SimulatorServer]) -> None:
    server = make_server(auth_timeout=0.3)
    ws = websocket.create_connection(server.ws_url, timeout=5)
    try:
        opcode, frame = ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert int.from_bytes(frame[:2], "big") == 4401
    finally:
        close_ws(ws)


def test_ws_subscribe_ack_and_tick_shape(server: SimulatorServer) -> None:
    ws = ws_connect(server)
    try:
        ack = subscribe(ws, [(CE, "NFO"), ("NOPE", "NFO")])
        assert ack["status"] == "partial"
        assert [(s["symbol"], s["status"]) for s in ack["subscriptions"]] == [(CE, "success"), ("NOPE", "error")]
        ticks = [recv_until(ws, is_tick) for _ in range(3)]
        for tick in ticks:
            assert (tick["symbol"], tick["exchange"], tick["mode"]) == (CE, "NFO", 2)
            data = tick["data"]
            for key in ("ltp", "timestamp", "open", "high", "low", "close", "volume", "average_price", "last_trade_quantity", "oi"):
                assert key in data, key
            assert data["timestamp"] >= server.start_time.timestamp() * 1000  # epoch milliseconds
        volumes = [t["data"]["volume"] for t in ticks]
        assert volumes == sorted(volumes)  # cumulative day volume
        single = {"action": "subscribe", "symbol": INDEX, "exchange": "NSE_INDEX", "mode": 1}
        ws.send(json.dumps(single))
        assert recv_until(ws, lambda m: m.get("type") == "subscribe")["status"] == "success"
        index_tick = recv_until(ws, lambda m: is_tick(m) and m["symbol"] == INDEX)
        assert index_tick["mode"] == 1 and set(index_tick["data"]) >= {"ltp", "timestamp"}
        ws.send(json.dumps({"action": "unsubscribe", "symbols": [{"symbol": CE, "exchange": "NFO", "mode": 2}]}))
        assert recv_until(ws, lambda m: m.get("type") == "unsubscribe")["status"] == "success"
    finally:
        close_ws(ws)


def test_ws_order_updates(server: SimulatorServer) -> None:
    ws = ws_connect(server)
    try:
        ws.send(json.dumps({"action": "subscribe_orders"}))
        assert recv_until(ws, lambda m: m.get("type") == "subscribe_orders")["status"] == "success"
        orderid = place(server).json()["orderid"]
        update = recv_until(ws, lambda m: m.get("type") == "order_update" and m["order_status"] == "complete")
        assert update["orderid"] == orderid and update["filled_quantity"] == LOT and update["average_price"] > 0
        assert update["symbol"] == CE and update["exchange"] == "NFO"
    finally:
        close_ws(ws)


def test_ws_drop_closes_the_socket(server: SimulatorServer) -> None:
    ws = ws_connect(server)
    try:
        subscribe(ws, [(CE, "NFO")])
        recv_until(ws, is_tick)
        server.faults.ws_drop()
        with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                ws.settimeout(deadline - time.monotonic())
                ws.recv()
        wait_for(lambda: not server._clients)
    finally:
        close_ws(ws)
    again = ws_connect(server)  # the server accepts new connections afterwards
    close_ws(again)


def test_ws_mute_stops_frames_but_keeps_the_connection(server: SimulatorServer) -> None:
    ws = ws_connect(server)
    try:
        subscribe(ws, [(CE, "NFO"), (PE, "NFO"), (CE2, "NFO")])  # 36 ticks a second at speed 60
        recv_until(ws, is_tick)
        server.faults.ws_mute(2.0)
        muted_at = time.monotonic()
        ws.settimeout(0.2)
        with pytest.raises(websocket.WebSocketTimeoutException):  # frames on the wire when the mute began
            while time.monotonic() - muted_at < 0.6:
                ws.recv()
            raise AssertionError("market data kept flowing during the mute")
        ws.settimeout(0.8)  # then silence although ticks keep trading
        with pytest.raises(websocket.WebSocketTimeoutException):
            ws.recv()
        assert time.monotonic() - muted_at < 2.0, "too slow to observe the mute window"
        ws.send(json.dumps({"action": "ping"}))
        assert recv_until(ws, lambda m: m.get("type") == "pong")["status"] == "success"
        resumed = recv_until(ws, is_tick, timeout=5)  # and ticks come back on the same socket
        assert resumed["symbol"] in (CE, PE, CE2)
        assert time.monotonic() - muted_at >= 2.0
    finally:
        close_ws(ws)


def test_ws_heartbeat_drops_a_client_that_does_not_pong(make_server: Callable[..., SimulatorServer]) -> None:
    server = make_server(ws_heartbeat=0.5)
    silent = ws_connect(server)  # never reads again, so never answers a ping
    lively = ws_connect(server)
    try:
        subscribe(lively, [(CE, "NFO")])
        began = time.monotonic()
        while time.monotonic() - began < 1.6:  # websocket-client answers pings inside recv()
            recv_until(lively, is_tick)
        wait_for(lambda: len(server._clients) == 1)
        recv_until(lively, is_tick)
    finally:
        close_ws(silent)
        close_ws(lively)


def test_stop_closes_sockets_and_ports(make_server: Callable[..., SimulatorServer]) -> None:
    server = make_server()
    ws = ws_connect(server)
    server.stop()
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
        ws.settimeout(5)
        while True:
            ws.recv()
    close_ws(ws)
    for port in (server.rest_port, server.ws_port):
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_margin_of_a_basket_short_options_by_strike(server: SimulatorServer) -> None:
    """``margin``: a short option needs SHORT_MARGIN of its strike's notional; bad bodies as at OpenAlgo."""
    from simulator.rest import SHORT_MARGIN

    position = {"symbol": CE, "exchange": "NFO", "action": "SELL", "quantity": str(2 * LOT), "product": "MIS",
                "pricetype": "MARKET"}
    reply = post(server, "margin", positions=[position, {**position, "symbol": PE}])
    assert reply.status_code == 200, reply.text
    strike = float(CE[-7:-2])
    assert reply.json()["data"]["total_margin_required"] == pytest.approx(2 * SHORT_MARGIN * strike * 2 * LOT, abs=0.02)
    unknown = post(server, "margin", positions=[{**position, "symbol": "NIFTY17JUN2199999CE"}])
    assert unknown.status_code == 400 and "Invalid symbol" in unknown.json()["message"]
    assert post(server, "margin", positions=[]).status_code == 400
    assert post(server, "margin", positions=[{**position, "extra": 1}]).status_code == 400
