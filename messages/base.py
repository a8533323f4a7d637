"""Common base for messages, the IST zone and the option-type literal."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict

IST = ZoneInfo("Asia/Kolkata")

OptionType = Literal["CE", "PE"]
Action = Literal["BUY", "SELL"]
PriceType = Literal["MARKET", "LIMIT", "SL", "SL-M"]
OrderRole = Literal["entry", "stop", "exit"]


class Message(BaseModel):
    """Frozen pydantic model; unknown fields are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class JournalEvent(Message):
    """A fact the journal records; ``EVENT_TYPE`` is its ``"type"`` in the event log."""

    EVENT_TYPE: ClassVar[str] = ""
    EVENT_EXCLUDE: ClassVar[frozenset[str]] = frozenset()
    time: AwareDatetime

    def event_record(self) -> dict[str, Any]:
        """The JSON-ready event-log object: ``type``, ``time`` (ISO 8601, +05:30), fields."""
        body = self.model_dump(mode="json", exclude=set(self.EVENT_EXCLUDE))
        record: dict[str, Any] = {"type": self.EVENT_TYPE, "time": to_ist(self.time).isoformat()}
        body.pop("time")
        record.update(body)
        return record


def to_ist(moment: datetime) -> datetime:
    """The same instant expressed in IST."""
    return moment.astimezone(IST)


def option_type_of(symbol: str) -> OptionType:
    """``"CE"`` or ``"PE"`` from an OpenAlgo option symbol; ValueError otherwise."""
    if symbol.endswith("CE"):
        return "CE"
    if symbol.endswith("PE"):
        return "PE"
    raise ValueError(f"not an option symbol (must end in CE or PE): {symbol!r}")
