"""OrderActor: one per option type; owns the working entry and the protective stops.

strategy.md §5. The actor turns :class:`EntryIntent` messages into place /
modify / cancel / deferred switch of one SELL stop-limit entry, places a BUY
stop-limit for every filled quantity at once, and closes positions at MARKET
when told to flatten or when a stop cannot be placed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pykka
from loguru import logger

from actors.base import ActorContext, BaseActor, Router
from actors.names import FILTER, JOURNAL, PORTFOLIO, order_actor, symbol_actor
from broker.base import BrokerError, OrderListener, OrderNotCancellable, OrderRejected, OrderRequest, OrderSnapshot
from broker.gateway import BrokerGateway
from messages.base import OptionType, OrderRole, option_type_of
from messages.market import GetSwingState, SwingState, Tick
from messages.orders import (
    FINAL_STATUSES,
    FlattenAll,
    Flattened,
    OrderFilled,
    OrderIntent,
    OrderSent,
    OrderUpdate,
    PollDue,
    ReconcileSymbol,
    StartTrading,
    StopEntries,
    SwitchDue,
    TriggeredEntryDue,
)
from messages.portfolio import (
    EntryFilled,
    EntryReservation,
    ExitFilled,
    OrderActorRecovered,
    ReleaseEntry,
    ReportReservation,
    ReserveEntry,
)
from messages.signals import EntryCandidate, EntryIntent, ResendBest
from messages.system import Alert, Stop
from persistence.journal_store import JournalStore
from state.orders import Grid, OrderState, ShortPosition, TrackedOrder, assumed_candidate, rebuild
from state.portfolio import exit_reason
from strategy.entry_plan import WorkingEntry, plan_entry
from strategy.prices import ceil_tick
from strategy.session import ONE_MINUTE, at, minute_start


class JournalNotConfirmed(BrokerError):
    """Not a broker answer: the journal did not confirm an entry's intent, so nothing was sent."""


#: How often an unplaced best candidate retries for room in the portfolio.
ROOM_RETRY = timedelta(seconds=1)


