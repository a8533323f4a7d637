"""Pre-flight checks before live or paper trading: server, mode, funds, universe."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

from loguru import logger
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_fixed,
)

from broker.base import AuthError, BrokerError, TransportError
from config.settings import Settings
from live.universe import (
    UniverseError,
    atm_strike,
    checked_lot_size,
    checked_spot,
    expiry_code,
    nearest_expiry,
    option_series,
    option_symbol,
    parse_expiry,
    universe,
)
from messages.base import IST
from persistence.journal_store import JournalStore

#: Seconds start-up keeps asking ``ping`` of a server that does not answer: the real server accepts
#: connections about 30 s before its app answers (openalgo.md, what the real server does).
PING_PATIENCE = 60.0
#: Seconds between those pings.
PING_RETRY_DELAY = 3.0


class PreflightError(RuntimeError):
    """Trading must not start: ``detail`` says why, ``advice`` what to do (the message holds both)."""

    def __init__(self, detail: str, advice: str = "") -> None:
        super().__init__(f"{detail}; {advice}" if advice else detail)
        self.detail = detail
        self.advice = advice


@dataclass(frozen=True)
class SessionPlan:
    """What the day trades: expiry, ATM strike, lot size (contracts) and the option symbols."""

    broker: str
    analyze_mode: bool
    available_cash: float | None
    expiry: date
    atm: int
    spot: float | None
    lot_size: int
    symbols: list[str]

    def lines(self) -> list[str]:
        """Human-readable summary, one fact per line."""
        cash = f"{self.available_cash:,.2f}" if self.available_cash is not None else "unknown"
        return [
            f"broker           {self.broker}",
            f"mode             {'analyze (paper)' if self.analyze_mode else 'LIVE'}",
            f"available cash   {cash} rupees",
            f"expiry           {self.expiry.strftime('%d%b%y').upper()}",
            f"NIFTY spot       {self.spot if self.spot is not None else 'not asked (--atm)'}",
            f"ATM strike       {self.atm}",
            f"lot size         {self.lot_size} contracts",
            f"symbols          {len(self.symbols)} ({self.symbols[0]} … {self.symbols[-1]})",
        ]


@dataclass(frozen=True)
class Ours:
    """What the journal says is this program's in today's books (a restart takes them over).

    ``orderids``: every order the journal holds for the day; ``held``: the
    symbols in which it holds an open (short) position.
    """

    orderids: frozenset[str] = frozenset()
    held: frozenset[str] = frozenset()

    @classmethod
    def from_journal(cls, store: JournalStore, day: date) -> Ours:
        return cls(
            frozenset(row["orderid"] for row in store.orders(day)),
            frozenset(row["symbol"] for row in store.positions(day) if row["state"] == "open"),
        )


#: Points the ATM strike may be from the NIFTY spot (``--atm`` given by hand).
ATM_TOLERANCE = 100


@dataclass(frozen=True)
class Check:
    """One line of ``run.py check``: ``passed`` None when it could not be checked (an earlier FAIL)."""

    name: str
    passed: bool | None
    detail: str
    advice: str = ""


def preflight(
    client,  # noqa: ANN001 - broker.openalgo_rest.OpenAlgoClient or a compatible object
    settings: Settings,
    today: date,
    expiry: str | None = None,
    atm: int | None = None,
    switch_to_analyzer: bool = False,
    ping_patience: float = PING_PATIENCE,
    ours: Ours = Ours(),  # noqa: B008 - frozen, empty
    dry_run: bool = False,
) -> SessionPlan:
    """ping → analyzer → funds → expiry → ATM → lot size → symbols → margin → nothing left over; the day's plan.

    The steps of :func:`check_all` that decide the session, stopping at the
    first that fails: raises :class:`PreflightError` saying why and what to
    do. A ``ping`` that gets no answer (transport error, 5xx, 429) is asked
    again every :data:`PING_RETRY_DELAY` s for up to ``ping_patience`` s.
    It fails when the server is still unreachable then, the key is refused,
    ``PAPER_TRADING`` is on but the server trades live (unless
    ``switch_to_analyzer``, or ``dry_run``: nothing is sent then), the
    expiry is not one the broker lists, the NIFTY quote is unusable or
    ``atm`` is more than :data:`ATM_TOLERANCE` points from it, the broker
    gives no usable lot size (never a silent ``LOT_SIZE``), a symbol of the
    universe does not exist, the available cash does not cover the margin
    the configured limits can need (:func:`margin_basket`; not in a dry run), or the broker holds working orders or open
    positions in the day's option series that are not ``ours`` (the
    journal's: a restart takes those over).
    """
    broker = _server(client, settings.openalgo_host, ping_patience)
    analyze = _analyze_mode(client, settings, switch_to_analyzer, dry_run)
    funds = _funds(client)
    day_expiry = _expiry(client, settings, today, expiry)
    atm, spot = _atm(client, settings, atm)
    lot_size = _lot_size(client, settings, day_expiry, atm)
    symbols = universe(settings.underlying, day_expiry, atm, settings.strike_window, settings.strike_step)
    _symbols_exist(client, settings, symbols)
    if not dry_run:  # a dry run sends nothing: no margin is used
        _funds_cover_margin(client, settings, funds, day_expiry, atm, lot_size, ours.held)
    _nothing_left_over(client, settings, option_series(settings.underlying, day_expiry), ours)
    cash = funds[0] if funds is not None else None
    return SessionPlan(broker, analyze, cash, day_expiry, atm, spot, lot_size, symbols)


def check_all(
    client,  # noqa: ANN001
    settings: Settings,
    today: date,
    expiry: str | None = None,
    atm: int | None = None,
    ping_patience: float = PING_PATIENCE,
    ours: Ours = Ours(),  # noqa: B008
    dry_run: bool = False,
    extra: tuple[tuple[str, Callable[[SessionPlan], str]], ...] = (),
) -> tuple[list[Check], SessionPlan | None]:
    """Every pre-flight check, each on its own line (``run.py check``), and the plan when all passed.

    The same steps as :func:`preflight`; one that needs an earlier one's
    answer is not checked when that failed. ``extra``: further checks
    (name, function of the plan that returns the PASS detail or raises
    :class:`PreflightError`), e.g. the WebSocket and the journal; not
    checked without a plan.
    """
    rows: list[Check] = []

    def step(name: str, run: Callable[[], object], detail: Callable[[object], str], needs: object = True) -> object:
        if needs is None:
            rows.append(Check(name, None, "not checked: an earlier check failed"))
            return None
        try:
            value = run()
        except PreflightError as exc:
            rows.append(Check(name, False, exc.detail, exc.advice))
            return None
        rows.append(Check(name, True, detail(value)))
        return value

    broker = step("server", lambda: _server(client, settings.openalgo_host, ping_patience),
                  lambda b: f"OpenAlgo at {settings.openalgo_host} answers, key accepted, broker {b}")
    analyze = step("mode", lambda: _analyze_mode(client, settings, False, dry_run),
                   lambda a: "analyze (paper)" if a else "LIVE: real orders", needs=broker)
    funds = step("funds", lambda: _funds(client),
                 lambda f: f"available cash {f[0]:,.2f} rupees" if f is not None else "available cash unknown",
                 needs=broker)
    day_expiry = step("expiry", lambda: _expiry(client, settings, today, expiry),
                      lambda d: f"{expiry_code(d)} (listed by the broker)", needs=broker)
    found = step("ATM", lambda: _atm(client, settings, atm),
                 lambda f: f"{f[0]}" + (f", NIFTY spot {f[1]:,.2f}" if f[1] is not None else ""), needs=broker)
    plain_atm = found[0] if found else None
    lot_size = step("lot size", lambda: _lot_size(client, settings, day_expiry, plain_atm),
                    lambda n: f"{n} contracts (the broker's)", needs=day_expiry and found)
    symbols = universe(settings.underlying, day_expiry, plain_atm, settings.strike_window, settings.strike_step) \
        if day_expiry and found else None
    step("symbols", lambda: _symbols_exist(client, settings, symbols),
         lambda _: f"all {len(symbols)} exist ({symbols[0]} … {symbols[-1]})", needs=symbols)
    if dry_run:
        rows.append(Check("margin", True, "dry run: nothing is sent, no margin is used"))
    else:
        step("margin", lambda: _funds_cover_margin(client, settings, funds, day_expiry, plain_atm, lot_size, ours.held),
             lambda m: f"cash and collateral {m[0]:,.2f} cover the {m[1]:,.2f} rupees of margin the limits can "
                       "still need" if m[1] else "the positions held fill the limits: no margin to add",
             needs=symbols and lot_size)
    step("books", lambda: _nothing_left_over(client, settings, option_series(settings.underlying, day_expiry), ours),
         lambda _: "no working order or open position in the series that is not ours", needs=day_expiry)
    plan = None
    if all(row.passed for row in rows):
        plan = SessionPlan(broker, analyze, funds[0] if funds is not None else None, day_expiry, plain_atm, found[1], lot_size, symbols)
    for name, run in extra:
        step(name, lambda run=run: run(plan), lambda text: str(text), needs=plan)
    return rows, plan if all(row.passed for row in rows) else None


def render_checks(rows: list[Check]) -> str:
    """The PASS/FAIL table: one line per check, one line of advice under each FAIL."""
    lines = []
    for row in rows:
        mark = {True: "PASS", False: "FAIL", None: "----"}[row.passed]
        lines.append(f"{mark}  {row.name:<10} {row.detail}")
        if row.passed is False and row.advice:
            lines.append(f"      {'':<10} -> {row.advice}")
    return "\n".join(lines)


def _server(client, host: str, patience: float) -> str:  # noqa: ANN001
    try:
        return _ping(client, host, patience)
    except AuthError as exc:
        raise PreflightError(f"OpenAlgo at {host} refused the API key or the broker is not logged in: {exc}",
                             "check OPENALGO_API_KEY and log in to the broker in OpenAlgo") from None
    except TransportError as exc:
        raise PreflightError(f"OpenAlgo is not reachable at {host} (asked for {patience:g} s): {exc}",
                             "start OpenAlgo, or check OPENALGO_HOST") from None
    except BrokerError as exc:
        raise PreflightError(f"OpenAlgo ping failed: {exc}", "see OpenAlgo's own log") from None


def _expiry(client, settings: Settings, today: date, expiry: str | None) -> date:  # noqa: ANN001
    """The given expiry if the broker lists it, else the nearest listed on or after ``today``."""
    try:
        listed = client.expiries(settings.underlying, settings.exchange, "options")
    except BrokerError as exc:
        raise PreflightError(f"cannot read the broker's expiries: {exc}", "give --expiry 30DEC25") from None
    shown = ", ".join(expiry_code(d) for d in sorted(d for d in listed if d >= today)[:4]) or "none"
    if expiry:
        try:
            wanted = parse_expiry(expiry)
        except UniverseError as exc:
            raise PreflightError(str(exc), "give the expiry like 30DEC25") from None
        if wanted not in listed:
            raise PreflightError(f"expiry {expiry_code(wanted)} is not one the broker lists",
                                 f"use a listed one: {shown}")
        return wanted
    try:
        return nearest_expiry(listed, today)
    except UniverseError as exc:
        raise PreflightError(f"cannot determine the expiry: {exc}", f"give --expiry; listed: {shown}") from None


def _atm(client, settings: Settings, atm: int | None) -> tuple[int, float | None]:  # noqa: ANN001
    """The ATM strike and the NIFTY spot it was checked against (None when the quote is not given)."""
    if atm is not None and atm % settings.strike_step:
        raise PreflightError(f"--atm {atm} is not a multiple of STRIKE_STEP={settings.strike_step}",
                             f"give a strike on the {settings.strike_step}-point grid")
    try:
        spot = checked_spot(client.quote(settings.underlying, "NSE_INDEX").ltp)
    except (UniverseError, BrokerError) as exc:
        if atm is not None:
            logger.warning("NIFTY quote unavailable ({}); --atm {} taken unchecked", exc, atm)
            return atm, None
        raise PreflightError(f"cannot read the NIFTY quote for the ATM strike: {exc}", "give --atm 26000") from None
    if atm is None:
        return atm_strike(spot, settings.strike_step), spot
    if abs(atm - spot) > ATM_TOLERANCE:
        raise PreflightError(f"--atm {atm} is {abs(atm - spot):,.0f} points from the NIFTY spot {spot:,.2f}",
                             f"leave --atm out (it is {atm_strike(spot, settings.strike_step)} now) or give one "
                             f"within {ATM_TOLERANCE} points")
    return atm, spot


def _lot_size(client, settings: Settings, expiry: date, atm: int) -> int:  # noqa: ANN001
    """The broker's lot size for the ATM call (contracts); never a silent ``LOT_SIZE``."""
    atm_symbol = option_symbol(settings.underlying, expiry, atm, "CE")
    advice = "check the instrument in OpenAlgo (its master contract must be loaded)"
    try:
        listed = client.symbol_info(atm_symbol, settings.exchange).lotsize
    except BrokerError as exc:
        raise PreflightError(f"lot size of {atm_symbol} unavailable: {exc}", advice) from None
    if listed is None:
        raise PreflightError(f"the broker gives no lot size for {atm_symbol} (LOT_SIZE={settings.lot_size} would be "
                             "a guess)", advice)
    try:
        return checked_lot_size(listed)
    except UniverseError as exc:
        raise PreflightError(f"the broker's {exc} (symbol {atm_symbol})", advice) from None


