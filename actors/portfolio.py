"""PortfolioActor: positions, R, the 5/3/3 limits, ±5R, 15:15, halt, reconciliation.

strategy.md §6. The only owner of positions and of the halt flag.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from loguru import logger

from actors.base import ActorContext, BaseActor
from actors.names import FILTER, JOURNAL, order_actor
from broker.base import BrokerError
from broker.gateway import BrokerGateway
from messages.base import OptionType, option_type_of
from messages.market import Tick
from messages.orders import FlattenAll, Flattened, ReconcileSymbol, StartTrading, StopEntries
from messages.portfolio import (
    EntryFilled,
    EntryReservation,
    ExitFilled,
    ForceExitDue,
    GetTrades,
    OpenSymbols,
    OrderActorRecovered,
    PauseEntries,
    PositionEvent,
    ReconcileDue,
    ReleaseEntry,
    ReportReservation,
    ReserveEntry,
    SessionEndDue,
    SessionSummary,
    StatusDue,
    TradeRecord,
)
from messages.system import Alert, Halt, Halted, Stop
from persistence.journal_store import JournalStore
from state.portfolio import PortfolioPosition, exit_reason, rebuild
from strategy.risk import max_drawdown


class PortfolioActor(BaseActor):
    """In: :class:`ReserveEntry` (ask), :class:`ReleaseEntry`, :class:`EntryFilled`,
    :class:`ExitFilled`, :class:`Tick`, :class:`Flattened`, :class:`Halt`, timers
    (:class:`ForceExitDue`, :class:`SessionEndDue`, :class:`ReconcileDue`), :class:`GetTrades` (ask),
    :class:`StatusDue` (a heartbeat line), :class:`OrderActorRecovered` and :class:`EntryReservation`
    (an OrderActor's word after its restart or ours), :class:`PauseEntries` (``run.py pause|resume``).

    Out: :class:`PositionEvent`, :class:`Halted`, :class:`SessionSummary`,
    :class:`Alert` to the Journal; :class:`OpenSymbols` to the FilterSupervisor
    whenever the symbols with an open position change, and at each
    reconciliation; :class:`FlattenAll` to the CE OrderActor and,
    once it reports :class:`Flattened`, to the PE OrderActor (one after the
    other, so the two never race for the broker); :class:`ReconcileSymbol` on a
    mismatch with the broker's position book.
    """

    def __init__(
        self,
        name: str,
        ctx: ActorContext,
        gateway: BrokerGateway,
        halted_reason: str = "",
        journal: JournalStore | None = None,
    ) -> None:
        super().__init__(name, ctx)
        self.gateway = gateway
        #: the session's positions; those of the journal (closed or open before a crash or a
        #: restart) count in the day's R, the summary and the trade table (strategy.md §6)
        self.positions: dict[str, PortfolioPosition] = {}
        #: read at start: the day's positions an earlier actor or run journaled (crash, restart)
        self.journal = journal
        self.working: dict[OptionType, bool] = {"CE": False, "PE": False}
        self.halted = bool(halted_reason)
        self.halt_reason = halted_reason
        #: ``run.py pause``: no new entries until ``resume`` (restored from the journal at start)
        self.paused = False
        #: mismatches of the last reconciliation: symbol -> (broker quantity, ours)
        self._mismatches: dict[str, tuple[int, int]] = {}
        #: confirmed mismatches already alerted (alerted once per state)
        self._alerted: dict[str, tuple[int, int]] = {}
        #: the symbols with an open position, as last told to the FilterSupervisor
        self._open_symbols: frozenset[str] = frozenset()
        self.handlers = {
            ReserveEntry: self.on_reserve,
            ReleaseEntry: self.on_release,
            EntryReservation: self.on_reservation,
            OrderActorRecovered: self.on_order_actor_recovered,
            EntryFilled: self.on_entry_filled,
            ExitFilled: self.on_exit_filled,
            Tick: self.on_tick,
            Flattened: self.on_flattened,
            Halt: self.on_halt,
            ForceExitDue: self.on_force_exit,
            SessionEndDue: self.on_session_end,
            ReconcileDue: self.on_reconcile,
            GetTrades: self.on_get_trades,
            StatusDue: self.on_status_due,
            PauseEntries: self.on_pause,
        }

    def started(self) -> None:
        if self.journal is None:
            return
        try:
            self._recover()
        except Exception as exc:  # noqa: BLE001 - a failed recovery must be seen, not crash the start
            logger.exception("portfolio: recovery from the journal failed")
            self._alert(self.clock.now(), f"portfolio: recovery from the journal failed ({exc!r})")

    def _recover(self) -> None:
        """The day's positions as the journal holds them (flushed first), closed and open: the same
        path after a crash of this actor and after a restart of the program (strategy.md §6).

        A closed one counts in the day's R, the summary and the trade table; an
        open one is watched again, its exits so far already taken off
        (:func:`state.portfolio.rebuild`). Each OrderActor is asked for its
        entry reservation; the R so far may halt the day at once.
        """
        self._rebuild(None)
        self.paused, since, source = self.journal.paused(self.clock.now().date())
        if self.paused:
            logger.warning("portfolio: entries are paused since {} ({}); run.py resume to trade again", since, source)
        for option_type in ("CE", "PE"):  # their own word on it wins (EntryReservation)
            if self.router.ref(order_actor(option_type)) is not None:
                self.tell(order_actor(option_type), ReportReservation(time=self.clock.now()))
        if self.positions:
            logger.info(
                "portfolio: recovered from the journal: {} positions ({} open), {:+.2f}R so far",
                len(self.positions), self.open_count(), self.cumulative_r(),
            )

    def on_order_actor_recovered(self, done: OrderActorRecovered) -> None:
        """A (re)started OrderActor has journaled what the broker says of its orders: take its type's
        positions from the journal again (a fill or exit it could not report is counted; a position
        it never filled goes), and its reservation from its own word."""
        self.working[done.option_type] = done.reservation_held
        if self.journal is not None:
            self._rebuild(done.option_type)

    def _rebuild(self, option_type: OptionType | None) -> None:
        """Replace the positions (of ``option_type``, or all) with the journal's, flushed first.

        Open positions keep their last price. A position whose journal row is
        missing or still open while its orders closed it is journaled now.
        Then the filter hears the open symbols and the day's R is checked.
        """
        assert self.journal is not None
        try:
            self.ask(JOURNAL, Stop(), timeout=10.0)
        except Exception:  # noqa: BLE001 - read what is there
            logger.warning("portfolio: the journal did not flush before recovery")
        now = self.clock.now()
        day = now.date()
        positions, working = rebuild(self.journal, day)
        journaled = {row["position_id"]: row["state"] for row in self.journal.positions(day)}
        for pid in [p for p, pos in self.positions.items() if option_type in (None, pos.option_type)]:
            if pid not in positions:
                logger.warning("portfolio: position {} is not in the journal's orders; dropped", pid)
                del self.positions[pid]
        for pid, pos in positions.items():
            if option_type not in (None, pos.option_type):
                continue
            old = self.positions.get(pid)
            if old is not None and pos.open_quantity > 0:
                pos.last_price = old.last_price
            self.positions[pid] = pos
            state = "open" if pos.open_quantity > 0 else "closed"
            if journaled.get(pid) is None:
                self._journal_position(pos, "open", pos.entry_time)
            if state == "closed" and journaled.get(pid) != "closed":
                logger.info("portfolio: position {} {} closed while this actor did not hear it ({})", pid, pos.symbol, pos.reason)
                self._journal_position(pos, "closed", pos.exit_time or now)
        if option_type is None:
            self.working = working
        self._share_open_symbols(now, always=True)  # a restarted filter learns them again too
        self._check_r(now)

    def watched_symbols(self) -> frozenset[str]:
        """Ticks needed: those of open positions (unrealized R)."""
        return frozenset(p.symbol for p in self.positions.values() if p.open_quantity > 0)

    # --- limits ---------------------------------------------------------------------
    def open_count(self, option_type: OptionType | None = None) -> int:
        """Open positions (of one type, or all)."""
        return sum(
            1 for p in self.positions.values() if p.open_quantity > 0 and option_type in (None, p.option_type)
        )

    def on_reserve(self, ask: ReserveEntry) -> bool:
        """Grant one working entry to ``ask.option_type`` if the 5/3/3 limits allow it."""
        s = self.settings
        t = ask.option_type
        if self.halted or self.paused or self.working[t]:
            return False
        working_total = sum(self.working.values())
        if self.open_count(t) + 1 > s.limit_for(t) or self.open_count() + working_total + 1 > s.max_positions:
            return False
        self.working[t] = True
        return True

    def on_release(self, release: ReleaseEntry) -> None:
        self.working[release.option_type] = False

    def on_reservation(self, report: EntryReservation) -> None:
        """The OrderActor's own word on its reservation (after its restart, or ours): it wins."""
        if self.working[report.option_type] != report.held:
            logger.info("portfolio: {} {} an entry reservation", report.option_type, "holds" if report.held else "holds no")
        self.working[report.option_type] = report.held

    # --- positions -------------------------------------------------------------------
    def on_entry_filled(self, fill: EntryFilled) -> None:
        pos = self.positions.get(fill.position_id)
        if pos is None:
            pos = PortfolioPosition(
                position_id=fill.position_id,
                symbol=fill.symbol,
                option_type=fill.option_type,
                entry_time=fill.time,
                quantity=0,
                entry_price=fill.entry_price,
                sl_price=fill.sl_price,
                open_quantity=0,
                last_price=fill.entry_price,
            )
            self.positions[fill.position_id] = pos
        added = fill.filled_quantity - pos.quantity
        if added <= 0:
            return
        pos.quantity = fill.filled_quantity
        pos.open_quantity += added
        pos.entry_price = fill.entry_price
        self._journal_position(pos, "open", fill.time)
        self._share_open_symbols(fill.time)
        self._check_r(fill.time)

    def on_exit_filled(self, fill: ExitFilled) -> None:
        pos = self.positions.get(fill.position_id)
        if pos is None or pos.open_quantity == 0:
            logger.warning("exit fill for unknown or closed position {}", fill.position_id)
            return
        quantity = fill.quantity
        if fill.orderid is not None and fill.order_filled is not None:
            counted = pos.exits_by_order.get(fill.orderid, 0)
            quantity = min(quantity, fill.order_filled - counted)
            if quantity <= 0:
                logger.debug("exit fill of {} already counted (from the journal)", fill.orderid)
                return
            pos.exits_by_order[fill.orderid] = counted + quantity
        pos.take_exit(quantity, fill.price)
        pos.reason = fill.reason
        if pos.open_quantity == 0:
            pos.exit_time = fill.time
            pos.last_price = fill.price
            self._journal_position(pos, "closed", fill.time)
            self._share_open_symbols(fill.time)
        self._check_r(fill.time)

    def on_tick(self, tick: Tick) -> None:
        touched = False
        for pos in self.positions.values():
            if pos.open_quantity > 0 and pos.symbol == tick.symbol:
                pos.last_price = tick.ltp
                touched = True
        if touched:
            self._check_r(tick.time)

    def _share_open_symbols(self, now: datetime, always: bool = False) -> None:
        """Tell the FilterSupervisor which symbols hold an open position, when that changed (or ``always``)."""
        symbols = frozenset(p.symbol for p in self.positions.values() if p.open_quantity > 0)
        if always or symbols != self._open_symbols:
            self._open_symbols = symbols
            self.tell(FILTER, OpenSymbols(symbols=symbols, time=now))

    def cumulative_r(self) -> float:
        """Closed R plus unrealized R of open positions at their last prices."""
        return sum(p.r for p in self.positions.values())

    def _check_r(self, now: datetime) -> None:
        if self.halted:
            return
        total = self.cumulative_r()
        if total >= self.settings.daily_target_r:
            self._halt(f"daily_target_r ({total:.2f}R)", now)
        elif total <= self.settings.daily_stop_r:
            self._halt(f"daily_stop_r ({total:.2f}R)", now)

    # --- halt and flatten -------------------------------------------------------------
    def on_halt(self, command: Halt) -> None:
        if not self.halted:
            self._halt(command.reason, command.time)

    def on_force_exit(self, due: ForceExitDue) -> None:
        if not self.halted:
            self._halt("force_exit", due.time)

    def _halt(self, reason: str, now: datetime) -> None:
        """Stop entering, then flatten CE and, after it, PE (strategy.md §6)."""
        self.halted = True
        self.halt_reason = reason
        self.tell(JOURNAL, Halted(time=now, reason=reason))
        self.defer(order_actor("CE"), FlattenAll(reason=exit_reason(reason), time=now))

    def on_flattened(self, done: Flattened) -> None:
        if done.option_type == "CE":
            self.defer(order_actor("PE"), FlattenAll(reason=exit_reason(self.halt_reason), time=done.time))

    def on_pause(self, command: PauseEntries) -> None:
        """Pause: no reservation is granted and the OrderActors cancel their working entries (their
        best is kept); resume: they act on it again. Open positions and their stops are untouched."""
        if command.paused == self.paused:
            logger.info("entries already {} ({})", "paused" if self.paused else "allowed", command.source)
            return
        self.paused = command.paused
        logger.info(
            "entries {} ({}); open positions and their stops are untouched",
            "PAUSED" if self.paused else "RESUMED", command.source,
        )
        for option_type in ("CE", "PE"):
            message = StopEntries(time=command.time) if self.paused else StartTrading(time=command.time)
            self.tell(order_actor(option_type), message)

    # --- reconciliation ----------------------------------------------------------------
    def on_reconcile(self, due: ReconcileDue) -> None:
        """Compare net positions with the broker's position book (strategy.md §6).

        A fill can be known to the broker a moment before its update reaches
        us, so a mismatch first only asks the OrderActor to refresh its orders
        on the symbol; seen again (same quantities) at the next reconciliation
        it is confirmed: logged, alerted, and acted on (the broker is the
        source of truth).
        """
        next_due = due.time + timedelta(seconds=self.settings.reconcile_seconds)
        self.clock.schedule(next_due, self.name, ReconcileDue(time=next_due))
        self._share_open_symbols(due.time, always=True)  # a restarted FilterSupervisor learns them again
        try:
            rows = self.gateway.position_book()
        except BrokerError as exc:
            logger.warning("reconciliation skipped: position book unavailable ({})", exc)
            return
        broker: dict[str, int] = {}
        for row in rows:
            if row.exchange == self.settings.exchange and row.product == self.settings.product:
                broker[row.symbol] = broker.get(row.symbol, 0) + row.quantity
        ours: dict[str, int] = {}
        for pos in self.positions.values():
            ours[pos.symbol] = ours.get(pos.symbol, 0) - pos.open_quantity
        mismatches = {
            symbol: (broker.get(symbol, 0), ours.get(symbol, 0))
            for symbol in sorted(set(broker) | set(ours))
            if broker.get(symbol, 0) != ours.get(symbol, 0)
        }
        previous, self._mismatches = self._mismatches, mismatches
        self._alerted = {s: state for s, state in self._alerted.items() if mismatches.get(s) == state}
        for symbol, (held, mine) in mismatches.items():
            confirmed = previous.get(symbol) == (held, mine)
            if not confirmed:
                logger.info("reconciliation: broker {} vs ours {} for {}; checking again", held, mine, symbol)
            elif symbol not in self._alerted:
                self._alerted[symbol] = (held, mine)
                whose = f"we hold {mine}" if symbol in ours else "which this system did not open"
                self._alert(due.time, f"reconciliation: broker holds {held} of {symbol}, {whose}")
            if symbol in ours:
                self.defer(
                    order_actor(option_type_of(symbol)),
                    ReconcileSymbol(symbol=symbol, broker_quantity=held, confirmed=confirmed, time=due.time),
                )

    def _alert(self, now: datetime, text: str) -> None:
        logger.error(text)
        self.tell(JOURNAL, Alert(time=now, level="critical", text=text))

    # --- reporting ------------------------------------------------------------------------
    def on_status_due(self, due: StatusDue) -> None:
        """The trading half of the heartbeat: open positions, working entries, R, the halt."""
        held = sorted((p for p in self.positions.values() if p.open_quantity > 0), key=lambda p: p.symbol)
        closed_r = sum(p.r for p in self.positions.values() if p.open_quantity == 0)
        open_text = ", ".join(f"{p.symbol} x{p.open_quantity} {p.r:+.2f}R" for p in held) or "none"
        working = "/".join(t for t in ("CE", "PE") if self.working[t]) or "none"
        logger.info(
            "[HEARTBEAT] trading: open positions {} ({}); working entries {}; R closed {:+.2f}, total {:+.2f}; {}",
            len(held), open_text, working, closed_r, self.cumulative_r(),
            f"HALTED ({self.halt_reason})" if self.halted else ("PAUSED" if self.paused else "not halted"),
        )

    def on_session_end(self, due: SessionEndDue) -> None:
        closed = sorted((p for p in self.positions.values() if p.open_quantity == 0), key=_order_key)
        rs = [p.r for p in closed]
        self.tell(
            JOURNAL,
            SessionSummary(
                time=due.time,
                session=due.time.date(),
                trades=len(closed),
                wins=sum(1 for r in rs if r > 0),
                net_r=round(sum(rs), 4),
                max_drawdown_r=round(max_drawdown(rs), 4),
                pnl=round(sum(p.pnl for p in closed), 2),
                halted=self.halted,
                halt_reason=self.halt_reason,
            ),
        )
        still_open = [p.symbol for p in self.positions.values() if p.open_quantity > 0]
        if still_open:
            text = f"session ended with open positions: {', '.join(still_open)}"
            logger.error(text)
            self.tell(JOURNAL, Alert(time=due.time, level="critical", text=text))

    def on_get_trades(self, _ask: GetTrades) -> list[TradeRecord]:
        return [
            TradeRecord(
                position_id=p.position_id,
                symbol=p.symbol,
                option_type=p.option_type,
                quantity=p.quantity,
                entry_time=p.entry_time,
                entry_price=p.entry_price,
                sl_price=p.sl_price,
                exit_time=p.exit_time,
                exit_price=p.exit_price if p.open_quantity == 0 else None,
                reason=p.reason if p.open_quantity == 0 else "open",
                pnl=round(p.pnl, 2),
                r=round(p.r, 4),
            )
            for p in sorted(self.positions.values(), key=_order_key)
        ]

    def _journal_position(self, pos: PortfolioPosition, state: str, now: datetime) -> None:
        closed = state == "closed"
        self.tell(
            JOURNAL,
            PositionEvent(
                time=now,
                state=state,  # type: ignore[arg-type]
                position_id=pos.position_id,
                symbol=pos.symbol,
                option_type=pos.option_type,
                quantity=pos.quantity,
                entry_price=round(pos.entry_price, 4),
                sl_price=pos.sl_price,
                exit_price=round(pos.exit_price, 4) if closed and pos.exit_price is not None else None,
                pnl=round(pos.pnl, 2) if closed else None,
                r=round(pos.r, 4) if closed else None,
                reason=pos.reason if closed else "",
            ),
        )


def _order_key(p: PortfolioPosition) -> tuple[datetime, str]:
    return (p.entry_time, p.position_id)