class OrderActor(BaseActor):
    """In: :class:`EntryIntent`, :class:`OrderUpdate`, :class:`Tick` (its type's symbols),
    :class:`SwitchDue`, :class:`TriggeredEntryDue`, :class:`PollDue`, :class:`FlattenAll`,
    :class:`ReconcileSymbol`,
    :class:`StartTrading` (when constructed with ``trading=False`` for a warm-up),
    :class:`StopEntries` (shutdown or pause: the working entry is cancelled, stops stay;
    after a pause :class:`StartTrading` resumes),
    :class:`ReportReservation` (a restarted portfolio asks).

    A triggered entry (strategy.md §5) is left alone until it fills or the
    bar in which it triggered has closed (plus the grace); then what is still
    unfilled is cancelled. Before it places an entry it asks the symbol's
    SymbolActor for its current state (:class:`GetSwingState`).

    Out: :class:`OrderSent` / :class:`OrderFilled` / :class:`Alert` to the
    Journal; :class:`ReserveEntry` (ask), :class:`ReleaseEntry`,
    :class:`EntryFilled`, :class:`ExitFilled`, :class:`Flattened`,
    :class:`OrderActorRecovered` (after its recovery), :class:`EntryReservation` (when asked) to the
    PortfolioActor. Broker calls go through the shared :class:`BrokerGateway`.
    """

    def __init__(
        self,
        name: str,
        ctx: ActorContext,
        option_type: OptionType,
        gateway: BrokerGateway,
        trading: bool = True,
        journal: JournalStore | None = None,
    ) -> None:
        super().__init__(name, ctx)
        self.option_type = option_type
        self.gateway = gateway
        #: read at start: what an earlier actor of this type left (crash, restart)
        self.journal = journal
        #: False during the warm-up from history: intents are kept, not acted on
        self.trading = trading
        self.desired: EntryCandidate | None = None
        #: whether ``desired`` is the filter's word: not after a recovery until its EntryIntent comes,
        #: so an adopted entry is not taken for unwanted meanwhile
        self.desired_known = journal is None
        #: the orders, positions and working entry (rebuilt from the journal at start)
        self.state = OrderState()
        self.reserved = False
        self.halted = False
        self.flatten_reason = ""
        self._switch_scheduled = False
        self._poll_scheduled = False
        self._last_room_try: datetime | None = None
        #: order intents journaled by this actor (for their ids)
        self._intents = 0
        #: every entry's candidate by its order terms (symbol, trigger, quantity): a lost
        #: placement that turns up later is protected with its own stop
        self._sent_candidates: dict[tuple[str, float, int], EntryCandidate] = {}
        #: last trade of each watched symbol (rupees): the exit price of a position the broker closed
        self.last_prices: dict[str, float] = {}
        self.handlers = {
            EntryIntent: self.on_intent,
            SwitchDue: self.on_switch_due,
            TriggeredEntryDue: self.on_triggered_entry_due,
            OrderUpdate: self.on_order_update,
            Tick: self.on_tick,
            PollDue: self.on_poll,
            FlattenAll: self.on_flatten,
            ReconcileSymbol: self.on_reconcile_symbol,
            StartTrading: self.on_start_trading,
            StopEntries: self.on_stop_entries,
            ReportReservation: self.on_report_reservation,
        }

    def started(self) -> None:
        if self.journal is None:
            return
        try:
            self._recover()
        except Exception as exc:  # noqa: BLE001 - a failed recovery must be seen, not crash the start
            logger.exception("{}: recovery from the journal failed", self.name)
            self._alert("critical", f"recovery from the journal failed ({exc!r}); check the broker's books by hand")

    # --- recovery (architecture.md, crash-only) ---------------------------------------------------
    def _recover(self) -> None:
        """Take over what an earlier actor of this type left: the same path after a crash and a restart.

        The state comes from the journal (flushed first; :func:`state.orders.rebuild`):
        the session's open positions of this type with their working stops and
        exits, and a working entry. Then the broker's word on each of those
        orders (``orderstatus``) goes through the normal update path, so fills
        that happened meanwhile are journaled, reported and protected; a
        position with less stop than open quantity gets a stop for the rest at
        once. A working entry is kept: once the warm-up is over, what the
        recomputed pool publishes keeps, modifies or cancels it (strategy.md §5
        table); a stop, shutdown or halt cancels it as any other. The portfolio
        hears whether this actor holds an entry reservation.
        """
        assert self.journal is not None
        try:
            self.ask(JOURNAL, Stop(), timeout=10.0)  # everything sent so far is written
        except (pykka.ActorDeadError, pykka.Timeout, TimeoutError):
            logger.warning("{}: the journal did not flush before recovery", self.name)
        self.state = rebuild(self.journal, self.clock.now().date(), self.option_type, Grid.of(self.settings))
        for text in self.state.warnings:
            self._alert("critical", text)
        if self.state.orders:
            logger.info(
                "{}: recovered from the journal: {} open positions, {} working entry",
                self.name, len(self.state.positions), "a" if self.state.entry else "no",
            )
        for order in list(self.state.orders.values()):  # the broker's word on each, meanwhile
            if not order.final:
                self._refresh(order)
        self.reserved = self.state.entry is not None
        for order in list(self.state.orders.values()):  # a lost attempt that reached the broker (settled)
            if order.role == "entry" and not order.final and order is not self.state.entry:
                self._alert("critical", f"entry {order.orderid} {order.symbol} works besides the entry; cancelling it")
                self._cancel(order)
        for position in list(self.state.positions.values()):
            self._trim_cover(position)
            self._protect_gap(position)
        day = self.clock.now().date()
        halted, reason = self.journal.is_halted(day)
        if halted:  # the day is over for entries; a flatten the crash interrupted goes on (strategy.md §6)
            logger.warning("{}: the day is halted ({}); no entries, nothing left open", self.name, reason)
            self._flatten(exit_reason(reason))
        elif self.journal.paused(day)[0]:  # run.py pause holds across restarts: no working entry either
            logger.warning("{}: entries are paused (run.py resume allows them); its working entry is cancelled", self.name)
            self.on_stop_entries(StopEntries(time=self.clock.now()))
        self.defer(PORTFOLIO, OrderActorRecovered(option_type=self.option_type, reservation_held=self.reserved, time=self.clock.now()))
        if self.state.orders or self.gateway.has_unsettled(self._mine):
            self._schedule_poll()
        self._ask_best()

    def _ask_best(self) -> None:
        """Ask the filter for its last best (restarted alone, an intent sent meanwhile was lost)."""
        if self.router.ref(FILTER) is not None:
            self.tell(FILTER, ResendBest(option_type=self.option_type, time=self.clock.now()))

    def _trim_cover(self, position: ShortPosition) -> None:
        """Cancel stops (newest first) while working stops and exits cover more than the open quantity:
        a second stop would buy again once the first has bought the position back."""
        for stop in reversed(position.stops):
            if position.unprotected >= 0:
                return
            if not stop.final and not stop.cancel_requested:
                self._alert("critical", f"stop {stop.orderid} of {position.symbol} is one stop too many; cancelling it")
                if self._cancel(stop):
                    stop.status = "cancelled"  # no longer counted; the broker's word follows

    def _protect_gap(self, position: ShortPosition) -> None:
        """A stop for whatever open quantity no working stop or exit covers (no position without its stop)."""
        gap = position.unprotected
        if gap > 0 and position.position_id in self.state.positions:
            self._alert("critical", f"position {position.position_id} {position.symbol}: x{gap} without a stop; placing one")
            self._protect(position, gap)

    def watched_symbols(self) -> frozenset[str]:
        """Ticks needed: the working entry's and the best candidate's symbol, and every position's."""
        symbols = {p.symbol for p in self.state.positions.values()}
        if self.state.entry is not None:
            symbols.add(self.state.entry.symbol)
        if self.desired is not None:
            symbols.add(self.desired.symbol)
        return frozenset(symbols)

    # --- handlers -------------------------------------------------------------------
    def on_intent(self, intent: EntryIntent) -> None:
        self.desired = intent.candidate
        self.desired_known = True
        self._act(at_bar_close=False)

    def on_start_trading(self, start: StartTrading) -> None:
        self.trading = True
        if not self.desired_known:  # no intent since the recovery (the pool may have had no best): ask
            self._ask_best()
        self._act(at_bar_close=False)

    def on_stop_entries(self, stop: StopEntries) -> None:
        self.trading = False  # the best is kept: a pause's StartTrading acts on it again
        if self.state.entry is not None:
            self._cancel_entry()

    def on_report_reservation(self, ask: ReportReservation) -> None:
        self.defer(PORTFOLIO, EntryReservation(option_type=self.option_type, held=self.reserved, time=self.clock.now()))

    def on_switch_due(self, due: SwitchDue) -> None:
        self._switch_scheduled = False
        self._act(at_bar_close=True)

    def on_triggered_entry_due(self, due: TriggeredEntryDue) -> None:
        entry = self.state.entry
        if entry is None or entry.orderid != due.orderid or entry.final:
            return
        self._end_rest(entry)

    def on_order_update(self, update: OrderUpdate) -> None:
        self._apply(update)

    def on_tick(self, tick: Tick) -> None:
        self.last_prices[tick.symbol] = tick.ltp
        entry = self.state.entry
        if entry is not None and tick.symbol == entry.symbol and tick.ltp <= entry.trigger_price:
            self._triggered(entry, min(tick.time, self.clock.now()))
            if not entry.crossing_checked:
                entry.crossing_checked = True
                self._refresh(entry)
        for position in [p for p in self.state.positions.values() if p.symbol == tick.symbol]:
            # a refresh may close the position (and drop it from self.state.positions)
            for stop in list(position.stops):
                if not stop.final and not stop.crossing_checked and tick.ltp >= stop.trigger_price:
                    stop.crossing_checked = True
                    self._refresh(stop)
        if self.desired is not None and self.state.entry is None and not self.halted:
            now = self.clock.now()
            if self._last_room_try is None or now - self._last_room_try >= ROOM_RETRY:
                self._last_room_try = now
                self._act(at_bar_close=False)

    def on_poll(self, due: PollDue) -> None:
        self._poll_scheduled = False
        lost = self.gateway.has_unsettled(self._mine)
        if not lost and not any(not o.final for o in self.state.orders.values()):
            return
        try:
            book = self.gateway.order_book()
        except BrokerError as exc:
            logger.warning("{}: order-book poll failed: {}", self.name, exc)
            book = []
        for row in book:
            order = self.state.orders.get(row.orderid)
            if order is not None and (row.status != order.status or row.filled_quantity != order.filled_quantity):
                self._apply(row.as_update(self.clock.now()))
        # after our own orders' news: a doubled order is judged against what they did
        for row, request in self.gateway.late_placements(book, self._mine) if book else []:
            self._take_over_late(row, request)
        self._schedule_poll()

    def _mine(self, symbol: str) -> bool:
        return option_type_of(symbol) == self.option_type

    def _take_over_late(self, row: OrderSnapshot, request: OrderRequest) -> None:
        """A placement thought lost reached the broker after all (``row``, found by the gateway): no
        order of ours is left untracked. It is journaled and tracked, its fills count as any (one
        already over brings only its fills); then it is cancelled unless it is needed: an entry
        always (its type's entry is another, or none; what filled is a position with its stop), a
        stop or exit beyond its position's open quantity. A doubled exit that filled beyond the
        position leaves the account long: alerted (``_exit_filled``, ``_exit_changed``).
        """
        role: OrderRole = "entry" if request.action == "SELL" else ("stop" if request.pricetype == "SL" else "exit")
        position = None
        if role != "entry":
            position = next((p for p in self.state.positions.values() if p.symbol == request.symbol), None)
        candidate = None
        if role == "entry":
            candidate = self._sent_candidates.get((request.symbol, request.trigger_price, request.quantity))
            if candidate is None:
                candidate = assumed_candidate(
                    request.symbol, self.option_type, request.trigger_price, request.price, request.quantity,
                    row.timestamp or self.clock.now(), Grid.of(self.settings),
                )
        self._alert(
            "critical",
            f"{role} {request.action} {request.symbol} x{request.quantity}, thought lost, is at the broker as "
            f"{row.orderid} ({row.status}); taking it over",
        )
        order = self.state.track(TrackedOrder(
            row.orderid, role, request.symbol, request.quantity, request.trigger_price, request.price,
            position_id=position.position_id if position else None,
            status="trigger pending" if request.pricetype == "SL" else "open", candidate=candidate, reason="doubled",
        ))
        self._journal_order("place", order, request)
        if position is not None:
            (position.stops if role == "stop" else position.exits).append(order)
        # one already over (rejected, cancelled) only brings its fills: it protected nothing, so
        # its end must not replace a stop or close the position
        order.cancel_requested = row.status in FINAL_STATUSES
        self._apply(row.as_update(self.clock.now()))
        if not order.final and (role == "entry" or position is None or position.unprotected < 0):
            self._cancel(order)

    def on_flatten(self, command: FlattenAll) -> None:
        self._flatten(command.reason)
        self.defer(PORTFOLIO, Flattened(option_type=self.option_type, time=self.clock.now()))

    def _flatten(self, reason: str) -> None:
        """Halted: cancel the working entry, close every position at MARKET (stops cancelled first)."""
        self.halted = True
        self.flatten_reason = reason
        self.desired = None
        if self.state.entry is not None:
            self._cancel_entry()
        for position in sorted(self.state.positions.values(), key=lambda p: p.position_id):
            self._close_position(position, reason)

    def on_reconcile_symbol(self, check: ReconcileSymbol) -> None:
        for order in [o for o in self.state.orders.values() if o.symbol == check.symbol and not o.final]:
            self._refresh(order)
        if check.broker_quantity != 0 or not check.confirmed:
            return
        for position in [p for p in self.state.positions.values() if p.symbol == check.symbol]:
            self._alert("critical", f"broker holds no {check.symbol}; closing position {position.position_id} here")
            for stop in position.stops:
                if not stop.final:
                    self._cancel(stop)
            price = self.last_prices.get(position.symbol, position.sl_price)
            self._exit_filled(position, position.open_quantity, price, "reconciled")

    # --- the entry (strategy.md §5 table) ------------------------------------------------
    def _act(self, at_bar_close: bool) -> None:
        if self.halted or not self.trading or not self.desired_known:
            return
        entry = self.state.entry
        working = (
            WorkingEntry(entry.symbol, entry.trigger_price, entry.quantity, entry.filled_quantity) if entry else None
        )
        action = plan_entry(self.desired, working, at_bar_close)
        if entry is not None and action in ("cancel", "modify", "defer_switch", "switch"):
            self._learn_trigger(entry)
        if entry is not None and entry.triggered_at is not None:
            return  # the break was the entry: it rests until it fills or its bar closes (strategy.md §5)
        if action == "keep" and entry is not None and self.desired is not None and self.desired.symbol == entry.symbol:
            entry.candidate = self.desired
        elif action == "cancel":
            self._cancel_entry()
        elif action == "place":
            self._place_entry()
        elif action == "modify":
            self._modify_entry()
        elif action == "defer_switch" and not self._switch_scheduled:
            self._switch_scheduled = True
            now = self.clock.now()
            due = minute_start(now) + ONE_MINUTE + timedelta(seconds=self.settings.bar_grace_seconds)
            self.clock.schedule(due, self.name, SwitchDue(time=due), late=True)
        elif action == "switch":
            if self._cancel_entry(keep_reservation=True):
                self._place_entry()

    def _place_entry(self) -> None:
        best = self.desired
        if best is None or (best.symbol, best.swing_bar_time) in self.state.spent:
            self._release()
            return
        now = self.clock.now()
        day = now.date()
        if not at(day, self.settings.entry_start) <= now < at(day, self.settings.entry_end):
            self._release()
            return
        if not self.reserved:
            self._last_room_try = now
            if not self._reserve(now):
                return
        if best.symbol in {p.symbol for p in self.state.positions.values()}:
            # stage 3 skips it (strategy.md §4); the filter may not have heard of the position yet
            logger.info("{}: a position in {} is open; not entering it now", self.name, best.symbol)
            self._release()
            return
        if not self._may_enter(best):
            self._release()
            return
        request = self._entry_request(best.symbol, best.quantity, best.limit_price, best.trigger_price)
        self._sent_candidates[(best.symbol, best.trigger_price, best.quantity)] = best
        try:
            orderid = self._send(request, "entry")
        except BrokerError as exc:
            self._release()
            if isinstance(exc, OrderRejected):
                self.state.spent.add((best.symbol, best.swing_bar_time))
            self._alert("warning", f"entry {best.symbol} SELL {best.quantity} @ {best.trigger_price} not placed: {exc}")
            return
        order = self.state.track(TrackedOrder(
            orderid, "entry", best.symbol, best.quantity, best.trigger_price, best.limit_price,
            status="trigger pending", candidate=best,
        ))
        self.state.entry = order
        self._journal_order("place", order, request)
        self._schedule_poll()

    def _may_enter(self, best: EntryCandidate) -> bool:
        """Decide from the symbol's current state (its SymbolActor's), never a remembered price (strategy.md §5).

        A swing low that has broken is spent for good (strategy.md §3); a last
        trade at or below the trigger of an unbroken one (off the tick grid)
        or no answer only means "not now".
        """
        state = self._swing_state(best.symbol, best.swing_bar_time)
        if state is None:
            logger.warning("{}: no answer from {}; not entering now", self.name, best.symbol)
            return False
        if state.swing == "broken":
            logger.info("{}: the swing low {} of {} has broken; not entering", self.name, best.swing_price, best.symbol)
            self.state.spent.add((best.symbol, best.swing_bar_time))
            return False
        if state.swing == "unknown":
            logger.warning("{}: {} does not know the swing low {} (restarted?); not entering now", self.name, best.symbol, best.swing_price)
            return False
        if state.last_price is not None and state.last_price <= best.trigger_price:
            logger.info(
                "{}: {} last traded {} at or below the trigger {}; not entering now",
                self.name, best.symbol, state.last_price, best.trigger_price,
            )
            return False
        return True

    def _learn_trigger(self, entry: TrackedOrder) -> None:
        """Before the entry is changed for a new best: has its swing low broken, i.e. has it triggered?

        Usually this actor has seen the trade already; live, the new best can
        overtake it, so the symbol's current state decides (strategy.md §5).
        """
        if entry.triggered_at is not None or entry.candidate is None:
            return
        state = self._swing_state(entry.symbol, entry.candidate.swing_bar_time)
        if state is None:
            logger.warning("{}: no answer from {}; entry {} taken as not triggered", self.name, entry.symbol, entry.orderid)
            return
        if state.swing == "broken":
            self._triggered(entry, min(state.broken_at or self.clock.now(), self.clock.now()))

    def _swing_state(self, symbol: str, swing_bar_time: datetime) -> SwingState | None:
        """The symbol's current state about one swing low (an ask to its SymbolActor); None without an answer."""
        try:
            return self.ask(symbol_actor(symbol), GetSwingState(swing_bar_time=swing_bar_time), timeout=10.0)
        except (pykka.ActorDeadError, pykka.Timeout, TimeoutError) as exc:
            logger.warning("{}: {} did not answer: {!r}", self.name, symbol_actor(symbol), exc)
            return None

    def _triggered(self, entry: TrackedOrder, moment: datetime) -> None:
        """The entry's trigger was reached at ``moment``: from now on it rests until it fills,
        or until its bar (``moment``'s minute) has closed plus the grace (strategy.md §5)."""
        if entry.triggered_at is not None or entry.final:
            return
        entry.triggered_at = moment
        bar_close = minute_start(moment) + ONE_MINUTE + timedelta(seconds=self.settings.bar_grace_seconds)
        self._schedule_rest_end(entry, bar_close)

    def _schedule_rest_end(self, entry: TrackedOrder, due: datetime) -> None:
        self.clock.schedule(due, self.name, TriggeredEntryDue(orderid=entry.orderid, time=due), late=True)

    def _end_rest(self, entry: TrackedOrder) -> None:
        """Cancel what a triggered entry has not filled by its bar's close (plus the grace).

        If the cancel does not go through and the entry is still working, it
        is tried again after ``ORDER_POLL_SECONDS``: a triggered entry never
        rests past its time for long, and its type is never left blocked.
        """
        logger.info(
            "{}: entry {} {} triggered, {} of {} filled by its bar's close; cancelling the rest",
            self.name, entry.orderid, entry.symbol, entry.filled_quantity, entry.quantity,
        )
        self._cancel_entry()
        if self.state.entry is entry and not entry.final:
            self._schedule_rest_end(entry, self.clock.now() + timedelta(seconds=self.settings.order_poll_seconds))
        elif self.state.entry is None:
            self._act(at_bar_close=False)

    def _entry_request(self, symbol: str, quantity: int, limit: float, trigger: float) -> OrderRequest:
        """A SELL stop-limit entry (strategy.md §5): ``quantity`` contracts, ``limit`` and ``trigger`` rupees."""
        return OrderRequest(
            symbol=symbol,
            action="SELL",
            quantity=quantity,
            pricetype="SL",
            price=limit,
            trigger_price=trigger,
            exchange=self.settings.exchange,
            product=self.settings.product,
        )

    def _modify_entry(self) -> None:
        entry, best = self.state.entry, self.desired
        assert entry is not None and best is not None
        placed = self._entry_request(entry.symbol, entry.quantity, entry.price, entry.trigger_price)
        request = placed.modified(best.quantity, best.limit_price, best.trigger_price)
        try:
            self.gateway.modify_order(entry.orderid, placed, best.quantity, best.limit_price, best.trigger_price)
        except OrderNotCancellable:
            self._refresh(entry)
            return
        except OrderRejected as exc:
            self._alert("warning", f"modify of entry {entry.orderid} refused ({exc}); cancelling it")
            self.state.spent.add((best.symbol, best.swing_bar_time))
            self._cancel_entry()
            return
        except BrokerError as exc:
            self._alert("warning", f"modify of entry {entry.orderid} failed: {exc}")
            return
        entry.quantity, entry.trigger_price, entry.price = best.quantity, best.trigger_price, best.limit_price
        entry.candidate = best
        entry.crossing_checked = False
        self._journal_order("modify", entry, request)

    def _cancel_entry(self, keep_reservation: bool = False) -> bool:
        """Cancel the working entry. True when it is gone and nothing filled."""
        entry = self.state.entry
        if entry is None:
            return True
        if not self._cancel(entry):
            return False
        self.state.entry = None
        if entry.filled_quantity > 0:
            keep_reservation = False
        if not keep_reservation:
            self._release()
        return entry.filled_quantity == 0

    # --- order updates -------------------------------------------------------------------
    def _apply(self, update: OrderUpdate) -> None:
        order = self.state.orders.get(update.orderid)
        if order is None:
            return
        added = update.filled_quantity - order.filled_quantity
        fill_price = 0.0
        if added > 0:
            fill_price = (
                update.average_price * update.filled_quantity - order.average_price * order.filled_quantity
            ) / added
            order.filled_quantity = update.filled_quantity
            order.average_price = update.average_price
        was_final = order.final
        was_pending = order.status == "trigger pending"
        order.status = update.status
        if order.role == "entry" and (added > 0 or (was_pending and update.status == "open")):
            self._triggered(order, update.time)
        if update.status not in FINAL_STATUSES and update.status not in ("open", "trigger pending"):
            logger.warning("{}: unknown status {!r} for {}; treated as working", self.name, update.status, order.orderid)
        if added > 0:
            self.tell(
                JOURNAL,
                OrderFilled(
                    time=update.time,
                    orderid=order.orderid,
                    role=order.role,
                    symbol=order.symbol,
                    action="SELL" if order.role == "entry" else "BUY",
                    quantity=added,
                    average_price=round(fill_price, 4),
                    position_id=order.position_id,
                ),
            )
        if order.role == "entry":
            self._entry_changed(order, added, was_final)
        else:
            self._exit_changed(order, added, fill_price, was_final)

    def _entry_changed(self, order: TrackedOrder, added: int, was_final: bool) -> None:
        candidate = order.candidate
        assert candidate is not None
        if added > 0:
            self.state.spent.add((candidate.symbol, candidate.swing_bar_time))
            position = self.state.positions.get(order.orderid)
            if position is None:
                position = ShortPosition(order.orderid, order.symbol, candidate.sl_price)
                self.state.positions[order.orderid] = position
            position.open_quantity += added
            self._protect(position, added)
            if self.halted:
                # filled after a flatten cancelled it: close it like the rest (strategy.md §6)
                self._close_position(position, self.flatten_reason)
            self.defer(
                PORTFOLIO,
                EntryFilled(
                    position_id=order.orderid,
                    symbol=order.symbol,
                    option_type=self.option_type,
                    filled_quantity=order.filled_quantity,
                    entry_price=order.average_price,
                    sl_price=position.sl_price,
                    time=self.clock.now(),
                ),
            )
        if not order.final or was_final:
            return
        if order is self.state.entry:
            self.state.entry = None
            self._release()
        if order.status == "rejected":
            self.state.spent.add((candidate.symbol, candidate.swing_bar_time))
            self._alert("warning", f"entry {order.orderid} {order.symbol} rejected by the broker")
        if not self.halted:
            self._act(at_bar_close=False)

    def _exit_changed(self, order: TrackedOrder, added: int, fill_price: float, was_final: bool) -> None:
        position = self.state.positions.get(order.position_id or "")
        if position is None:
            if added > 0:  # a BUY with nothing left to buy back
                self._account_long(order, added, "with no open position left")
            return
        if added > 0:
            reason = "stop" if order.role == "stop" else order.reason
            self._exit_filled(position, added, fill_price, reason, order)
            return
        if order.role == "stop" and order.final and not was_final and not order.cancel_requested:
            if position.open_quantity > 0 and order.filled_quantity < order.quantity:
                rest = order.quantity - order.filled_quantity
                if order.status == "rejected":
                    # strategy.md §5: a stop the broker will not hold closes the position
                    self._alert("critical", f"stop {order.orderid} of {position.symbol} rejected; closing x{rest} at MARKET")
                    self._market_exit(position, rest, "stop_rejected")
                else:
                    self._alert("critical", f"stop {order.orderid} of {position.symbol} is {order.status}; replacing it")
                    self._protect(position, rest)

    def _exit_filled(
        self, position: ShortPosition, quantity: int, price: float, reason: str, order: TrackedOrder | None = None
    ) -> None:
        """``quantity`` bought back at ``price`` (by ``order``; None: the broker holds none). A fill beyond
        the open quantity leaves the account long (alerted); a position closed cancels its other stops and
        exits, so none of them buys again."""
        excess = quantity - position.open_quantity
        if excess > 0 and order is not None:
            self._account_long(order, excess, f"beyond position {position.position_id}")
        quantity = min(quantity, position.open_quantity)
        if quantity <= 0:
            return
        position.open_quantity -= quantity
        if position.open_quantity == 0:
            del self.state.positions[position.position_id]
            for other in position.stops + position.exits:
                if other is not order and not other.final and not other.cancel_requested:
                    self._cancel(other)
        self.defer(
            PORTFOLIO,
            ExitFilled(
                position_id=position.position_id,
                symbol=position.symbol,
                quantity=quantity,
                price=price,
                reason=reason,
                time=self.clock.now(),
                orderid=order.orderid if order else None,
                order_filled=order.filled_quantity if order else None,
            ),
        )

    def _account_long(self, order: TrackedOrder, quantity: int, where: str) -> None:
        """``order`` bought ``quantity`` contracts more than were short (a doubled stop or exit)."""
        self._alert(
            "critical",
            f"{order.role} {order.orderid} bought {quantity} {order.symbol} {where}: the account is long; CLOSE IT BY HAND",
        )

    # --- protective stops and exits --------------------------------------------------------
    def _protect(self, position: ShortPosition, quantity: int) -> None:
        """Place a BUY stop-limit for ``quantity``; after ``STOP_ATTEMPTS`` failures exit at MARKET."""
        s = self.settings
        trigger = ceil_tick(position.sl_price, s.tick_size)
        request = OrderRequest(
            symbol=position.symbol,
            action="BUY",
            quantity=quantity,
            pricetype="SL",
            price=ceil_tick(trigger + s.stop_limit_offset, s.tick_size),
            trigger_price=trigger,
            exchange=s.exchange,
            product=s.product,
        )
        error: BrokerError | None = None
        for _ in range(s.stop_attempts):
            try:
                orderid = self._send(request, "stop", position.position_id)
            except BrokerError as exc:
                error = exc
                continue
            stop = self.state.track(TrackedOrder(
                orderid, "stop", position.symbol, quantity, trigger, request.price, position.position_id,
                status="trigger pending",
            ))
            position.stops.append(stop)
            self._journal_order("place", stop, request)
            self._schedule_poll()
            self._verify_stop(position, stop)
            return
        self._alert("critical", f"stop for {position.symbol} x{quantity} not placed ({error}); closing at MARKET")
        self._market_exit(position, quantity, "stop_not_placed")

    def _verify_stop(self, position: ShortPosition, stop: TrackedOrder) -> None:
        """Check in the broker's books that it kept the stop as placed: a BUY SL, its trigger, its quantity.

        One that differs is cancelled and the position closed at MARKET, with
        a critical alert: a stop we cannot trust protects nothing. When the
        broker cannot say, the order-book poll goes on watching it.
        """
        try:
            kept = self.gateway.order_status(stop.orderid)
        except BrokerError as exc:
            logger.warning("{}: could not check stop {} in the order book: {}", self.name, stop.orderid, exc)
            return
        tick = self.settings.tick_size
        same = (
            str(kept.pricetype).upper() == "SL"
            and kept.action == "BUY"
            and kept.quantity == stop.quantity
            and abs(kept.trigger_price - stop.trigger_price) < tick / 2
        )
        if same:
            return  # its fills come as updates, through the crossing check or the poll
        self._alert(
            "critical",
            f"stop {stop.orderid} of {position.symbol} is {kept.action} {kept.pricetype} x{kept.quantity} trigger "
            f"{kept.trigger_price} at the broker, not BUY SL x{stop.quantity} trigger {stop.trigger_price}; "
            "cancelling it and closing at MARKET",
        )
        if self._cancel(stop):
            rest = min(stop.quantity, position.open_quantity - ShortPosition.working(position.exits))
            if rest > 0:
                self._market_exit(position, rest, "stop_not_kept")

    def _close_position(self, position: ShortPosition, reason: str) -> None:
        for stop in position.stops:
            if not stop.final:
                self._cancel(stop)
        remaining = position.open_quantity - ShortPosition.working(position.exits)
        if position.position_id in self.state.positions and remaining > 0:
            self._market_exit(position, remaining, reason)

    def _market_exit(self, position: ShortPosition, quantity: int, reason: str) -> None:
        s = self.settings
        request = OrderRequest(
            symbol=position.symbol,
            action="BUY",
            quantity=quantity,
            pricetype="MARKET",
            exchange=s.exchange,
            product=s.product,
        )
        try:
            orderid = self._send(request, "exit", position.position_id)
        except BrokerError as exc:
            self._alert("critical", f"MARKET exit of {position.symbol} x{quantity} failed: {exc}. CLOSE IT BY HAND")
            return
        order = self.state.track(
            TrackedOrder(orderid, "exit", position.symbol, quantity, 0.0, 0.0, position.position_id, reason=reason)
        )
        position.exits.append(order)
        self._journal_order("place", order, request)
        self._schedule_poll()

    # --- broker helpers ---------------------------------------------------------------------
    def _send(self, request: OrderRequest, role: OrderRole, position_id: str | None = None) -> str:
        """Place ``request`` with its intent journaled first (architecture.md, crash-only); the orderid.

        The intent is committed before the request leaves, and its outcome
        after. An entry whose intent the journal did not confirm is not sent
        (:class:`JournalNotConfirmed`, a BrokerError, so callers treat it as a
        failed placement); a stop or an exit goes anyway, with a critical
        alert: protection comes first. Raises what the gateway raises.
        """
        self._intents += 1
        now = self.clock.now()
        intent = OrderIntent(
            time=now,
            intent_id=f"{self.option_type}:{now:%Y%m%dT%H%M%S.%f}:{self._intents}",
            state="sent",
            role=role,
            symbol=request.symbol,
            action=request.action,
            pricetype=request.pricetype,
            trigger_price=request.trigger_price,
            price=request.price,
            quantity=request.quantity,
            position_id=position_id,
        )
        try:
            committed = bool(self.ask(JOURNAL, intent, timeout=10.0))
        except (pykka.ActorDeadError, pykka.Timeout, TimeoutError):
            committed = False
        if not committed:
            if role == "entry":
                raise JournalNotConfirmed(f"the journal did not confirm the intent {intent.intent_id}")
            self._alert("critical", f"the journal did not confirm the intent of a {role} for {request.symbol}; sending it")
        lost = 0

        def journal_lost(sent_at: datetime) -> None:  # settled at a restart if it turns up (live/settle.py)
            nonlocal lost
            lost += 1
            self.tell(JOURNAL, intent.model_copy(update={
                "intent_id": f"{intent.intent_id}:lost{lost}", "state": "lost", "time": sent_at,
            }))

        try:
            orderid = self.gateway.place_order(request, on_lost=journal_lost)
        except BrokerError as exc:
            # a refusal placed nothing; after retryable failures (time-outs, 5xx) the order may
            # still exist: the intent stays "sent", an unknown outcome for the order book to settle
            if not exc.retryable:
                self.tell(JOURNAL, intent.model_copy(update={"state": "failed", "error": str(exc)[:500]}))
            else:
                self._schedule_poll()  # the poll watches for it (BrokerGateway.late_placements)
            raise
        self.tell(JOURNAL, intent.model_copy(update={"state": "placed", "orderid": orderid}))
        return orderid

    def _cancel(self, order: TrackedOrder) -> bool:
        """Cancel ``order``. True when the broker took the cancel; otherwise its state is refreshed."""
        try:
            self.gateway.cancel_order(order.orderid)
        except OrderNotCancellable:
            self._refresh(order)
            return False
        except BrokerError as exc:
            self._alert("warning", f"cancel of {order.role} {order.orderid} failed: {exc}")
            return False
        order.cancel_requested = True
        self.tell(
            JOURNAL,
            OrderSent(
                time=self.clock.now(),
                op="cancel",
                role=order.role,
                orderid=order.orderid,
                symbol=order.symbol,
                action="SELL" if order.role == "entry" else "BUY",
                pricetype="SL" if order.role != "exit" else "MARKET",
                trigger_price=order.trigger_price,
                price=order.price,
                quantity=order.quantity,
                position_id=order.position_id,
            ),
        )
        return True

    def _refresh(self, order: TrackedOrder) -> None:
        try:
            snapshot = self.gateway.order_status(order.orderid)
        except BrokerError as exc:
            logger.warning("{}: orderstatus {} failed: {}", self.name, order.orderid, exc)
            return
        self._apply(snapshot.as_update(self.clock.now()))

    def _reserve(self, now: datetime) -> bool:
        try:
            granted = bool(self.ask(PORTFOLIO, ReserveEntry(option_type=self.option_type, time=now)))
        except (pykka.ActorDeadError, pykka.Timeout, TimeoutError) as exc:
            logger.warning("{}: no answer from the portfolio ({}); not placing", self.name, exc)
            return False
        self.reserved = granted
        return granted

    def _release(self) -> None:
        if self.reserved:
            self.reserved = False
            self.defer(PORTFOLIO, ReleaseEntry(option_type=self.option_type, time=self.clock.now()))

    def _schedule_poll(self) -> None:
        if not self._poll_scheduled:
            self._poll_scheduled = True
            due = self.clock.now() + timedelta(seconds=self.settings.order_poll_seconds)
            self.clock.schedule(due, self.name, PollDue(time=due))

    def _journal_order(self, op: str, order: TrackedOrder, request: OrderRequest) -> None:
        self.tell(
            JOURNAL,
            OrderSent(
                time=self.clock.now(),
                op=op,  # type: ignore[arg-type]
                role=order.role,
                orderid=order.orderid,
                symbol=order.symbol,
                action=request.action,
                pricetype=request.pricetype,
                trigger_price=request.trigger_price,
                price=request.price,
                quantity=request.quantity,
                position_id=order.position_id,
            ),
        )

    def _alert(self, level: str, text: str) -> None:
        log = logger.critical if level == "critical" else logger.warning
        log("{}: {}", self.name, text)
        self.tell(JOURNAL, Alert(time=self.clock.now(), level=level, text=text))  # type: ignore[arg-type]


def order_update_listener(router: Router, now: Callable[[], datetime]) -> OrderListener:
    """A broker listener that hands every order snapshot to the OrderActor of its symbol's type.

    Used with brokers that push order changes (the simulated broker in replay
    and dry runs).
    """

    def route(snapshot: OrderSnapshot) -> None:
        router.tell(order_actor(option_type_of(snapshot.symbol)), snapshot.as_update(now()))

    return route
