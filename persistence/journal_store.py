"""The journal's single writer to SQLite, and the queries recovery needs.

``JournalStore.record`` takes every :class:`~messages.base.JournalEvent` and
writes the rows of :mod:`persistence.models`. Writes are batched: events are
buffered and committed in one transaction every ``batch_size`` events, on
:meth:`JournalStore.flush`, before any query, and at once for the event
classes in ``flush_on`` (by default the state a restart rebuilds from:
halts, orders, fills, positions, summaries).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import peewee
from loguru import logger

from messages.base import JournalEvent, to_ist
from messages.orders import FINAL_STATUSES, OrderFilled, OrderIntent, OrderSent
from messages.portfolio import PositionEvent, SessionSummary
from messages.signals import BarClosed, CandidateDecided, SwingDetected
from messages.system import Alert, Halted
from persistence.models import (
    MODELS,
    TABLES,
    AlertRow,
    CandidateDecision,
    Control,
    DailySummary,
    Fill,
    MinuteBar,
    Order,
    OrderEventRow,
    OrderIntentRow,
    Position,
    Runner,
    Session,
    Swing,
    open_database,
)
from persistence.schema import KEEP_IT, SchemaError, prepare

#: Event classes committed as soon as they are recorded (with everything buffered before them).
DEFAULT_FLUSH_ON: frozenset[type[JournalEvent]] = frozenset(
    {Halted, OrderIntent, OrderSent, OrderFilled, PositionEvent, SessionSummary}
)

#: The ``bars`` row of a closed bar; a bar rebuilt (warm-up after a restart) replaces the row.
BAR_INSERT = (
    f"INSERT OR REPLACE INTO {MinuteBar._meta.table_name} (session, symbol, start, open, high, low, close, volume, vwap)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

_OP_STATUS = {"place": "placed", "modify": "modified", "cancel": "cancelled"}

#: Intent states with no answer yet (unknown outcomes, settled from the order book at a restart).
UNSETTLED = frozenset({"sent", "lost"})

# The models are module-level classes bound per operation; one lock serialises
# every store's use of them (and of its single shared connection).
_LOCK = threading.RLock()


class JournalError(Exception):
    """The journal database cannot be opened, or a batch cannot be committed."""


def _terms(e: OrderIntent | OrderSent) -> dict[str, Any]:
    """An order's terms as an intent or an order event gives them (prices rupees, quantity contracts)."""
    return dict(
        role=e.role, symbol=e.symbol, action=e.action, pricetype=e.pricetype, trigger_price=e.trigger_price,
        price=e.price, quantity=e.quantity, position_id=e.position_id,
    )


def _order_row(e: OrderIntent | OrderSent, orderid: str, status: str) -> dict[str, Any]:
    """An ``orders`` row for the order ``e`` placed (or changed): its terms, nothing filled yet."""
    return dict(
        orderid=orderid, session=session_of(e.time), **_terms(e), status=status, filled_quantity=0,
        average_price=0.0, created_at=e.time, updated_at=e.time,
    )


def session_of(moment: datetime) -> date:
    """The IST trading date of ``moment`` (an aware datetime)."""
    return to_ist(moment).date()