def _symbols_exist(client, settings: Settings, symbols: list[str]) -> None:  # noqa: ANN001
    """Every symbol of the universe is one the broker knows (``symbol``)."""
    missing = []
    for symbol in symbols:
        try:
            client.symbol_info(symbol, settings.exchange)
        except BrokerError:
            missing.append(symbol)
    if missing:
        raise PreflightError(
            f"{len(missing)} of {len(symbols)} symbols do not exist at the broker: {', '.join(missing[:6])}"
            + (" …" if len(missing) > 6 else ""),
            "check --expiry and --atm, and that OpenAlgo's master contract is loaded",
        )


def margin_basket(settings: Settings, expiry: date, atm: int, lot_size: int,
                  held: frozenset[str] = frozenset()) -> list[tuple[str, str, str, int]]:
    """The most the configured limits can still add at once, as ``margin`` positions (symbol, exchange,
    action, contracts): short options up to ``MAX_POSITIONS`` with the ``held`` ones (a restart's open
    positions, whose margin the broker has blocked already) counted, at most ``MAX_CE_POSITIONS`` calls and
    ``MAX_PE_POSITIONS`` puts, each of ``MAX_LOTS`` lots (strategy.md §5 sizes a position by R, capped at
    ``MAX_LOTS``), on the ATM strike, then the strikes either side of it."""
    held_ce = sum(1 for symbol in held if symbol.endswith("CE"))
    held_pe = len(held) - held_ce
    room = max(0, settings.max_positions - len(held))
    calls = max(0, min(settings.max_ce_positions - held_ce, room))
    puts = max(0, min(settings.max_pe_positions - held_pe, room - calls))
    quantity = settings.max_lots * lot_size
    basket = []
    for option_type, count in (("CE", calls), ("PE", puts)):
        for n in range(count):
            k = (n + 1) // 2 * (-1 if n % 2 else 1)  # 0, -1, +1, -2, +2 … strikes from the ATM
            symbol = option_symbol(settings.underlying, expiry, atm + k * settings.strike_step, option_type)
            basket.append((symbol, settings.exchange, "SELL", quantity))
    return basket


