"""Paced sessions: the simulator's clock waits for a client that asks (``sim_pace``), step by step.

Driven through the project's own WebSocket client (``MarketFeed`` with
``on_sim_clock``), whose acknowledgements the tests hold back or release.
"""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from datetime import time as dtime
from typing import Any

import pytest
import requests
from websocket import create_connection

from broker.openalgo_ws import MarketFeed
from messages.market import Tick
from simulator.clock import MIN_SLEEP
from simulator.server import SimulatorServer
from tests.contract.small_market import CE, LOT, PE, build_market
from tests.waiting import wait_for

KEY = "paced-test-key-0123456789"
START = dtime(9, 20)


def sim_clock(server: SimulatorServer) -> datetime:
    return datetime.fromisoformat(requests.get(f"{server.rest_url}/sim/clock", timeout=5).json()["sim_time"])


class HeldFeed:
    """A MarketFeed whose clock steps are queued; the test acknowledges them one by one."""

    def __init__(self, server: SimulatorServer) -> None:
        self.ticks: list[Tick] = []
        self.updates: list[Any] = []
        self.steps: queue.SimpleQueue[tuple[datetime, Callable[[], None], int]] = queue.SimpleQueue()
        self.feed = MarketFeed(
            server.ws_url,
            KEY,
            [(CE, "NFO"), (PE, "NFO")],
            on_tick=self.ticks.append,
            on_order_update=self.updates.append,
            on_sim_clock=lambda moment, ack: self.steps.put((moment, ack, len(self.ticks))),
        )

    def next_step(self, timeout: float = 10.0) -> tuple[datetime, Callable[[], None], int]:
        """(time, ack, ticks received before it) of the next clock step."""
        return self.steps.get(timeout=timeout)

    def join(self) -> datetime:
        """Take the answer to ``sim_pace`` (where the clock stands; its ack is not needed) and return its time."""
        moment, ack, _ = self.next_step()
        ack()
        return moment

    def settle_in(self) -> datetime:
        """Join, then acknowledge the step the first client gets before the clock moves (its warm-up)."""
        self.join()
        moment, ack, _ = self.next_step()
        ack()
        return moment


@pytest.fixture
def paced() -> Iterator[SimulatorServer]:
    server = SimulatorServer(build_market(step=5), api_key=KEY, speed=1000, start=START, paced=True).start()
    yield server
    server.stop()


@pytest.fixture
def held(paced: SimulatorServer) -> Iterator[HeldFeed]:
    feed = HeldFeed(paced)
    feed.feed.start()
    yield feed
    feed.feed.stop()


def test_the_clock_stands_still_until_a_paced_client_has_joined(paced: SimulatorServer) -> None:
    assert requests.get(f"{paced.rest_url}/sim/clock", timeout=5).json()["paced"] is True
    before = sim_clock(paced)
    # a market data request does not start the clock; only a paced WebSocket client does
    requests.post(f"{paced.rest_url}/api/v1/ping", json={"apikey": KEY}, timeout=5)
    assert sim_clock(paced) == before == datetime.combine(paced.market.day, START, before.tzinfo)


def test_each_step_waits_for_the_acknowledgement(paced: SimulatorServer, held: HeldFeed) -> None:
    assert held.join() == paced.start_time
    settling, ack, _ = held.next_step()  # the clock waits for the first client to settle in
    assert settling == paced.start_time
    with pytest.raises(queue.Empty):
        held.steps.get(timeout=0.3)
    ack()
    first, ack, _ = held.next_step()
    assert first == paced.start_time + paced.step
    # not acknowledged: the simulated clock stays at the step, and nothing more is sent
    with pytest.raises(queue.Empty):
        held.steps.get(timeout=0.3)
    assert sim_clock(paced) == first
    ack()
    second, ack, _ = held.next_step()
    assert second == first + paced.step
    ack()


def test_a_paced_client_gets_every_tick_in_order_before_the_step_that_follows_it(
    paced: SimulatorServer, held: HeldFeed
) -> None:
    """The small market ticks every 5 s per symbol; the test acknowledges 40 steps (20 simulated s)."""
    held.settle_in()
    seen = []
    for _ in range(40):
        moment, ack, ticks_before = held.next_step()
        seen.append((moment, ticks_before))
        assert all(t.time <= moment for t in held.ticks[:ticks_before])  # a step's ticks come before its end
        ack()
    ends = [moment for moment, _ in seen]
    assert ends == [paced.start_time + paced.step * (i + 1) for i in range(40)]
    expected = [t for t in paced.market.ticks if t.symbol in (CE, PE) and paced.start_time <= t.time <= ends[-1]]
    got = held.ticks[: seen[-1][1]]
    assert [(t.symbol, t.time, t.ltp) for t in got] == [(t.symbol, t.time, t.ltp) for t in expected]


