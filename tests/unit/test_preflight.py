"""Pre-flight checks (live/preflight.py) against a fake OpenAlgo client."""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace

import pytest
from loguru import logger

from broker.base import AuthError, BrokerError, NotFound, OrderSnapshot, PositionRow, ServerError, TransportError
from config.settings import Settings
from live.preflight import Check, Ours, PreflightError, check_all, preflight, render_checks
from messages.base import IST
from messages.orders import OrderSent
from messages.portfolio import PositionEvent
from persistence.journal_store import JournalStore

TODAY = date(2025, 12, 23)
EXPIRY = date(2025, 12, 30)


class FakeClient:
    """Answers like OpenAlgo in analyzer mode; each attribute can be changed by a test."""

    def __init__(self) -> None:
        self.analyze = True
        self.ping_error: Exception | None = None
        self.lot_error: Exception | None = None
        self.orders: list[OrderSnapshot] = []
        self.positions: list[PositionRow] = []
        self.toggled: list[bool] = []
        self.ltp: object = 26012.4
        self.lotsize: object = 75
        #: symbols ``symbol`` does not know
        self.unknown: set[str] = set()
        self.cash: object = "10000000.00"
        self.collateral: object = 0.0
        #: rupees per contract of a short option (``margin``), or the error it raises
        self.margin_per_contract = 2000.0
        self.margin_error: Exception | None = None
        self.baskets: list[tuple[list, str]] = []

    def ping(self) -> SimpleNamespace:
        if self.ping_error is not None:
            raise self.ping_error
        return SimpleNamespace(broker="fakebroker")

    def analyzer_status(self) -> SimpleNamespace:
        return SimpleNamespace(analyze_mode=self.analyze)

    def analyzer_toggle(self, mode: bool) -> SimpleNamespace:
        self.toggled.append(mode)
        self.analyze = mode
        return SimpleNamespace(analyze_mode=mode)

    def funds(self) -> SimpleNamespace:
        return SimpleNamespace(availablecash=self.cash, collateral=self.collateral)

    def margin(self, positions: list[tuple[str, str, str, int]], product: str) -> SimpleNamespace:
        self.baskets.append((list(positions), product))
        if self.margin_error is not None:
            raise self.margin_error
        return SimpleNamespace(total_margin_required=sum(q for *_rest, q in positions) * self.margin_per_contract)

    def expiries(self, symbol: str, exchange: str, instrumenttype: str) -> list[date]:
        return [date(2025, 12, 16), EXPIRY, date(2026, 1, 6)]

    def quote(self, symbol: str, exchange: str) -> SimpleNamespace:
        assert (symbol, exchange) == ("NIFTY", "NSE_INDEX")
        return SimpleNamespace(ltp=self.ltp)

    def symbol_info(self, symbol: str, exchange: str) -> SimpleNamespace:
        if self.lot_error is not None:
            raise self.lot_error
        if symbol in self.unknown:
            raise NotFound(f"symbol {symbol} not found")
        return SimpleNamespace(lotsize=self.lotsize)

    def order_book(self) -> list[OrderSnapshot]:
        return self.orders

    def position_book(self) -> list[PositionRow]:
        return self.positions


def settings(**overrides: object) -> Settings:
    return Settings(_env_file=None, **overrides)


def order(symbol: str, status: str, **fields: object) -> OrderSnapshot:
    return OrderSnapshot(
        orderid="1", symbol=symbol, action="SELL", quantity=75, pricetype="SL", status=status, **fields
    )


def test_the_plan_holds_expiry_atm_lot_size_and_42_symbols() -> None:
    plan = preflight(FakeClient(), settings(), TODAY)
    assert (plan.broker, plan.analyze_mode, plan.available_cash) == ("fakebroker", True, 10_000_000.0)
    assert (plan.expiry, plan.spot, plan.atm, plan.lot_size) == (EXPIRY, 26012.4, 26000, 75)
    assert len(plan.symbols) == 42
    assert plan.symbols[0] == "NIFTY30DEC2525500CE" and plan.symbols[-1] == "NIFTY30DEC2526500PE"


def test_command_line_expiry_and_atm_win() -> None:
    plan = preflight(FakeClient(), settings(), TODAY, expiry="06JAN26", atm=26050)
    assert (plan.expiry, plan.atm, plan.spot) == (date(2026, 1, 6), 26050, 26012.4)


