"""Pre-flight checks before live or paper trading: server, mode, funds, universe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from loguru import logger
from tenacity import Retrying, RetryCallState, retry_if_exception, stop_after_delay, wait_fixed

from broker.base import AuthError, BrokerError, TransportError
from config.settings import Settings
from live.universe import (
    UniverseError,
    atm_strike,
    checked_lot_size,
    checked_spot,
    nearest_expiry,
    option_series,
    option_symbol,
    parse_expiry,
    universe,
)
from persistence.journal_store import JournalStore


#: Seconds start-up keeps asking ``ping`` of a server that does not answer: the real server accepts
#: connections about 30 s before its app answers (openalgo.md, what the real server does).
PING_PATIENCE = 60.0
#: Seconds between those pings.
PING_RETRY_DELAY = 3.0


class PreflightError(RuntimeError):
    """Trading must not start; the message says why and what to do."""


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


def preflight(
    client,  # noqa: ANN001 - broker.openalgo_rest.OpenAlgoClient or a compatible object
    settings: Settings,
    today: date,
    expiry: str | None = None,
    atm: int | None = None,
    switch_to_analyzer: bool = False,
    ping_patience: float = PING_PATIENCE,
    ours: Ours = Ours(),  # noqa: B008 - frozen, empty
) -> SessionPlan:
    """ping → analyzer → funds → expiry → ATM → lot size → symbols → nothing left over.

    The NIFTY quote must be a finite number of points within
    :data:`live.universe.SPOT_RANGE`; the lot size the broker gives for the
    ATM call must be a whole number of contracts from 1 to
    :data:`live.universe.MAX_LOT_SIZE` (when the broker gives none, or the
    ``symbol`` call fails, ``LOT_SIZE`` is used, with a warning).
    A ``ping`` that gets no answer (transport error, 5xx, 429) is asked again
    every :data:`PING_RETRY_DELAY` s for up to ``ping_patience`` s, with a
    warning each time. Raises :class:`PreflightError` when the server is
    still unreachable then, the key is
    refused, ``PAPER_TRADING`` is on but the server trades live (unless
    ``switch_to_analyzer``), the universe cannot be determined, or the
    broker holds working orders or open positions in the day's option series
    that are not ``ours`` (the journal's: a restart takes those over), or the
    NIFTY quote or the lot size is unusable.
    """
    host = settings.openalgo_host
    try:
        broker = _ping(client, host, ping_patience)
    except AuthError as exc:
        raise PreflightError(f"OpenAlgo at {host} refused the API key or the broker is not logged in: {exc}") from None
    except TransportError as exc:
        raise PreflightError(f"OpenAlgo is not reachable at {host} (asked for {ping_patience:g} s): {exc}") from None
    except BrokerError as exc:
        raise PreflightError(f"OpenAlgo ping failed: {exc}") from None

    analyze = _analyze_mode(client, settings, switch_to_analyzer)
    cash = _available_cash(client)

    try:
        day_expiry = parse_expiry(expiry) if expiry else nearest_expiry(
            client.expiries(settings.underlying, settings.exchange, "options"), today
        )
    except (UniverseError, BrokerError) as exc:
        raise PreflightError(f"cannot determine the expiry (give --expiry 30DEC25): {exc}") from None

    spot = None
    if atm is None:
        try:
            spot = checked_spot(client.quote(settings.underlying, "NSE_INDEX").ltp)
            atm = atm_strike(spot, settings.strike_step)
        except (UniverseError, BrokerError) as exc:
            raise PreflightError(f"cannot read the NIFTY quote for the ATM strike (give --atm 26000): {exc}") from None
    elif atm % settings.strike_step:
        raise PreflightError(f"--atm {atm} is not a multiple of STRIKE_STEP={settings.strike_step}")

    lot_size = settings.lot_size
    atm_symbol = option_symbol(settings.underlying, day_expiry, atm, "CE")
    try:
        listed = client.symbol_info(atm_symbol, settings.exchange).lotsize
    except BrokerError as exc:
        logger.warning("lot size of {} unavailable ({}); using LOT_SIZE={}", atm_symbol, exc, lot_size)
    else:
        if listed is None:
            logger.warning("lot size of {} not given by the broker; using LOT_SIZE={}", atm_symbol, lot_size)
        else:
            try:
                lot_size = checked_lot_size(listed)
            except UniverseError as exc:
                raise PreflightError(
                    f"the broker's {exc} (symbol {atm_symbol}); check the instrument in OpenAlgo"
                ) from None

    symbols = universe(settings.underlying, day_expiry, atm, settings.strike_window, settings.strike_step)
    _nothing_left_over(client, settings, option_series(settings.underlying, day_expiry), ours)
    return SessionPlan(broker, analyze, cash, day_expiry, atm, spot, lot_size, symbols)


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
        raise PreflightError(f"cannot read the order and position books: {exc}") from None
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
            + ". They are not in this program's journal, so it does not take them over: cancel or close them in"
            " OpenAlgo, then start again."
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


def _analyze_mode(client, settings: Settings, switch: bool) -> bool:  # noqa: ANN001
    try:
        analyze = bool(client.analyzer_status().analyze_mode)
    except BrokerError as exc:
        raise PreflightError(f"cannot read the analyzer mode: {exc}") from None
    if settings.paper_trading and not analyze:
        if not switch:
            raise PreflightError(
                "PAPER_TRADING=true but OpenAlgo is in LIVE mode. Turn analyzer mode on in OpenAlgo, "
                "or run with --switch-to-analyzer, or set PAPER_TRADING=false to trade real money."
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


def _available_cash(client) -> float | None:  # noqa: ANN001
    try:
        return float(client.funds().availablecash)
    except (BrokerError, TypeError, ValueError) as exc:
        logger.warning("funds unavailable: {}", exc)
        return None
