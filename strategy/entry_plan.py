"""What to do with the working entry order when the best candidate changes (strategy.md §5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from messages.signals import EntryCandidate

EntryAction = Literal["none", "place", "keep", "modify", "cancel", "defer_switch", "switch"]


@dataclass(frozen=True, slots=True)
class WorkingEntry:
    """The live entry order of one option type as the OrderActor knows it."""

    symbol: str
    trigger_price: float
    quantity: int
    filled_quantity: int


def plan_entry(best: EntryCandidate | None, working: WorkingEntry | None, at_bar_close: bool) -> EntryAction:
    """The strategy.md §5 table.

    ============================  =========================  ==================
    best now                      working entry order        action
    ============================  =========================  ==================
    none                          some                       ``cancel``
    X                             none                       ``place``
    X                             X, same trigger and qty    ``keep``
    X                             X, other trigger or qty    ``modify``
    Y ≠ X                         X                          ``defer_switch``,
                                                             ``switch`` at a bar
                                                             close; ``keep`` once
                                                             X has (part-)filled
    ============================  =========================  ==================

    "Place" is subject to the portfolio's room, which the caller checks.
    """
    if best is None:
        return "cancel" if working is not None else "none"
    if working is None:
        return "place"
    if best.symbol == working.symbol:
        if best.trigger_price == working.trigger_price and best.quantity == working.quantity:
            return "keep"
        return "modify"
    if working.filled_quantity > 0:
        return "keep"
    return "switch" if at_bar_close else "defer_switch"
