"""Actor names in the router: one place, so senders and the supervisor agree."""

from __future__ import annotations

from actors.base import FEED, SUPERVISOR  # noqa: F401 - re-exported: every actor name in one place
from messages.base import OptionType

FILTER = "filter"
PORTFOLIO = "portfolio"
JOURNAL = "journal"
CONTROL = "control"
ALERTS = "alerts"


def symbol_actor(symbol: str) -> str:
    """Router name of the SymbolActor for ``symbol``."""
    return f"symbol:{symbol}"


def order_actor(option_type: OptionType) -> str:
    """Router name of the OrderActor for ``"CE"`` or ``"PE"``."""
    return f"orders:{option_type}"
