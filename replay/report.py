"""The per-session trade table and totals printed by ``run.py replay``."""

from __future__ import annotations

from collections.abc import Iterable

from messages.portfolio import TradeRecord
from replay.driver import SessionResult
from strategy.risk import max_drawdown

HEADER = (
    f"{'symbol':<22}{'entry':>9}{'price':>9}{'stop':>9}{'exit':>9}{'price':>9}  {'reason':<16}{'qty':>6}"
    f"{'P&L Rs':>12}{'R':>8}"
)


def _hhmm(moment) -> str:  # noqa: ANN001
    return moment.strftime("%H:%M:%S") if moment is not None else "-"


def trade_line(t: TradeRecord) -> str:
    """One trade: times IST, prices rupees (the stop is the position's ``sl_price``), P&L rupees, R."""
    exit_price = f"{t.exit_price:.2f}" if t.exit_price is not None else "-"
    return (
        f"{t.symbol:<22}{_hhmm(t.entry_time):>9}{t.entry_price:>9.2f}{t.sl_price:>9.2f}{_hhmm(t.exit_time):>9}"
        f"{exit_price:>9}  {t.reason:<16}{t.quantity:>6}{t.pnl:>12,.2f}{t.r:>8.2f}"
    )


def totals_line(trades: Iterable[TradeRecord]) -> str:
    """Trades, wins, net R, P&L in rupees and max drawdown in R (over the closed trades, in entry order)."""
    closed = [t for t in trades if t.exit_price is not None]
    rs = [t.r for t in closed]
    wins = sum(1 for r in rs if r > 0)
    pnl = sum(t.pnl for t in closed)
    return (
        f"trades {len(closed)}  wins {wins}  net R {sum(rs):+.2f}  P&L {pnl:+,.2f} rupees  "
        f"max drawdown {max_drawdown(rs):.2f}R"
    )


def render_sessions(sessions: list[tuple[str, list[TradeRecord]]]) -> str:
    """One table per (title, trades) session, then overall totals when there are several."""
    out: list[str] = []
    for title, trades in sessions:
        out.append(f"== {title}")
        out.append(HEADER)
        out.extend(trade_line(t) for t in trades)
        if not trades:
            out.append("(no trades)")
        out.append(totals_line(trades))
        out.append("")
    if len(sessions) > 1:
        out.append("== all sessions")
        out.append(totals_line(t for _, trades in sessions for t in trades))
    return "\n".join(out).rstrip() + "\n"


def render(results: list[SessionResult]) -> str:
    """The replay report: a table per replayed file."""
    return render_sessions(
        [(f"{r.session.day.isoformat()}  {r.session.path.name}  ({r.ticks} ticks)", r.trades) for r in results]
    )