class JournalStore:
    """Single writer of the journal database at ``path`` (``":memory:"`` allowed).

    ``batch_size`` (events, >= 1) bounds the buffer; ``flush_on`` lists the
    event classes that commit at once. Reads (:meth:`is_halted`,
    :meth:`positions`, :meth:`open_orders`, :meth:`summary`, :meth:`count`)
    flush first, so they see every recorded event.

    Raises :class:`JournalError` naming ``path`` when the database cannot be
    opened (missing permissions, a directory, not an SQLite file), is corrupt
    or truncated, or has a newer schema (:mod:`persistence.schema`; an older
    one is migrated; a journal is never reset), and ``ValueError`` for
    ``batch_size < 1``.
    """

    def __init__(
        self,
        path: str | Path,
        batch_size: int = 200,
        flush_on: frozenset[type[JournalEvent]] = DEFAULT_FLUSH_ON,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.path = str(path)
        self._batch_size = batch_size
        self._flush_on = frozenset(flush_on)
        self._pending: list[JournalEvent] = []
        self._handlers: dict[type[JournalEvent], Callable[[Any], None]] = {
            OrderIntent: self._order_intent,
            OrderSent: self._order_sent,
            OrderFilled: self._order_filled,
            PositionEvent: self._position,
            SwingDetected: self._swing,
            CandidateDecided: self._candidate,
            SessionSummary: self._summary,
            Halted: self._halted,
            Alert: self._alert,
        }
        #: event classes written many at a time, all of a flush in one call (order among them kept)
        self._batch_writers: dict[type, Callable[[list[Any]], None]] = {BarClosed: self._bars}
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db: peewee.SqliteDatabase | None = open_database(self.path)
            with _LOCK, self._db.bind_ctx(MODELS):
                prepare(self._db, self.path)
        except SchemaError as exc:
            self._db.close()
            raise JournalError(str(exc)) from exc
        except peewee.DatabaseError as exc:
            raise JournalError(f"cannot open journal database {self.path!r}: {exc}; {KEEP_IT}") from exc
        except OSError as exc:
            raise JournalError(f"cannot open journal database {self.path!r}: {exc}") from exc
        logger.info("journal opened at {}", self.path)

    # ------------------------------------------------------------------ writing

    def record(self, event: JournalEvent | BarClosed) -> None:
        """Buffer ``event``; commit when the buffer holds ``batch_size`` events or its class is in ``flush_on``.

        Raises ``TypeError`` naming the class for an event the journal has no
        table for (nothing is buffered then), :class:`JournalError` when the
        store is closed or a commit fails (see :meth:`flush`).
        """
        if type(event) not in self._handlers and type(event) not in self._batch_writers:
            raise TypeError(f"JournalStore cannot record {type(event).__name__}")
        with _LOCK:
            self._check_open()
            self._pending.append(event)
            if len(self._pending) >= self._batch_size or type(event) in self._flush_on:
                self.flush()

    @property
    def pending(self) -> int:
        """Events recorded and not yet committed."""
        return len(self._pending)

    def flush(self) -> None:
        """Commit every buffered event in one transaction, in the order recorded.

        On failure the transaction is rolled back, the events stay buffered for
        the next flush, and :class:`JournalError` naming the path is raised.
        """
        with _LOCK:
            if not self._pending:
                return
            batch = self._pending
            with self._bound():
                try:
                    with self._db.atomic():
                        batched: dict[type, list[Any]] = {kind: [] for kind in self._batch_writers}
                        for event in batch:
                            if type(event) in batched:
                                batched[type(event)].append(event)  # many, independent of the rest
                            else:
                                self._handlers[type(event)](event)
                        for kind, events in batched.items():
                            if events:
                                self._batch_writers[kind](events)
                except peewee.DatabaseError as exc:
                    raise JournalError(
                        f"journal {self.path!r}: could not commit {len(batch)} events: {exc}"
                    ) from exc
            self._pending = []

    def close(self) -> None:
        """Flush and close the database; a second close does nothing.

        The connection is closed even when the final flush raises :class:`JournalError`.
        """
        with _LOCK:
            if self._db is None:
                return
            try:
                self.flush()
            finally:
                self._db.close()
                self._db = None
                logger.info("journal closed at {}", self.path)

    def __enter__(self) -> "JournalStore":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ queries

    def is_halted(self, session_date: date) -> tuple[bool, str]:
        """``(halted, reason)`` for the IST session date; ``(False, "")`` when never halted."""
        with self._read():
            row = Session.get_or_none(Session.session == session_date)
        return (True, row.halt_reason) if row is not None and row.halted else (False, "")

    def positions(self, session_date: date) -> list[dict[str, Any]]:
        """The session's positions, oldest first, as column-name dicts (see ``models.Position``)."""
        with self._read():
            query = Position.select().where(Position.session == session_date)
            return list(query.order_by(Position.opened_at, Position.position_id).dicts())

    def orders(self, session_date: date) -> list[dict[str, Any]]:
        """Every order of the session (final ones too), oldest first, as column-name dicts."""
        with self._read():
            query = Order.select().where(Order.session == session_date)
            return list(query.order_by(Order.created_at, Order.orderid).dicts())

    def fill_times(self, session_date: date) -> dict[str, tuple[datetime, datetime]]:
        """Each order's first and last fill time (IST) of the session, by orderid."""
        with self._read():
            query = (
                Fill.select(Fill.orderid, peewee.fn.MIN(Fill.time).alias("first"), peewee.fn.MAX(Fill.time).alias("last"))
                .where(Fill.session == session_date)
                .group_by(Fill.orderid)
            )
            # MIN/MAX of ISO text in one offset (IST) is the earliest/latest time
            parse = Fill.time.python_value
            return {
                row.orderid: tuple(v if isinstance(v, datetime) else parse(v) for v in (row.first, row.last))
                for row in query
            }

    def last_best(self, session_date: date, symbol: str, until: datetime) -> dict[str, Any] | None:
        """The filter's last ``best`` decision naming ``symbol`` at or before ``until`` (its stop, size), or None."""
        with self._read():
            query = CandidateDecision.select().where(
                (CandidateDecision.session == session_date)
                & (CandidateDecision.symbol == symbol)
                & (CandidateDecision.decision == "best")
                & (CandidateDecision.time <= until)
            )
            return next(iter(query.order_by(CandidateDecision.time.desc(), CandidateDecision.id.desc()).dicts()), None)

    def swing_low(self, session_date: date, symbol: str, price: float, until: datetime) -> datetime | None:
        """The bar time (IST) of the last LOW swing of ``symbol`` at ``price`` rupees recorded by
        ``until``, or None (swings are written in batches: the newest may be missing)."""
        with self._read():
            query = Swing.select().where(
                (Swing.session == session_date)
                & (Swing.symbol == symbol)
                & (Swing.swing_type == "LOW")
                & (Swing.price.between(price - 0.001, price + 0.001))
                & (Swing.time <= until)
            )
            row = next(iter(query.order_by(Swing.time.desc(), Swing.id.desc())), None)
        return row.bar_time if row is not None else None

    def bars(self, session_date: date, symbol: str) -> list[dict[str, Any]]:
        """The session's closed 1-minute bars of ``symbol``, oldest first (see ``models.MinuteBar``)."""
        with self._read():
            query = MinuteBar.select().where((MinuteBar.session == session_date) & (MinuteBar.symbol == symbol))
            return list(query.order_by(MinuteBar.start).dicts())

    def last_bar_start(self, session_date: date) -> datetime | None:
        """The start (IST) of the session's latest closed bar of any symbol, or None without bars."""
        with self._read():
            row = MinuteBar.select(peewee.fn.MAX(MinuteBar.start).alias("last")).where(
                MinuteBar.session == session_date
            ).get()
        last = row.last
        return last if last is None or isinstance(last, datetime) else MinuteBar.start.python_value(last)

    def swings(self, session_date: date, symbol: str) -> list[dict[str, Any]]:
        """Every swing of ``symbol`` recorded in the session (created and updated), in the order recorded."""
        with self._read():
            query = Swing.select().where((Swing.session == session_date) & (Swing.symbol == symbol))
            return list(query.order_by(Swing.id).dicts())

    def order_events(self, session_date: date) -> list[dict[str, Any]]:
        """Every place / modify / cancel / fill of the session's orders in arrival order, each with its
        order's ``role``, ``symbol``, ``action`` and ``position_id`` (see ``models.OrderEventRow``)."""
        with self._read():
            query = (
                OrderEventRow.select(OrderEventRow, Order.role, Order.symbol, Order.action, Order.position_id)
                .join(Order, on=(OrderEventRow.orderid == Order.orderid))
                .where(Order.session == session_date)
                .order_by(OrderEventRow.id)
            )
            return list(query.dicts())

    def unsettled_intents(self, session_date: date) -> list[dict[str, Any]]:
        """The session's placements sent with no answer recorded, and lost attempts of placements that went
        on (unknown outcomes: states ``sent``, ``lost``), oldest first."""
        with self._read():
            query = OrderIntentRow.select().where(
                (OrderIntentRow.session == session_date) & OrderIntentRow.state.in_(sorted(UNSETTLED))
            )
            return list(query.order_by(OrderIntentRow.sent_at, OrderIntentRow.intent_id).dicts())

    def open_orders(self, session_date: date) -> list[dict[str, Any]]:
        """The session's orders whose status is not final (complete / cancelled / rejected), oldest first."""
        with self._read():
            query = Order.select().where(
                (Order.session == session_date) & Order.status.not_in(sorted(FINAL_STATUSES))
            )
            return list(query.order_by(Order.created_at, Order.orderid).dicts())

    def summary(self, session_date: date) -> dict[str, Any] | None:
        """The session's ``daily_summary`` row as a dict, ``None`` when none was written."""
        with self._read():
            rows = DailySummary.select().where(DailySummary.session == session_date).dicts()
            return next(iter(rows), None)

    def count(self, table_name: str) -> int:
        """Rows in ``table_name`` (e.g. ``"swings"``); ``ValueError`` for a table not in the journal."""
        model = TABLES.get(table_name)
        if model is None:
            raise ValueError(f"no journal table {table_name!r}; known: {sorted(TABLES)}")
        with self._read():
            return model.select().count()

    def closed_positions(self) -> list[dict[str, Any]]:
        """Every closed position of every session, oldest first (the trade log)."""
        with self._read():
            query = Position.select().where(Position.state == "closed")
            return list(query.order_by(Position.session, Position.opened_at, Position.position_id).dicts())

    def summaries(self) -> list[dict[str, Any]]:
        """Every session's ``daily_summary`` row, oldest first."""
        with self._read():
            return list(DailySummary.select().order_by(DailySummary.session).dicts())

    # ------------------------------------------------------------------ the trader's desk

    def issue_control(self, command: str, source: str, now: datetime) -> int:
        """Commit a command (``pause``, ``resume``, ``stop``) for the running program; its id."""
        with self._write():
            return Control.create(issued_at=now, command=command, source=source).id

    def pending_controls(self) -> list[dict[str, Any]]:
        """Commands not yet applied, oldest first."""
        with self._read():
            return list(Control.select().where(Control.done_at.is_null()).order_by(Control.id).dicts())

    def control_done(self, control_id: int, session_date: date | None, result: str, now: datetime) -> bool:
        """Mark a command not yet done as applied to ``session_date`` (``result`` ``applied``) or not
        (``result`` says why). False when it was done already (by the trader, or withdrawn)."""
        with self._write():
            query = Control.update(session=session_date, done_at=now, result=result).where(
                (Control.id == control_id) & Control.done_at.is_null()
            )
            return query.execute() == 1

    def control(self, control_id: int) -> dict[str, Any] | None:
        with self._read():
            return next(iter(Control.select().where(Control.id == control_id).dicts()), None)

    def paused(self, session_date: date) -> tuple[bool, datetime | None, str]:
        """``(paused, since, source)``: whether the last pause or resume applied to the session was a pause."""
        with self._read():
            row = (
                Control.select()
                .where((Control.session == session_date) & Control.command.in_(["pause", "resume"])
                       & (Control.result == "applied"))
                .order_by(Control.done_at.desc(), Control.id.desc())
                .first()
            )
        if row is None or row.command != "pause":
            return False, None, ""
        return True, row.done_at, row.source

    def seen(self, pid: int, session_date: date, started_at: datetime, now: datetime) -> None:
        """The running program is alive (rewritten every second or so)."""
        with self._write():
            Runner.insert(
                id=1, pid=pid, session=session_date, started_at=started_at, seen_at=now, stopped_at=None
            ).on_conflict_replace().execute()

    def stopped(self, pid: int, now: datetime) -> None:
        """The program ``pid`` stopped by itself (not a crash)."""
        with self._write():
            Runner.update(stopped_at=now, seen_at=now).where((Runner.id == 1) & (Runner.pid == pid)).execute()

    def runner(self) -> dict[str, Any] | None:
        """The last program that ran on this journal: pid, session, started_at, seen_at, stopped_at; None if none did."""
        with self._read():
            return next(iter(Runner.select().dicts()), None)

    def sessions(self) -> list[date]:
        """Every session date the journal holds orders, positions, a halt or bars of, oldest first."""
        with self._read():
            found = {r.session for r in Order.select(Order.session).distinct()}
            found |= {r.session for r in MinuteBar.select(MinuteBar.session).distinct()}
            found |= {r.session for r in Position.select(Position.session).distinct()}
            found |= {r.session for r in Session.select(Session.session)}
        return sorted(found)

    # ------------------------------------------------------------------ internals

    def _check_open(self) -> None:
        if self._db is None:
            raise JournalError(f"journal {self.path!r} is closed")

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One transaction written at once, the write lock taken first (a second process may write too)."""
        with self._bound(), self._db.atomic("IMMEDIATE"):
            yield

    @contextmanager
    def _bound(self) -> Iterator[None]:
        with _LOCK:
            self._check_open()
            with self._db.bind_ctx(MODELS):
                yield

    @contextmanager
    def _read(self) -> Iterator[None]:
        with _LOCK:
            self.flush()
            with self._bound():
                yield

    def _order_intent(self, e: OrderIntent) -> None:
        settled = e.state not in UNSETTLED
        OrderIntentRow.insert(
            intent_id=e.intent_id,
            session=session_of(e.time),
            state=e.state,
            **_terms(e),
            orderid=e.orderid,
            error=e.error,
            sent_at=e.time,
            settled_at=e.time if settled else None,
        ).on_conflict(
            conflict_target=[OrderIntentRow.intent_id],
            update={
                OrderIntentRow.state: peewee.EXCLUDED.state,
                OrderIntentRow.orderid: peewee.EXCLUDED.orderid,
                OrderIntentRow.error: peewee.EXCLUDED.error,
                OrderIntentRow.settled_at: peewee.EXCLUDED.settled_at,
            },
        ).execute()
        if e.state == "placed" and e.orderid:
            # the order is ours from its answer on, in the same commit: a kill before its
            # ``OrderSent`` (which adds the place event) must not leave it unknown at the restart
            Order.insert(**_order_row(e, e.orderid, _OP_STATUS["place"])).on_conflict_ignore().execute()

    def _order_sent(self, e: OrderSent) -> None:
        Order.insert(
            **_order_row(e, e.orderid, _OP_STATUS[e.op]),
        ).on_conflict(
            conflict_target=[Order.orderid],
            update={
                Order.role: peewee.EXCLUDED.role,
                Order.symbol: peewee.EXCLUDED.symbol,
                Order.action: peewee.EXCLUDED.action,
                Order.pricetype: peewee.EXCLUDED.pricetype,
                Order.trigger_price: peewee.EXCLUDED.trigger_price,
                Order.price: peewee.EXCLUDED.price,
                Order.quantity: peewee.EXCLUDED.quantity,
                Order.position_id: peewee.fn.COALESCE(peewee.EXCLUDED.position_id, Order.position_id),
                Order.status: peewee.EXCLUDED.status,
                Order.updated_at: peewee.EXCLUDED.updated_at,
            },
        ).execute()
        OrderEventRow.create(
            orderid=e.orderid,
            time=e.time,
            op=e.op,
            trigger_price=e.trigger_price,
            price=e.price,
            quantity=e.quantity,
            average_price=None,
        )

    def _order_filled(self, e: OrderFilled) -> None:
        Fill.create(
            session=session_of(e.time),
            orderid=e.orderid,
            role=e.role,
            symbol=e.symbol,
            action=e.action,
            quantity=e.quantity,
            average_price=e.average_price,
            position_id=e.position_id,
            time=e.time,
        )
        order = Order.get_or_none(Order.orderid == e.orderid)
        OrderEventRow.create(
            orderid=e.orderid,
            time=e.time,
            op="fill",
            trigger_price=None if order is None else order.trigger_price,
            price=None if order is None else order.price,
            quantity=e.quantity,
            average_price=e.average_price,
        )
        if order is None:
            logger.warning("journal: fill for unknown order {} ({}); order row not updated", e.orderid, e.symbol)
            return
        filled = order.filled_quantity + e.quantity
        average = order.average_price
        if filled > 0:
            average = (order.average_price * order.filled_quantity + e.average_price * e.quantity) / filled
        if filled >= order.quantity:
            status = "complete"
        elif order.status in FINAL_STATUSES:
            status = order.status  # a late fill of a cancelled order does not reopen it
        else:
            status = "partial"
        Order.update(
            filled_quantity=filled, average_price=average, status=status, updated_at=e.time
        ).where(Order.orderid == e.orderid).execute()

    def _position(self, e: PositionEvent) -> None:
        if e.state == "open":
            Position.insert(
                position_id=e.position_id,
                session=session_of(e.time),
                symbol=e.symbol,
                option_type=e.option_type,
                state="open",
                quantity=e.quantity,
                entry_price=e.entry_price,
                sl_price=e.sl_price,
                reason=e.reason,
                opened_at=e.time,
            ).on_conflict(
                conflict_target=[Position.position_id],
                update={
                    Position.quantity: peewee.EXCLUDED.quantity,
                    Position.entry_price: peewee.EXCLUDED.entry_price,
                    Position.sl_price: peewee.EXCLUDED.sl_price,
                },
            ).execute()
            return
        closed = dict(
            state="closed",
            quantity=e.quantity,
            entry_price=e.entry_price,
            sl_price=e.sl_price,
            exit_price=e.exit_price,
            pnl=e.pnl,
            r=e.r,
            reason=e.reason,
            closed_at=e.time,
        )
        if Position.update(**closed).where(Position.position_id == e.position_id).execute() == 0:
            logger.warning("journal: close of unknown position {}; opened_at set to the close time", e.position_id)
            Position.create(
                position_id=e.position_id,
                session=session_of(e.time),
                symbol=e.symbol,
                option_type=e.option_type,
                opened_at=e.time,
                **closed,
            )

    def _swing(self, e: SwingDetected) -> None:
        Swing.create(
            session=session_of(e.time),
            symbol=e.symbol,
            swing_type=e.swing_type,
            is_update=e.update,
            price=e.price,
            bar_time=e.bar_time,
            confirmed_at=e.confirmed_at,
            vwap_at_swing=e.vwap_at_swing,
            time=e.time,
        )

    def _bars(self, events: list[BarClosed]) -> None:
        # 40,000 bars a day (150 symbols): one executemany, not peewee's query builder (100 µs a row)
        start = MinuteBar.start.db_value
        rows = [
            (session_of(e.bar.start).isoformat(), e.symbol, start(e.bar.start), e.bar.open, e.bar.high, e.bar.low,
             e.bar.close, e.bar.volume, e.vwap)
            for e in events
        ]
        self._db.cursor().executemany(BAR_INSERT, rows)

    def _candidate(self, e: CandidateDecided) -> None:
        CandidateDecision.create(
            session=session_of(e.time),
            time=e.time,
            symbol=e.symbol,
            option_type=e.option_type,
            decision=e.decision,
            reason=e.reason,
            price=e.price,
            vwap_at_swing=e.vwap_at_swing,
            sl_price=e.sl_price,
            sl_pct=e.sl_pct,
            quantity=e.quantity,
        )

    def _summary(self, e: SessionSummary) -> None:
        DailySummary.insert(
            session=e.session,
            trades=e.trades,
            wins=e.wins,
            net_r=e.net_r,
            max_drawdown_r=e.max_drawdown_r,
            pnl=e.pnl,
            halted=e.halted,
            halt_reason=e.halt_reason,
        ).on_conflict_replace().execute()

    def _halted(self, e: Halted) -> None:
        session = session_of(e.time)
        row = Session.get_or_none(Session.session == session)
        if row is not None and row.halted:
            logger.info("journal: session {} already halted ({}); keeping the first halt", session, row.halt_reason)
            return
        Session.insert(
            session=session, halted=True, halt_reason=e.reason, halted_at=e.time
        ).on_conflict_replace().execute()

    def _alert(self, e: Alert) -> None:
        AlertRow.create(session=session_of(e.time), time=e.time, level=e.level, text=e.text)
