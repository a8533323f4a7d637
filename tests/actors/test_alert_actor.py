"""AlertActor: what a trader must know now goes to OpenAlgo's telegram/notify, throttled, never in
trading's way (actors/alerts.py)."""

from __future__ import annotations

from actors.alerts import AlertActor
from actors.names import ALERTS
from messages.orders import OrderFilled, OrderSent
from messages.portfolio import PositionEvent
from messages.signals import CandidateDecided
from messages.system import Alert, Halted
from tests.actors.probe import Harness, t

X = "NIFTY17JUN2115500CE"


class Telegram:
    """The sender: records (text, priority); ``answer`` False is the 409 of a stopped bot, an exception a dead server."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []
        self.answer: bool | Exception = True

    def __call__(self, text: str, priority: int) -> bool:
        self.sent.append((text, priority))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def start(harness: Harness) -> Telegram:
    telegram = Telegram()
    harness.start(AlertActor, ALERTS, telegram)
    return telegram


def test_fills_stops_closed_positions_halts_and_errors_are_sent(harness: Harness) -> None:
    telegram = start(harness)
    harness.tell(ALERTS,
        OrderFilled(time=t(10, 0), orderid="E1", role="entry", symbol=X, action="SELL", quantity=650, average_price=149.9),
        OrderSent(time=t(10, 0), op="place", role="stop", orderid="S1", symbol=X, action="BUY", pricetype="SL",
                  trigger_price=158.05, price=161.05, quantity=650, position_id="E1"),
        PositionEvent(time=t(10, 30), state="closed", position_id="E1", symbol=X, option_type="CE", quantity=650,
                      entry_price=149.9, sl_price=158.02, exit_price=158.1, pnl=-5330.0, r=-1.01, reason="stop"),
        Halted(time=t(11, 0), reason="daily_stop_r (-5.02R)"),
        Alert(time=t(11, 0), level="critical", text="stop S2 of X rejected; closing x650 at MARKET"),
        Alert(time=t(11, 0), level="info", text="nothing to act on"),
        CandidateDecided(time=t(11, 0), symbol=X, option_type="CE", decision="added"),
    )
    harness.quiet()
    assert [text for text, _ in telegram.sent] == [
        "[baseline_v1] ENTRY FILLED NIFTY17JUN2115500CE: sold 650 at 149.90",
        "[baseline_v1] STOP placed NIFTY17JUN2115500CE: BUY 650 trigger 158.05 (position E1)",
        "[baseline_v1] CLOSED NIFTY17JUN2115500CE (stop): -1.01R -5,330.00 rupees",
        "[baseline_v1] HALT: daily_stop_r (-5.02R). Everything is closed; no new entries today",
        "[baseline_v1] CRITICAL: stop S2 of X rejected; closing x650 at MARKET",
    ]
    assert [priority for _, priority in telegram.sent] == [6, 5, 7, 9, 10]


def test_the_same_error_goes_out_at_most_once_in_ten_minutes(harness: Harness) -> None:
    telegram = start(harness)
    for moment in (t(10, 0), t(10, 5), t(10, 9, 59)):
        harness.tell(ALERTS, Alert(time=moment, level="warning", text="market-data feed reconnected (#2)"))
    harness.tell(ALERTS, Alert(time=t(10, 10, 1), level="warning", text="market-data feed reconnected (#2)"))
    harness.tell(ALERTS, Alert(time=t(10, 10, 1), level="warning", text="another one"))
    harness.quiet()
    assert [text.split(": ", 1)[1] for text, _ in telegram.sent] == [
        "market-data feed reconnected (#2)", "market-data feed reconnected (#2)", "another one",
    ]


def test_a_bot_that_is_off_or_a_dead_server_changes_nothing(harness: Harness) -> None:
    telegram = start(harness)
    telegram.answer = False  # 409: Telegram bot is stopped
    harness.tell(ALERTS, Halted(time=t(11, 0), reason="force_exit"))
    telegram.answer = ConnectionError("refused")
    harness.tell(ALERTS, Halted(time=t(11, 1), reason="force_exit again"))
    telegram.answer = True
    harness.tell(ALERTS, Halted(time=t(11, 2), reason="stop_command (run.py stop)"))
    harness.quiet()
    assert len(telegram.sent) == 3  # the actor lived through both failures