def test_an_order_update_caused_during_a_step_gets_a_step_of_its_own(paced: SimulatorServer, held: HeldFeed) -> None:
    held.settle_in()
    moment, ack, _ = held.next_step()
    reply = requests.post(
        f"{paced.rest_url}/api/v1/placeorder",
        json={"apikey": KEY, "strategy": "t", "symbol": CE, "exchange": "NFO", "action": "BUY", "quantity": str(LOT),
              "pricetype": "LIMIT", "product": "MIS", "price": "1"},
        timeout=5,
    )
    assert reply.status_code == 200
    wait_for(lambda: held.updates, what="the order update")
    ack()
    again, ack, _ = held.next_step()
    assert again == moment  # the same time once more: the update was handled before the clock moved on
    ack()
    assert held.next_step()[0] == moment + paced.step


def test_while_no_paced_client_is_connected_the_clock_runs_on_and_the_next_one_paces_it_again(
    paced: SimulatorServer,
) -> None:
    first = HeldFeed(paced)
    first.feed.start()
    try:
        first.join()
        left_at, _, _ = first.next_step()  # never acknowledged: the client leaves instead
    finally:
        first.feed.stop()
    # nobody paces now: the market goes on at its speed (1000x), as it would for a reconnecting trader
    wait_for(lambda: sim_clock(paced) >= left_at + timedelta(seconds=5), what="the clock to run on")
    second = HeldFeed(paced)
    second.feed.start()
    try:
        assert second.join() >= left_at + timedelta(seconds=5)  # told where the clock stands now
        waiting_at, ack, _ = second.next_step()
        with pytest.raises(queue.Empty):
            second.steps.get(timeout=0.3)
        assert sim_clock(paced) == waiting_at  # paced again: waiting for this one
        ack()
    finally:
        second.feed.stop()


def test_the_clock_stops_at_the_end_of_the_session() -> None:
    server = SimulatorServer(build_market(), api_key=KEY, speed=1e5, start=dtime(9, 20), end=dtime(9, 21), paced=True)
    server.start()
    steps: list[datetime] = []

    def on_step(moment: datetime, ack: Callable[[], None]) -> None:
        steps.append(moment)
        ack()

    feed = MarketFeed(server.ws_url, KEY, [(CE, "NFO")], on_tick=lambda tick: None, on_sim_clock=on_step)
    feed.start()
    try:
        assert server.wait_until_done(timeout=30)
        assert steps[:2] == [server.start_time] * 2  # where it stands, then settling in
        assert steps[-1] == server.end_time and len(steps) == 2 + 120
        assert sim_clock(server) == server.end_time
    finally:
        feed.stop()
        server.stop()


def test_sim_pace_is_an_invalid_action_on_a_server_that_does_not_pace() -> None:
    server = SimulatorServer(build_market(), api_key=KEY, speed=60, start=START).start()
    try:
        ws = create_connection(server.ws_url, timeout=5)
        ws.send(json.dumps({"action": "authenticate", "api_key": KEY}))
        assert json.loads(ws.recv())["status"] == "success"
        ws.send(json.dumps({"action": "sim_pace"}))
        reply = json.loads(ws.recv())
        assert (reply["status"], reply["code"]) == ("error", "INVALID_ACTION")
        ws.close()
    finally:
        server.stop()


def test_the_paced_clock_keeps_to_its_speed_when_the_client_keeps_up() -> None:
    """At 20x, four steps of 0.5 simulated s take at least 0.1 real s even with instant acknowledgements."""
    server = SimulatorServer(build_market(), api_key=KEY, speed=20, start=START, paced=True).start()
    arrivals: list[float] = []

    def on_step(moment: datetime, ack: Callable[[], None]) -> None:
        arrivals.append(time.monotonic())
        ack()

    feed = MarketFeed(server.ws_url, KEY, [(CE, "NFO")], on_tick=lambda tick: None, on_sim_clock=on_step)
    feed.start()
    try:
        wait_for(lambda: len(arrivals) >= 8, timeout=10, what="eight frames")
    finally:
        feed.stop()
        server.stop()
    steps = 4 * server.step / timedelta(seconds=1)
    # frames 0 and 1 are the answer to sim_pace and the settling in; 2 is the first step
    assert arrivals[7] - arrivals[3] >= steps / 20 - MIN_SLEEP * 4


def test_waiting_for_our_acknowledgement_is_not_silence_but_a_mute_paced_feed_is_replaced(paced: SimulatorServer) -> None:
    steps: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
    feed = MarketFeed(
        paced.ws_url, KEY, [(CE, "NFO")], on_tick=lambda tick: None, mute_seconds=0.3,
        on_sim_clock=lambda moment, ack: steps.put(ack),
    )
    feed.start()
    try:
        held = steps.get(timeout=10)
        # we keep the server waiting three times longer than the mute limit: not mute
        with pytest.raises(AssertionError):
            wait_for(lambda: feed.stats.reconnects, timeout=1.0, what="a reconnect")
        held()
        paced.faults.ws_mute(30.0)  # steps go on, ticks are swallowed: mute, replaced
        while not feed.stats.reconnects:
            try:
                steps.get(timeout=5)()
            except queue.Empty:
                break
        assert feed.stats.reconnects >= 1
    finally:
        feed.stop()