def test_an_expiry_the_broker_does_not_list_is_refused_with_the_listed_ones() -> None:
    with pytest.raises(PreflightError, match="expiry 02JAN26 is not one the broker lists") as caught:
        preflight(FakeClient(), settings(), TODAY, expiry="02JAN26")
    assert caught.value.advice == "use a listed one: 30DEC25, 06JAN26"


def test_an_atm_far_from_the_spot_is_refused() -> None:
    """The issue's --atm 30000 with the spot at 24514: every line was ok."""
    with pytest.raises(PreflightError, match="--atm 30000 is 3,988 points from the NIFTY spot 26,012.40") as caught:
        preflight(FakeClient(), settings(), TODAY, atm=30000)
    assert "it is 26000 now" in caught.value.advice


def test_symbols_the_broker_does_not_know_are_refused_and_listed() -> None:
    client = FakeClient()
    client.unknown = {"NIFTY30DEC2525500CE", "NIFTY30DEC2526500PE"}
    with pytest.raises(PreflightError, match="2 of 42 symbols do not exist at the broker: NIFTY30DEC2525500CE"):
        preflight(client, settings(), TODAY)


def test_check_all_lists_every_failure_and_what_it_could_not_check() -> None:
    client = FakeClient()
    client.analyze = False
    rows, plan = check_all(client, settings(), TODAY, expiry="02JAN26")
    assert plan is None
    assert [(r.name, r.passed) for r in rows] == [
        ("server", True), ("mode", False), ("funds", True), ("expiry", False), ("ATM", True),
        ("lot size", None), ("symbols", None), ("margin", None), ("books", None),
    ]
    table = render_checks(rows)
    assert "FAIL  mode       PAPER_TRADING=true but OpenAlgo is in LIVE mode" in table
    assert "-> turn analyzer mode on in OpenAlgo" in table
    assert "----  symbols    not checked: an earlier check failed" in table


def test_check_all_passes_with_the_plan_and_runs_the_extra_checks() -> None:
    seen = []
    rows, plan = check_all(FakeClient(), settings(), TODAY, extra=(("journal", lambda p: seen.append(p) or "writable"),))
    assert plan is not None and seen == [plan]
    assert all(r.passed for r in rows) and rows[-1] == Check("journal", True, "writable")


def test_an_atm_off_the_strike_grid_is_refused() -> None:
    with pytest.raises(PreflightError, match="STRIKE_STEP"):
        preflight(FakeClient(), settings(), TODAY, atm=26010)


@pytest.mark.parametrize(
    ("error", "says"),
    [(TransportError("refused"), "not reachable"), (AuthError("bad key"), "refused the API key")],
)
def test_an_unreachable_server_or_a_refused_key_stops_the_start(error: Exception, says: str) -> None:
    client = FakeClient()
    client.ping_error = error
    with pytest.raises(PreflightError, match=says):
        preflight(client, settings(), TODAY, ping_patience=0.2)


