"""Settling, at a restart, the placements a crash left without an answer (architecture.md, crash-only).

An order intent is committed before its request leaves; the answer is
written after. An intent still ``sent`` is an unknown outcome: the request
may have reached the broker. It is settled from the broker's order book,
never sent again: the order it placed is the row with its terms
(:func:`broker.gateway.placements`, as the gateway's own look-up: never a
MARKET order's price) timed at or after the intent (less the clock skew)
that the journal does not know yet. Found, it is journaled as placed, so the actors' recovery takes it
over; not found, the intent is settled as failed. A ``lost`` attempt (its placement went on and got
an answer, perhaps by a retry) is settled the same way: found, it is a second order of ours, taken
over too (the recovery cancels what is not needed).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from loguru import logger

from broker.base import OrderRequest, OrderSnapshot
from broker.gateway import CLOCK_SKEW, placements
from config.settings import Settings
from messages.orders import OrderIntent, OrderSent
from persistence.journal_store import JournalStore

#: An intent's order terms, as its ``order_intents`` row holds them and its events take them.
TERMS = ("role", "symbol", "action", "pricetype", "trigger_price", "price", "quantity", "position_id")


def settle_intents(
    store: JournalStore,
    day: date,
    book: list[OrderSnapshot],
    settings: Settings,
    now: datetime,
    clock_skew: timedelta = CLOCK_SKEW,
) -> list[str]:
    """Settle the day's unanswered placements from ``book``; returns one line per intent settled.

    Each found order is journaled (``OrderSent`` place, then the intent
    ``placed``); each not found, the intent ``failed``. Times IST.
    """
    intents = store.unsettled_intents(day)
    if not intents:
        return []
    known = {row["orderid"] for row in store.orders(day)}
    lines = []
    for intent in intents:
        terms = {name: intent[name] for name in TERMS}
        request = OrderRequest(
            symbol=intent["symbol"],
            action=intent["action"],
            quantity=intent["quantity"],
            pricetype=intent["pricetype"],
            price=intent["price"],
            trigger_price=intent["trigger_price"],
            exchange=settings.exchange,
            product=settings.product,
        )
        rows = placements(book, request, intent["sent_at"], clock_skew, settings.strategy_name, known)
        event = OrderIntent(time=now, intent_id=intent["intent_id"], state="failed", **terms)
        kind = "a lost attempt" if intent["state"] == "lost" else "intent"
        what = f"{kind} {intent['intent_id']} ({intent['role']} {intent['action']} {intent['symbol']})"
        if not rows:
            store.record(event.model_copy(update={"error": "not in the broker's order book at the restart: not placed"}))
            lines.append(f"{what}: not placed")
            continue
        found = rows[0]
        known.add(found.orderid)
        store.record(OrderSent(time=intent["sent_at"], op="place", orderid=found.orderid, **terms))
        store.record(event.model_copy(update={"state": "placed", "orderid": found.orderid}))
        lines.append(f"{what}: placed as {found.orderid} ({found.status}), taken over")
    for line in lines:
        logger.warning("restart: {}", line)
    return lines