def _funds_cover_margin(client, settings: Settings, funds: tuple[float, float] | None, expiry: date,  # noqa: ANN001
                        atm: int, lot_size: int, held: frozenset[str] = frozenset()) -> tuple[float, float]:
    """(usable funds, margin needed), rupees: the broker's ``margin`` for :func:`margin_basket`, which the
    available cash plus the pledged collateral (``funds``, as :func:`_funds` read them) must cover. Raises
    :class:`PreflightError` when they do not, or either is unknown."""
    basket = margin_basket(settings, expiry, atm, lot_size, held)
    if not basket:
        return 0.0, 0.0  # no room left to add a position (a restart holding the limits)
    what = f"{len(basket)} short positions of MAX_LOTS={settings.max_lots} lots ({basket[0][3]} contracts each)"
    if held:
        what += f" beside the {len(held)} held"
    if funds is None:
        raise PreflightError("available cash unknown: funds did not answer", "check the funds page in OpenAlgo")
    usable = sum(funds)
    try:
        needed = client.margin(basket, settings.product).total_margin_required
    except BrokerError as exc:
        raise PreflightError(f"the margin for {what} is unknown: {exc}",
                             "check in OpenAlgo that the broker's margin calculator answers") from None
    if needed <= 0:
        raise PreflightError(f"the broker gives no margin ({needed}) for {what}",
                             "check in OpenAlgo that the broker's margin calculator answers")
    if usable < needed:
        raise PreflightError(
            f"available cash and collateral {usable:,.2f} rupees are below the {needed:,.2f} rupees of margin "
            f"{what} need",
            "add funds, or lower MAX_LOTS or MAX_POSITIONS",
        )
    return usable, needed