def test_a_server_that_answers_late_is_waited_for_with_progress_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real server accepts connections ~30 s before its app answers: ping is asked again."""
    monkeypatch.setattr("live.preflight.PING_RETRY_DELAY", 0.01)
    client = FakeClient()
    answers = [TransportError("read timed out"), ServerError("HTTP 502"), None]

    def ping() -> SimpleNamespace:
        error = answers.pop(0)
        if error is not None:
            raise error
        return SimpleNamespace(broker="latebroker")

    client.ping = ping  # type: ignore[method-assign]
    seen: list[str] = []
    sink = logger.add(lambda message: seen.append(str(message)), level="WARNING")
    try:
        plan = preflight(client, settings(), TODAY, ping_patience=30)
    finally:
        logger.remove(sink)
    assert plan.broker == "latebroker" and answers == []
    assert len([m for m in seen if "not answering yet" in m]) == 2
    assert "read timed out" in seen[0] and "asking again for up to" in seen[0]


def test_a_refused_key_is_not_asked_again() -> None:
    client = FakeClient()
    calls = []

    def ping() -> SimpleNamespace:
        calls.append(1)
        raise AuthError("Invalid openalgo apikey")

    client.ping = ping  # type: ignore[method-assign]
    with pytest.raises(PreflightError, match="refused the API key"):
        preflight(client, settings(), TODAY, ping_patience=30)
    assert calls == [1]


def test_paper_trading_refuses_a_live_mode_server() -> None:
    client = FakeClient()
    client.analyze = False
    with pytest.raises(PreflightError, match="LIVE mode"):
        preflight(client, settings(), TODAY)
    assert client.toggled == []


def test_paper_trading_can_switch_the_server_to_analyzer_mode() -> None:
    client = FakeClient()
    client.analyze = False
    plan = preflight(client, settings(), TODAY, switch_to_analyzer=True)
    assert client.toggled == [True] and plan.analyze_mode


@pytest.mark.parametrize("paper", [True, False])
def test_a_dry_run_needs_no_analyzer_mode_and_never_says_live_trading(paper: bool) -> None:
    """A dry run sends nothing: neither mode is refused, nor is "LIVE TRADING" announced."""
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(message.record["message"]), level="WARNING")
    try:
        client = FakeClient()
        client.analyze = False
        plan = preflight(client, settings(paper_trading=paper), TODAY, dry_run=True)
    finally:
        logger.remove(sink)
    assert client.toggled == [] and not plan.analyze_mode
    assert any("DRY RUN" in line for line in lines) and not any("LIVE TRADING" in line for line in lines)


def test_a_lot_size_the_broker_cannot_give_is_a_failure_not_a_silent_fallback() -> None:
    client = FakeClient()
    client.lot_error = ServerError("down")
    with pytest.raises(PreflightError, match="lot size of NIFTY30DEC2526000CE unavailable"):
        preflight(client, settings(lot_size=65), TODAY)


@pytest.mark.parametrize("ltp", [float("nan"), float("inf"), float("-inf"), 0.0, -26012.4, 999.99, 1_000_000.01, 1e12])
def test_an_unusable_nifty_quote_stops_the_start_with_a_readable_reason(ltp: float) -> None:
    client = FakeClient()
    client.ltp = ltp
    with pytest.raises(PreflightError, match=r"NIFTY quote .*is .*: must be a number from 1,000 to 1,000,000 points"):
        preflight(client, settings(), TODAY)


@pytest.mark.parametrize("lotsize", [float("nan"), float("inf"), 0, -75, 75.5, 10_001, 1e12, True])
def test_an_unusable_lot_size_stops_the_start_with_a_readable_reason(lotsize: object) -> None:
    client = FakeClient()
    client.lotsize = lotsize
    with pytest.raises(PreflightError, match=r"lot size is .*: must be a whole number of contracts from 1 to 10,000") as caught:
        preflight(client, settings(lot_size=65), TODAY)
    assert "NIFTY30DEC2526000CE" in str(caught.value)


def test_a_lot_size_the_broker_does_not_give_is_a_failure() -> None:
    """The issue: the lot size quietly fell back to 65."""
    client = FakeClient()
    client.lotsize = None
    with pytest.raises(PreflightError, match=r"gives no lot size .* \(LOT_SIZE=65 would be a guess\)"):
        preflight(client, settings(lot_size=65), TODAY)


@pytest.mark.parametrize("status", ["open", "trigger pending"])
def test_a_working_order_in_the_series_stops_the_start(status: str) -> None:
    client = FakeClient()
    client.orders = [order("NIFTY30DEC2525000CE", status)]  # outside today's ATM ± 10, same expiry
    with pytest.raises(PreflightError, match="working orders or open positions") as caught:
        preflight(client, settings(), TODAY)
    assert "NIFTY30DEC2525000CE" in str(caught.value)


def test_an_open_position_in_the_series_stops_the_start() -> None:
    client = FakeClient()
    client.positions = [PositionRow(symbol="NIFTY30DEC2526000PE", quantity=-75)]
    with pytest.raises(PreflightError, match=r"position -75 NIFTY30DEC2526000PE"):
        preflight(client, settings(), TODAY)


def test_finished_orders_flat_positions_and_other_instruments_do_not_count() -> None:
    client = FakeClient()
    client.orders = [
        order("NIFTY30DEC2526000CE", "complete"),
        order("NIFTY30DEC2526000CE", "cancelled"),
        order("NIFTY06JAN2626000CE", "open"),  # another expiry
        order("NIFTY30DEC2526000CE", "open", product="NRML"),  # another product
    ]
    client.positions = [
        PositionRow(symbol="NIFTY30DEC2526000CE", quantity=0),
        PositionRow(symbol="BANKNIFTY30DEC2560000CE", quantity=-30),
    ]
    assert len(preflight(client, settings(), TODAY).symbols) == 42


def test_a_restart_takes_over_the_journals_orders_and_positions_but_nothing_else() -> None:
    """Recovery adopts what the journal says is ours; the rest still stops the start, listed alone."""
    client = FakeClient()
    ours_order = order("NIFTY30DEC2526000CE", "trigger pending")
    other = order("NIFTY30DEC2526100CE", "open").model_copy(update={"orderid": "2"})
    client.orders = [ours_order, other]
    client.positions = [
        PositionRow(symbol="NIFTY30DEC2526000PE", quantity=-75),  # ours: open in the journal
        PositionRow(symbol="NIFTY30DEC2526050PE", quantity=-75),  # not ours
    ]
    mine = Ours(orderids=frozenset({ours_order.orderid}), held=frozenset({"NIFTY30DEC2526000PE"}))
    with pytest.raises(PreflightError) as caught:
        preflight(client, settings(), TODAY, ours=mine)
    text = str(caught.value)
    assert "NIFTY30DEC2526100CE" in text and "NIFTY30DEC2526050PE" in text
    assert "NIFTY30DEC2526000CE" not in text and "NIFTY30DEC2526000PE" not in text
    client.orders, client.positions = [ours_order], client.positions[:1]
    assert len(preflight(client, settings(), TODAY, ours=mine).symbols) == 42


def test_ours_come_from_the_days_journal(tmp_path) -> None:
    with JournalStore(tmp_path / "j.db") as store:
        store.record(OrderSent(
            time=datetime(2025, 12, 23, 10, 0, tzinfo=IST), op="place", role="stop", orderid="S1",
            symbol="NIFTY30DEC2526000PE", action="BUY", pricetype="SL", trigger_price=160.0, price=163.0,
            quantity=75, position_id="E1",
        ))
        store.record(PositionEvent(
            time=datetime(2025, 12, 23, 9, 59, tzinfo=IST), state="open", position_id="E1",
            symbol="NIFTY30DEC2526000PE", option_type="PE", quantity=75, entry_price=150.0, sl_price=160.0,
        ))
        mine = Ours.from_journal(store, datetime(2025, 12, 23).date())
    assert mine == Ours(frozenset({"S1"}), frozenset({"NIFTY30DEC2526000PE"}))


def test_the_margin_the_limits_can_need_is_asked_for_and_the_cash_must_cover_it() -> None:
    client = FakeClient()
    plan = preflight(client, settings(), TODAY)
    [(basket, product)] = client.baskets
    # 5 positions: 3 CE (ATM, then either side) and 2 PE, each MAX_LOTS 10 lots of 75
    assert basket == [
        ("NIFTY30DEC2526000CE", "NFO", "SELL", 750), ("NIFTY30DEC2525950CE", "NFO", "SELL", 750),
        ("NIFTY30DEC2526050CE", "NFO", "SELL", 750), ("NIFTY30DEC2526000PE", "NFO", "SELL", 750),
        ("NIFTY30DEC2525950PE", "NFO", "SELL", 750),
    ]
    assert product == "MIS" and plan.available_cash == 10_000_000

    client.cash = "7499999.00"  # 5 × 750 contracts × 2000 rupees = 7,500,000 rupees
    with pytest.raises(PreflightError, match=r"cash and collateral 7,499,999.00 rupees are below the 7,500,000.00") as low:
        preflight(client, settings(), TODAY)
    assert "lower MAX_LOTS or MAX_POSITIONS" in low.value.advice
    preflight(client, settings(max_lots=5), TODAY)  # half the lots: half the margin
    client.collateral = 1.0  # pledged collateral counts towards F&O margin
    preflight(client, settings(), TODAY)
    client.collateral = 0.0

    # a restart holding three positions (their margin blocked already): only the room left is asked for
    client.cash, client.baskets = "3000000.00", []
    held = frozenset({"NIFTY30DEC2526000CE", "NIFTY30DEC2526050CE", "NIFTY30DEC2526000PE"})
    preflight(client, settings(), TODAY, ours=Ours(held=held))
    assert [symbol for symbol, *_ in client.baskets[-1][0]] == ["NIFTY30DEC2526000CE", "NIFTY30DEC2526000PE"]
    preflight(client, settings(), TODAY, ours=Ours(held=held | {"NIFTY30DEC2525950PE", "NIFTY30DEC2526050PE"}))
    assert len(client.baskets) == 1, "the limits are full: no margin to ask for"

    client.margin_error = BrokerError("margin: HTTP 500")
    with pytest.raises(PreflightError, match="margin .* is unknown"):
        preflight(client, settings(max_lots=5), TODAY)
    preflight(client, settings(max_lots=5), TODAY, dry_run=True)  # a dry run sends nothing: no margin asked
