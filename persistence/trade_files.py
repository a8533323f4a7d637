"""The trade log and the daily summary as CSV files a trader keeps (seed 002: ``logs/``).

``<STRATEGY_NAME>_live_trades.csv``: one row per closed position of every
session in the journal; ``<STRATEGY_NAME>_live_daily_summary.csv``: one row
per session. Both are views of the journal, written again whole (to a
temporary file, then renamed) each time a position closes or a day's
summary is written, so they always agree with it, a crash or a restart
included. Prices and P&L rupees, quantities contracts, times IST.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from persistence.journal_store import JournalStore

TRADE_COLUMNS = (
    "date", "position_id", "symbol", "option_type", "quantity", "entry_time", "entry_price", "sl_price",
    "exit_time", "exit_price", "reason", "pnl_rupees", "r",
)
SUMMARY_COLUMNS = ("date", "trades", "wins", "net_r", "max_drawdown_r", "pnl_rupees", "halted", "halt_reason")


class TradeFiles:
    """Writes the two CSV files into ``folder`` (created when missing); ``prefix`` is the strategy's name."""

    def __init__(self, folder: Path, prefix: str) -> None:
        self.trades = folder / f"{prefix}_live_trades.csv"
        self.summary = folder / f"{prefix}_live_daily_summary.csv"

    def write(self, store: JournalStore) -> None:
        """Both files from ``store``. Raises ``OSError`` when the folder cannot be written."""
        self.trades.parent.mkdir(parents=True, exist_ok=True)
        trades = [
            {
                "date": row["session"], "position_id": row["position_id"], "symbol": row["symbol"],
                "option_type": row["option_type"], "quantity": row["quantity"],
                "entry_time": row["opened_at"].isoformat(), "entry_price": row["entry_price"],
                "sl_price": row["sl_price"], "exit_time": row["closed_at"].isoformat() if row["closed_at"] else "",
                "exit_price": row["exit_price"], "reason": row["reason"], "pnl_rupees": row["pnl"], "r": row["r"],
            }
            for row in store.closed_positions()
        ]
        summaries = [
            {
                "date": row["session"], "trades": row["trades"], "wins": row["wins"], "net_r": row["net_r"],
                "max_drawdown_r": row["max_drawdown_r"], "pnl_rupees": row["pnl"], "halted": row["halted"],
                "halt_reason": row["halt_reason"],
            }
            for row in store.summaries()
        ]
        _replace(self.trades, TRADE_COLUMNS, trades)
        _replace(self.summary, SUMMARY_COLUMNS, summaries)


def _replace(path: Path, columns: tuple[str, ...], rows: list[dict]) -> None:
    partial = path.with_suffix(path.suffix + ".partial")
    with open(partial, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)