def _nothing_left_over(client, settings: Settings, series: str, ours: Ours) -> None:  # noqa: ANN001
    """Refuse to start over working orders or open positions in the day's option series that are not ours.

    Ours (the journal's orders of the day, and short positions in symbols it
    holds open) are taken over by the actors' recovery. Anything else is not:
    a working entry nobody knows could fill with no protective stop, and a
    position nobody knows has nobody watching it. Checked against
    ``orderbook`` and ``positionbook`` for every symbol starting with
    ``series`` (e.g. ``NIFTY30DEC25``: every strike of the expiry, since a
    restart may pick another ATM) on the exchange and product of the settings.
    """
    try:
        orders = client.order_book()
        positions = client.position_book()
    except BrokerError as exc:
        raise PreflightError(f"cannot read the order and position books: {exc}", "see OpenAlgo's own log") from None
    venue, known = (settings.exchange, settings.product), ours
    working = [
        f"order {o.orderid} {o.action} {o.quantity} {o.symbol} ({o.status})"
        for o in orders
        if o.symbol.startswith(series)
        and (o.exchange, o.product) == venue
        and o.status in ("open", "trigger pending")
        and o.orderid not in known.orderids
    ]
    held = [
        f"position {p.quantity:+d} {p.symbol}"
        for p in positions
        if p.symbol.startswith(series)
        and (p.exchange, p.product) == venue
        and p.quantity != 0
        and not (p.quantity < 0 and p.symbol in known.held)
    ]
    if working or held:
        raise PreflightError(
            "the broker has working orders or open positions in today's series, perhaps from an earlier run: "
            + "; ".join(working + held)
            + ". They are not in this program's journal, so it does not take them over",
            "cancel or close them in OpenAlgo, then start again",
        )


