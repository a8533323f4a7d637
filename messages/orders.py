"""Order commands and facts between the filter, OrderActors, broker and journal."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from messages.base import Action, JournalEvent, Message, OptionType, OrderRole, PriceType

OrderOp = Literal["place", "modify", "cancel"]

#: OpenAlgo ``order_status`` words (openalgo.md). Anything else is "working".
FINAL_STATUSES = frozenset({"complete", "cancelled", "rejected"})


class OrderSent(JournalEvent):
    """A place / modify / cancel the broker accepted (strategy.md §5)."""

    EVENT_TYPE: ClassVar[str] = "order"

    op: OrderOp
    role: OrderRole
    orderid: str
    symbol: str
    action: Action
    pricetype: PriceType
    trigger_price: float
    price: float
    quantity: int
    position_id: str | None = None


class OrderIntent(JournalEvent):
    """An order placement we are about to send (``state="sent"``), and how it ended.

    Journaled and committed **before** the request leaves (architecture.md,
    crash-only), then again with the answer: ``placed`` (``orderid``) or
    ``failed`` (``error``; nothing was placed). An intent still ``sent`` after
    a crash is an unknown outcome, to settle from the broker's order book,
    never to send again blindly. ``lost``: one attempt of a placement whose
    answer was lost (a time-out) while the placement went on (a retry): it
    may reach the broker's books late, as a second order, and is settled
    from the order book at a restart too. Prices rupees, ``quantity`` contracts.
    """

    EVENT_TYPE: ClassVar[str] = "intent"

    intent_id: str
    state: Literal["sent", "placed", "failed", "lost"]
    role: OrderRole
    symbol: str
    action: Action
    pricetype: PriceType
    trigger_price: float
    price: float
    quantity: int
    position_id: str | None = None
    orderid: str | None = None
    error: str = ""


class OrderFilled(JournalEvent):
    """An order filled ``quantity`` more contracts at ``average_price`` rupees (this fill)."""

    EVENT_TYPE: ClassVar[str] = "fill"

    orderid: str
    role: OrderRole
    symbol: str
    action: Action
    quantity: int
    average_price: float
    position_id: str | None = None


class OrderUpdate(Message):
    """The broker's view of one order (order update, order-book row or orderstatus).

    ``filled_quantity`` is cumulative contracts, ``average_price`` the
    cumulative average fill price in rupees (0 when nothing filled).
    """

    orderid: str
    status: str
    filled_quantity: int = Field(ge=0)
    average_price: float = Field(ge=0)
    time: AwareDatetime
    symbol: str = ""
    quantity: int = Field(default=0, ge=0)


class StartTrading(Message):
    """Warm-up is over: the OrderActor may act on its intents from now on."""

    time: AwareDatetime


class StopEntries(Message):
    """The program is stopping: cancel the working entry and place no new one; stops stay at the broker."""

    time: AwareDatetime


class FlattenAll(Message):
    """Cancel the working entry and all stops, close every position at MARKET, stop entering."""

    reason: str
    time: AwareDatetime


class Flattened(Message):
    """An OrderActor finished sending its flatten orders."""

    option_type: OptionType
    time: AwareDatetime


class SwitchDue(Message):
    """Timer: a bar closed; a deferred switch of the working entry may go ahead (strategy.md §5)."""

    time: AwareDatetime


class TriggeredEntryDue(Message):
    """Timer: the bar in which entry ``orderid`` triggered has closed (plus the grace);
    whatever of it is still unfilled is cancelled now (strategy.md §5)."""

    orderid: str
    time: AwareDatetime


class PollDue(Message):
    """Timer: poll the order book for fills and status changes."""

    time: AwareDatetime


class ReconcileSymbol(Message):
    """Reconciliation disagrees about ``symbol``: the broker holds ``broker_quantity``
    (signed contracts). The OrderActor refreshes its orders on the symbol; when the
    mismatch is ``confirmed`` (seen at two reconciliations in a row) and the broker
    holds nothing, it closes what is left here and cancels its stops."""

    symbol: str
    broker_quantity: int
    confirmed: bool
    time: AwareDatetime
