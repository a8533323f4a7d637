"""Peewee tables of the journal (architecture.md, "Journal").

The models are bound to :data:`database_proxy`; :func:`open_database` makes
the concrete SQLite database (WAL, ``synchronous=NORMAL``, foreign keys on)
and the caller binds the models to it (``db.bind_ctx(MODELS)``).

Units: prices rupees (REAL), quantities contracts (INTEGER). Datetimes are
stored as ISO 8601 text in IST with the offset (``2021-06-11T09:20:00+05:30``)
and read back as aware datetimes in IST; a session is the IST trading date,
stored as ``YYYY-MM-DD``.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import peewee

from messages.base import IST, to_ist

#: The models' database until a concrete one is bound.
database_proxy = peewee.DatabaseProxy()

#: SQLite settings applied to every connection.
PRAGMAS = {"journal_mode": "wal", "synchronous": "normal", "foreign_keys": 1}


class IsoDateTimeField(peewee.TextField):
    """Aware datetime stored as ISO 8601 text in IST; a naive datetime raises ValueError."""

    def db_value(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{self.name}: naive datetime {value!r}; times must be timezone-aware")
        return to_ist(value).isoformat()

    def python_value(self, value: str | None) -> datetime | None:
        if value is None:
            return None
        return datetime.fromisoformat(value).astimezone(IST)


class IsoDateField(peewee.TextField):
    """A date stored as ``YYYY-MM-DD`` text."""

    def db_value(self, value: date | None) -> str | None:
        return None if value is None else value.isoformat()

    def python_value(self, value: str | None) -> date | None:
        return None if value is None else date.fromisoformat(value)


class _Base(peewee.Model):
    class Meta:
        database = database_proxy


class Session(_Base):
    """One trading session's halt flag (strategy.md §6: the halt survives a restart)."""

    session = IsoDateField(primary_key=True)
    halted = peewee.BooleanField(default=False)
    halt_reason = peewee.TextField(default="")
    halted_at = IsoDateTimeField(null=True)

    class Meta:
        table_name = "sessions"


class Order(_Base):
    """An order's latest known state.

    ``status`` is the last op (``placed`` / ``modified`` / ``cancelled``),
    then after fills ``partial`` or ``complete``; ``filled_quantity`` is
    cumulative contracts and ``average_price`` their weighted average (0 when
    nothing filled).
    """

    orderid = peewee.TextField(primary_key=True)
    session = IsoDateField(index=True)
    role = peewee.TextField()
    symbol = peewee.TextField()
    action = peewee.TextField()
    pricetype = peewee.TextField()
    trigger_price = peewee.FloatField()
    price = peewee.FloatField()
    quantity = peewee.IntegerField()
    position_id = peewee.TextField(null=True)
    status = peewee.TextField()
    filled_quantity = peewee.IntegerField(default=0)
    average_price = peewee.FloatField(default=0.0)
    created_at = IsoDateTimeField()
    updated_at = IsoDateTimeField()

    class Meta:
        table_name = "orders"


class OrderEventRow(_Base):
    """One place / modify / cancel / fill of an order, in arrival order.

    For ``fill`` rows ``quantity`` is the contracts of that fill,
    ``average_price`` its price, and ``trigger_price`` / ``price`` the order's
    at the fill (NULL if the order was never journaled); for the other ops
    ``average_price`` is NULL.
    """

    orderid = peewee.TextField(index=True)
    time = IsoDateTimeField()
    op = peewee.TextField()
    trigger_price = peewee.FloatField(null=True)
    price = peewee.FloatField(null=True)
    quantity = peewee.IntegerField()
    average_price = peewee.FloatField(null=True)

    class Meta:
        table_name = "order_events"


class Fill(_Base):
    """One fill: ``quantity`` contracts at ``average_price`` rupees."""

    session = IsoDateField(index=True)
    orderid = peewee.TextField(index=True)
    role = peewee.TextField()
    symbol = peewee.TextField()
    action = peewee.TextField()
    quantity = peewee.IntegerField()
    average_price = peewee.FloatField()
    position_id = peewee.TextField(null=True)
    time = IsoDateTimeField()

    class Meta:
        table_name = "fills"


class OrderIntentRow(_Base):
    """An order placement as intended (committed before its request left) and how it ended.

    ``state``: ``sent`` (no answer yet: after a crash, an unknown outcome),
    ``placed`` (``orderid`` set) or ``failed`` (``error``).
    """

    intent_id = peewee.TextField(primary_key=True)
    session = IsoDateField(index=True)
    state = peewee.TextField()
    role = peewee.TextField()
    symbol = peewee.TextField()
    action = peewee.TextField()
    pricetype = peewee.TextField()
    trigger_price = peewee.FloatField()
    price = peewee.FloatField()
    quantity = peewee.IntegerField()
    position_id = peewee.TextField(null=True)
    orderid = peewee.TextField(null=True)
    error = peewee.TextField(default="")
    sent_at = IsoDateTimeField()
    settled_at = IsoDateTimeField(null=True)

    class Meta:
        table_name = "order_intents"