def _ping(client, host: str, patience: float) -> str:  # noqa: ANN001
    """The broker name from ``ping``, asked until it answers or ``patience`` seconds have passed."""

    def progress(state: RetryCallState) -> None:
        left = max(0.0, patience - (state.seconds_since_start or 0.0))
        logger.warning(
            "OpenAlgo at {} is not answering yet ({}); asking again for up to {:.0f} s",
            host,
            state.outcome.exception() if state.outcome else "no answer",
            left,
        )

    retrying = Retrying(
        stop=stop_after_delay(patience),
        wait=wait_fixed(min(PING_RETRY_DELAY, patience)),
        retry=retry_if_exception(lambda exc: isinstance(exc, BrokerError) and exc.retryable),
        before_sleep=progress,
        reraise=True,
    )
    return retrying(lambda: client.ping().broker)


def _analyze_mode(client, settings: Settings, switch: bool, dry_run: bool = False) -> bool:  # noqa: ANN001
    try:
        analyze = bool(client.analyzer_status().analyze_mode)
    except BrokerError as exc:
        raise PreflightError(f"cannot read the analyzer mode: {exc}") from None
    if dry_run:  # nothing is sent: either mode will do, and neither is money at risk
        logger.warning("DRY RUN: live data, orders matched locally; nothing is sent to the broker")
        return analyze
    if settings.paper_trading and not analyze:
        if not switch:
            raise PreflightError(
                "PAPER_TRADING=true but OpenAlgo is in LIVE mode",
                "turn analyzer mode on in OpenAlgo, or run with --switch-to-analyzer, or set PAPER_TRADING=false "
                "to trade real money",
            )
        try:
            analyze = bool(client.analyzer_toggle(True).analyze_mode)
        except BrokerError as exc:
            raise PreflightError(f"switching analyzer mode on failed: {exc}") from None
        if not analyze:
            raise PreflightError("OpenAlgo did not switch to analyzer mode")
        logger.warning("switched OpenAlgo to analyzer (paper) mode")
    if not settings.paper_trading:
        if analyze:
            logger.warning("PAPER_TRADING=false but OpenAlgo is in analyze mode: orders are simulated")
        else:
            logger.warning("LIVE TRADING: orders go to the broker with real money")
    return analyze


