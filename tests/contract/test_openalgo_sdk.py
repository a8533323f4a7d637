"""Contract: the official openalgo SDK trades and streams against the simulator.

If the SDK can drive it, the simulator speaks the same REST shapes and
WebSocket protocol as a real OpenAlgo server. The SDK is a test dependency
pinned per Python version in ``setup.cfg`` (1.0.47 on 3.11-3.13); where no
release installs, these tests are skipped with that reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime
from datetime import time as dtime

import pytest
import requests

api = pytest.importorskip(
    "openalgo", reason="the official openalgo SDK is not installed for this Python (setup.cfg pins it by version)"
).api

from simulator.server import SimulatorServer
from tests.contract.small_market import CE, INDEX, LOT, build_market
from tests.waiting import wait_for

KEY = "sdk-test-key-0123456789abcdef0123456789"


@pytest.fixture
def server() -> Iterator[SimulatorServer]:
    sim = SimulatorServer(build_market(), api_key=KEY, speed=60, start=dtime(9, 20)).start()
    yield sim
    sim.stop()


@pytest.fixture
def client(server: SimulatorServer) -> Iterator[api]:
    sdk = api(api_key=KEY, host=server.rest_url, ws_url=server.ws_url, timeout=10.0)
    yield sdk
    sdk.disconnect()


def sim_time(server: SimulatorServer) -> datetime:
    return datetime.fromisoformat(requests.get(f"{server.rest_url}/sim/clock", timeout=5).json()["sim_time"])


def ltp(client: api, symbol: str = CE) -> float:
    reply = client.quotes(symbol=symbol, exchange="NFO")
    assert reply["status"] == "success", reply
    return float(reply["data"]["ltp"])


def test_ping_and_analyzer(client: api) -> None:
    # the SDK has no ping() method; its own transport sends the documented body
    pong = client._make_request("ping", {"apikey": KEY})
    assert pong["status"] == "success"
    assert pong["data"] == {"broker": "simulator", "message": "pong"}
    assert pong["mode"] == "analyze"

    status = client.analyzerstatus()
    assert status["data"]["analyze_mode"] is True and status["data"]["mode"] == "analyze"

    live = client.analyzertoggle(mode=False)
    assert live["data"]["analyze_mode"] is False and live["data"]["mode"] == "live"
    assert "mode" not in client.funds()  # live replies carry no "mode": "analyze"
    back = client.analyzertoggle(mode=True)
    assert back["data"]["analyze_mode"] is True
    assert client.funds()["mode"] == "analyze"


def test_sl_order_place_modify_cancel(client: api) -> None:
    trigger = round(ltp(client) + 40)
    placed = client.placeorder(
        strategy="contract", symbol=CE, action="BUY", exchange="NFO", price_type="SL",
        product="MIS", quantity=LOT, price=trigger + 1, trigger_price=trigger,
    )
    assert placed["status"] == "success", placed
    orderid = placed["orderid"]
    assert isinstance(orderid, str)

    status = client.orderstatus(order_id=orderid, strategy="contract")["data"]
    assert status["order_status"] == "trigger pending"
    assert status["price_type"] == "SL"
    assert (status["price"], status["trigger_price"], status["quantity"]) == (trigger + 1, trigger, LOT)

    modified = client.modifyorder(
        order_id=orderid, strategy="contract", symbol=CE, action="BUY", exchange="NFO", price_type="SL",
        product="MIS", quantity=2 * LOT, price=trigger + 3, trigger_price=trigger + 2,
    )
    assert modified["status"] == "success" and modified["orderid"] == orderid
    status = client.orderstatus(order_id=orderid, strategy="contract")["data"]
    assert (status["price"], status["trigger_price"], status["quantity"]) == (trigger + 3, trigger + 2, 2 * LOT)

    book = client.orderbook()["data"]
    assert [o["orderid"] for o in book["orders"]] == [orderid]
    assert book["statistics"]["total_open_orders"] == 1

    assert client.cancelorder(order_id=orderid, strategy="contract")["status"] == "success"
    assert client.orderstatus(order_id=orderid, strategy="contract")["data"]["order_status"] == "cancelled"
    again = client.cancelorder(order_id=orderid, strategy="contract")
    assert again["status"] == "error" and again["code"] == 400
    assert "cancelled" in again["message"]


def test_market_fill_shows_in_positionbook(client: api) -> None:
    placed = client.placeorder(strategy="contract", symbol=CE, action="BUY", exchange="NFO", price_type="MARKET", product="MIS", quantity=LOT)
    orderid = placed["orderid"]
    filled = wait_for(
        lambda: (s := client.orderstatus(order_id=orderid, strategy="contract")["data"])["order_status"] == "complete" and s
    )
    assert filled["filled_quantity"] == LOT and filled["average_price"] > 0

    rows = {row["symbol"]: row for row in client.positionbook()["data"]}
    assert rows[CE]["quantity"] == LOT
    assert rows[CE]["average_price"] == filled["average_price"]
    assert rows[CE]["exchange"] == "NFO" and rows[CE]["product"] == "MIS"
    trades = client.tradebook()["data"]
    assert [(t["orderid"], t["quantity"]) for t in trades] == [(orderid, LOT)]
    assert client.openposition(strategy="contract", symbol=CE, exchange="NFO", product="MIS")["quantity"] == LOT

    sold = client.placeorder(strategy="contract", symbol=CE, action="SELL", exchange="NFO", price_type="MARKET", product="MIS", quantity=LOT)
    wait_for(lambda: client.orderstatus(order_id=sold["orderid"], strategy="contract")["data"]["order_status"] == "complete")
    rows = {row["symbol"]: row for row in client.positionbook()["data"]}
    assert rows[CE]["quantity"] == 0  # a closed position stays listed
    funds = client.funds()["data"]
    assert float(funds["m2munrealized"]) == 0.0
    assert float(funds["availablecash"]) == pytest.approx(1e7 + float(funds["m2mrealized"]))


# the SDK's history() calls DataFrame.set_index(inplace=True), deprecated in pandas 3.1
@pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.set_index:Warning")
def test_quotes_history_expiry_symbol(client: api, server: SimulatorServer) -> None:
    quote = client.quotes(symbol=CE, exchange="NFO")["data"]
    assert quote["bid"] < quote["ltp"] < quote["ask"]
    assert quote["volume"] > 0 and quote["low"] <= quote["ltp"] <= quote["high"]

    frame = client.history(symbol=CE, exchange="NFO", interval="1m", start_date="2021-06-14", end_date="2021-06-14")
    now = sim_time(server)
    assert len(frame) >= 5  # 09:15 .. 09:19 traded before the 09:20 start
    assert str(frame.index.tz) == "Asia/Kolkata"
    assert frame.index[0].to_pydatetime().time() == dtime(9, 15)
    assert all(ts.to_pydatetime().timestamp() + 60 <= now.timestamp() for ts in frame.index)

    assert client.expiry(symbol="NIFTY", exchange="NFO", instrumenttype="options")["data"] == ["17-JUN-21"]
    info = client.symbol(symbol=CE, exchange="NFO")["data"]
    assert (info["lotsize"], info["tick_size"], info["expiry"], info["strike"]) == (LOT, 0.05, "17-JUN-21", 15800.0)
    found = client.search(query="NIFTY 15800 CE", exchange="NFO")["data"]
    assert [row["symbol"] for row in found] == [CE]
    assert client.intervals()["data"]["minutes"] == ["1m"]
    multi = client.multiquotes(symbols=[{"symbol": CE, "exchange": "NFO"}, {"symbol": "NOPE", "exchange": "NFO"}])
    assert multi["results"][0]["data"]["ltp"] > 0 and "error" in multi["results"][1]


def test_websocket_quote_and_ltp_ticks(client: api, server: SimulatorServer) -> None:
    assert client.connect() is True
    quotes: list[dict] = []
    got_quote = threading.Event()
    assert client.subscribe_quote([{"exchange": "NFO", "symbol": CE}], on_data_received=lambda m: (quotes.append(m), got_quote.set()))
    assert got_quote.wait(10), "no quote tick reached the SDK callback"
    tick = quotes[0]
    assert (tick["symbol"], tick["exchange"], tick["mode"]) == (CE, "NFO", 2)
    data = tick["data"]
    assert data["ltp"] > 0 and data["volume"] > 0 and data["low"] <= data["ltp"] <= data["high"]
    assert data["timestamp"] >= int(server.start_time.timestamp() * 1000)  # epoch ms, nothing before the start

    ltps: list[dict] = []
    got_ltp = threading.Event()
    assert client.subscribe_ltp([{"exchange": "NSE_INDEX", "symbol": INDEX}], on_data_received=lambda m: (ltps.append(m), got_ltp.set()))
    assert got_ltp.wait(10), "no index LTP tick reached the SDK callback"
    assert ltps[0]["symbol"] == INDEX and ltps[0]["data"]["ltp"] > 10_000
    assert client.get_quotes(exchange="NFO", symbol=CE)["quote"]["NFO"][CE]["ltp"] > 0


def test_sdk_feed_survives_protocol_pings() -> None:
    sim = SimulatorServer(build_market(), api_key=KEY, speed=60, start=dtime(9, 20), ws_heartbeat=0.3).start()
    sdk = api(api_key=KEY, host=sim.rest_url, ws_url=sim.ws_url)
    try:
        assert sdk.connect() is True
        arrivals: list[float] = []
        assert sdk.subscribe_quote([{"exchange": "NFO", "symbol": CE}], on_data_received=lambda m: arrivals.append(time.monotonic()))
        # ticks keep arriving across many ping periods: the SDK's websocket-client answers the pings
        wait_for(lambda: arrivals and arrivals[-1] - arrivals[0] >= 1.5, timeout=10)
        assert sdk.connected and len(sim._clients) == 1
    finally:
        sdk.disconnect()
        sim.stop()