class Position(_Base):
    """A short option position; ``pnl`` rupees, ``r`` R multiple, set when closed."""

    position_id = peewee.TextField(primary_key=True)
    session = IsoDateField(index=True)
    symbol = peewee.TextField()
    option_type = peewee.TextField()
    state = peewee.TextField()
    quantity = peewee.IntegerField()
    entry_price = peewee.FloatField()
    sl_price = peewee.FloatField()
    exit_price = peewee.FloatField(null=True)
    pnl = peewee.FloatField(null=True)
    r = peewee.FloatField(null=True)
    reason = peewee.TextField(default="")
    opened_at = IsoDateTimeField()
    closed_at = IsoDateTimeField(null=True)

    class Meta:
        table_name = "positions"


class Swing(_Base):
    """A swing created (``is_update`` false) or updated; prices rupees, times IST."""

    session = IsoDateField(index=True)
    symbol = peewee.TextField()
    swing_type = peewee.TextField()
    is_update = peewee.BooleanField()
    price = peewee.FloatField()
    bar_time = IsoDateTimeField()
    confirmed_at = IsoDateTimeField()
    vwap_at_swing = peewee.FloatField()
    time = IsoDateTimeField()

    class Meta:
        table_name = "swings"


class MinuteBar(_Base):
    """A closed 1-minute bar of a symbol (strategy.md §2): prices rupees, ``volume`` contracts,
    ``vwap`` the session VWAP after it; ``start`` the minute's start (IST). One row per (symbol, start):
    a bar rebuilt (warm-up after a restart, back-fill) replaces the row. For charts (``run.py report``)."""

    session = IsoDateField(index=True)
    symbol = peewee.TextField()
    start = IsoDateTimeField()
    open = peewee.FloatField()
    high = peewee.FloatField()
    low = peewee.FloatField()
    close = peewee.FloatField()
    volume = peewee.IntegerField()
    vwap = peewee.FloatField()

    class Meta:
        table_name = "bars"
        indexes = ((("symbol", "start"), True),)


class CandidateDecision(_Base):
    """A filter decision about one candidate (strategy.md §4); ``sl_pct`` as the event gives it."""

    session = IsoDateField(index=True)
    time = IsoDateTimeField()
    symbol = peewee.TextField(null=True)
    option_type = peewee.TextField()
    decision = peewee.TextField()
    reason = peewee.TextField(default="")
    price = peewee.FloatField(null=True)
    vwap_at_swing = peewee.FloatField(null=True)
    sl_price = peewee.FloatField(null=True)
    sl_pct = peewee.FloatField(null=True)
    quantity = peewee.IntegerField(null=True)

    class Meta:
        table_name = "candidate_decisions"


class DailySummary(_Base):
    """The session's result: trades, wins, net R, max drawdown R, P&L rupees, halt."""

    session = IsoDateField(primary_key=True)
    trades = peewee.IntegerField()
    wins = peewee.IntegerField()
    net_r = peewee.FloatField()
    max_drawdown_r = peewee.FloatField()
    pnl = peewee.FloatField()
    halted = peewee.BooleanField()
    halt_reason = peewee.TextField(default="")

    class Meta:
        table_name = "daily_summary"


class AlertRow(_Base):
    """An alert sent to the trader: ``level`` info | warning | critical."""

    session = IsoDateField(index=True)
    time = IsoDateTimeField()
    level = peewee.TextField()
    text = peewee.TextField()

    class Meta:
        table_name = "alerts"


class Control(_Base):
    """A command from a second terminal (``run.py pause|resume|stop``) or the kill-switch file.

    ``issued_at`` wall-clock IST; the running program fills ``session``,
    ``done_at`` and ``result`` when it applies it (``applied``, or why not).
    """

    issued_at = IsoDateTimeField()
    command = peewee.TextField()
    source = peewee.TextField()
    session = IsoDateField(null=True)
    done_at = IsoDateTimeField(null=True)
    result = peewee.TextField(default="")

    class Meta:
        table_name = "controls"


class Runner(_Base):
    """The program running on this journal: one row, rewritten every second while it runs (wall-clock IST)."""

    id = peewee.IntegerField(primary_key=True)
    pid = peewee.IntegerField()
    session = IsoDateField()
    started_at = IsoDateTimeField()
    seen_at = IsoDateTimeField()
    #: set when it stopped by itself (the close, a signal); a crash leaves it empty
    stopped_at = IsoDateTimeField(null=True)

    class Meta:
        table_name = "runner"


#: Every journal table, in creation order.
MODELS: tuple[type[peewee.Model], ...] = (
    Session,
    OrderIntentRow,
    Order,
    OrderEventRow,
    Fill,
    Position,
    Swing,
    MinuteBar,
    CandidateDecision,
    DailySummary,
    AlertRow,
    Control,
    Runner,
)

#: Table name -> model.
TABLES: dict[str, type[peewee.Model]] = {m._meta.table_name: m for m in MODELS}


def open_database(path: str | Path) -> peewee.SqliteDatabase:
    """A connected SQLite database at ``path`` (``":memory:"`` allowed) with :data:`PRAGMAS`.

    One connection shared by all threads (an actor may be started from one
    thread and run in another); callers serialise access. Raises
    ``peewee.DatabaseError`` (or ``OSError``) when it cannot be opened.
    """
    db = peewee.SqliteDatabase(
        str(path), pragmas=PRAGMAS, thread_safe=False, check_same_thread=False, autoconnect=False,
        # a second process (run.py status, pause …) may hold the write lock a moment: wait for it
        timeout=10,
    )
    db.connect()
    return db