def _funds(client) -> tuple[float, float] | None:  # noqa: ANN001
    """(available cash, pledged collateral) in rupees from ``funds``, or None when it does not answer."""
    try:
        funds = client.funds()
        return float(funds.availablecash), float(funds.collateral or 0.0)
    except (BrokerError, TypeError, ValueError) as exc:
        logger.warning("funds unavailable: {}", exc)
        return None


# --- the checks only ``run.py check`` makes (a start does each of them as it goes) -----------------
#: Seconds the WebSocket check waits to be authenticated and subscribed, then for a tick.
WS_WAIT = 15.0
#: Seconds the machine's clock may differ from the server's (HTTP ``Date``) before the check fails.
CLOCK_TOLERANCE = 5.0


def websocket_check(settings: Settings, symbol: str, in_market_hours: bool, wait: float = WS_WAIT,
                    no_tick: str = "market closed") -> str:
    """Connect to ``OPENALGO_WS_URL``, authenticate, subscribe ``symbol``; in market hours, get a tick
    (``no_tick``: why none is awaited otherwise, for the PASS line)."""
    from broker.openalgo_ws import MarketFeed  # the check only

    connected, ticked = threading.Event(), threading.Event()
    feed = MarketFeed(settings.openalgo_ws_url, settings.openalgo_api_key, [(symbol, settings.exchange)],
                      on_tick=lambda _tick: ticked.set(), on_connected=lambda _n: connected.set(),
                      subscribe_orders=False, auth_timeout=wait, mute_seconds=max(wait, 1.0))
    feed.start()
    try:
        if not connected.wait(wait):
            raise PreflightError(f"no authenticated WebSocket at {settings.openalgo_ws_url} within {wait:g} s",
                                 "check OPENALGO_WS_URL and that OpenAlgo's WebSocket server runs")
        if not in_market_hours:
            return f"{settings.openalgo_ws_url}: authenticated and subscribed ({no_tick}: no tick expected)"
        if not ticked.wait(wait):
            raise PreflightError(f"authenticated at {settings.openalgo_ws_url} but no tick of {symbol} in {wait:g} s "
                                 "of market hours", "check the broker's data feed in OpenAlgo")
        return f"{settings.openalgo_ws_url}: authenticated, subscribed, a tick of {symbol} received"
    finally:
        feed.stop()


def journal_check(db_path: Path) -> str:
    """The journal at ``DB_PATH`` opens (its schema is one this program reads) or can be created."""
    from persistence.journal_store import JournalError

    folder = db_path.parent if str(db_path.parent) else Path(".")
    if not db_path.exists():
        if not folder.exists() or not os.access(folder, os.W_OK):
            raise PreflightError(f"cannot create the journal {db_path}: {folder} is not a writable folder",
                                 "set DB_PATH to a file in a folder you can write")
        return f"{db_path} will be created ({folder} is writable)"
    if not os.access(db_path, os.W_OK):
        raise PreflightError(f"the journal {db_path} is not writable", "fix its permissions or set DB_PATH")
    try:
        with JournalStore(db_path):  # the schema check; a newer or corrupt journal is refused
            pass
    except JournalError as exc:
        raise PreflightError(str(exc), "move it aside and set another DB_PATH (it is the day's record)") from None
    return f"{db_path} opens and is writable"


def clock_check(settings: Settings, server_date: str | None, now: datetime) -> str:
    """The IST zone is known and the machine's clock agrees with the server's (its HTTP ``Date``)."""
    offset = now.astimezone(IST).utcoffset()
    if offset != timedelta(hours=5, minutes=30):
        raise PreflightError(f"the IST zone gives UTC{offset}, not UTC+05:30", "install tzdata (pip install tzdata)")
    if server_date is None:
        return f"IST {now.astimezone(IST):%Y-%m-%d %H:%M:%S}; the server sent no time to compare"
    try:
        theirs = parsedate_to_datetime(server_date)
    except (TypeError, ValueError):
        return f"IST {now.astimezone(IST):%Y-%m-%d %H:%M:%S}; the server's time {server_date!r} is unreadable"
    off = (now - theirs).total_seconds()
    if abs(off) > CLOCK_TOLERANCE:
        raise PreflightError(f"this machine's clock is {off:+.0f} s off the server's ({server_date})",
                             "sync the clock (NTP): bars and the 15:15 exit follow it")
    return f"IST {now.astimezone(IST):%Y-%m-%d %H:%M:%S}, within {abs(off):.0f} s of the server's"
