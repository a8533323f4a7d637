"""Settling at a restart the placements a crash left without an answer (live/settle.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from broker.base import OrderSnapshot
from config.settings import Settings
from live.settle import settle_intents
from messages.base import IST
from messages.orders import OrderIntent
from persistence.journal_store import JournalStore

DAY = datetime(2025, 12, 23).date()
SYM = "NIFTY26DEC2524500CE"


def at(h: int, m: int, s: int = 0) -> datetime:
    return datetime(2025, 12, 23, h, m, s, tzinfo=IST)


def intent(intent_id: str, pricetype: str = "MARKET", price: float = 0.0, trigger: float = 0.0) -> OrderIntent:
    return OrderIntent(
        time=at(10, 0), intent_id=intent_id, state="sent", role="exit", symbol=SYM, action="BUY",
        pricetype=pricetype, trigger_price=trigger, price=price, quantity=650, position_id="E1",
    )


def row(orderid: str, when: datetime, price: float = 147.35, **kw: object) -> OrderSnapshot:
    fields = dict(orderid=orderid, symbol=SYM, action="BUY", quantity=650, pricetype="MARKET", price=price,
                  status="complete", filled_quantity=650, average_price=price, timestamp=when)
    fields.update(kw)
    return OrderSnapshot(**fields)


def test_an_unanswered_market_exit_is_found_by_its_terms_not_its_price_and_journaled(tmp_path) -> None:
    """The crash came after the request and before the response: the order is there, at the last price."""
    with JournalStore(tmp_path / "j.db") as store:
        store.record(intent("CE:1"))
        book = [row("OLD", at(9, 50)), row("B7", at(10, 0, 1))]  # an older identical order is not ours
        lines = settle_intents(store, DAY, book, Settings(_env_file=None), at(10, 5))
        assert lines == ["intent CE:1 (exit BUY NIFTY26DEC2524500CE): placed as B7 (complete), taken over"]
        assert store.unsettled_intents(DAY) == []
        [order] = store.orders(DAY)
        assert (order["orderid"], order["role"], order["position_id"]) == ("B7", "exit", "E1")


def test_an_unanswered_placement_not_in_the_book_was_never_placed(tmp_path) -> None:
    """The crash came after the intent and before the request."""
    with JournalStore(tmp_path / "j.db") as store:
        store.record(intent("CE:2", pricetype="SL", price=161.05, trigger=158.05))
        book = [row("B8", at(10, 0, 1), pricetype="SL", price=161.0, trigger_price=158.0)]  # other terms
        assert settle_intents(store, DAY, book, Settings(_env_file=None), at(10, 5))[0].endswith("not placed")
        assert store.unsettled_intents(DAY) == [] and store.orders(DAY) == []


def test_nothing_unanswered_reads_nothing(tmp_path) -> None:
    with JournalStore(tmp_path / "j.db") as store:
        assert settle_intents(store, DAY, [], Settings(_env_file=None), at(10, 5), timedelta(seconds=5)) == []


def test_a_lost_attempt_that_reached_the_broker_after_its_retry_is_a_second_order_taken_over(tmp_path) -> None:
    """Killed after the retry's answer: the lost first attempt, in the book, is ours too (not left untracked)."""
    with JournalStore(tmp_path / "j.db") as store:
        store.record(intent("CE:3").model_copy(update={"state": "lost", "intent_id": "CE:3:lost1"}))
        store.record(intent("CE:3").model_copy(update={"state": "placed", "orderid": "B1"}))
        book = [row("B1", at(10, 0, 1)), row("B2", at(10, 0, 3))]
        lines = settle_intents(store, DAY, book, Settings(_env_file=None), at(10, 5))
        assert lines == ["a lost attempt CE:3:lost1 (exit BUY NIFTY26DEC2524500CE): placed as B2 (complete), taken over"]
        assert {o["orderid"] for o in store.orders(DAY)} == {"B1", "B2"} and store.unsettled_intents(DAY) == []


def test_a_lost_attempt_whose_order_is_the_placement_itself_is_not_taken_twice(tmp_path) -> None:
    with JournalStore(tmp_path / "j.db") as store:
        store.record(intent("CE:4").model_copy(update={"state": "lost", "intent_id": "CE:4:lost1"}))
        store.record(intent("CE:4").model_copy(update={"state": "placed", "orderid": "B1"}))  # the look-up found it
        lines = settle_intents(store, DAY, [row("B1", at(10, 0, 1))], Settings(_env_file=None), at(10, 5))
        assert lines == ["a lost attempt CE:4:lost1 (exit BUY NIFTY26DEC2524500CE): not placed"]
        assert [o["orderid"] for o in store.orders(DAY)] == ["B1"]
