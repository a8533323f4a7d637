"""Drawing a :class:`report.session.SessionReport`: one PNG (matplotlib) and one self-contained HTML page.

matplotlib, not plotly: it writes the PNG itself, with no browser engine
(plotly needs kaleido, which brings a headless Chrome, for a static image),
and the HTML page embeds that same PNG, so the page and the picture always
show the same thing and the page needs nothing from the internet.
"""

from __future__ import annotations

import base64
import html
from datetime import datetime, timedelta
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window: a trader's box may have no display

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from messages.base import IST  # noqa: E402
from report.session import SessionReport, SymbolChart, Trade  # noqa: E402

UP, DOWN = "#2e7d32", "#c62828"
TRIGGER, STOP, VWAP, SWING = "#ef6c00", "#c62828", "#1565c0", "#6a1b9a"
TIME_FORMAT = mdates.DateFormatter("%H:%M", tz=IST)
COLUMNS = ("symbol", "entry", "price", "stop", "exit", "price", "reason", "qty", "P&L Rs", "R")


def write_report(report: SessionReport, png: Path, page: Path, title: str) -> None:
    """Write the PNG and the HTML page (parent folders created). Raises ``OSError`` when they cannot be written."""
    png.parent.mkdir(parents=True, exist_ok=True)
    page.parent.mkdir(parents=True, exist_ok=True)
    figure = draw(report, title)
    try:
        figure.savefig(png, dpi=100)
    finally:
        plt.close(figure)
    page.write_text(html_page(report, title, png.read_bytes()), encoding="utf-8")


def draw(report: SessionReport, title: str) -> Figure:
    """The report's figure: the cumulative-R curve, the trades table, then one chart per traded strike."""
    rows = max(1, len(report.trades))
    heights = [3.0, 0.6 + 0.28 * rows] + [3.4] * len(report.charts)
    figure, axes = plt.subplots(
        len(heights), 1, figsize=(14, sum(heights) + 1.0), gridspec_kw={"height_ratios": heights}, squeeze=False
    )
    axes = [a[0] for a in axes]
    figure.suptitle(f"{title}\n{totals(report)}", fontsize=12)
    _curve(axes[0], report)
    _table(axes[1], report.trades)
    for ax, chart in zip(axes[2:], report.charts):
        _chart(ax, chart, [t for t in report.trades if t.symbol == chart.symbol])
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.6 / (sum(heights) + 1.0)))
    return figure


def totals(report: SessionReport) -> str:
    """One line: trades, wins, net R, rupees, max drawdown, the halt."""
    halt = f"halted: {report.halt_reason}" if report.halted else "not halted"
    still = len(report.trades) - len(report.closed)
    open_note = f", {still} open" if still else ""
    return (
        f"{len(report.closed)} trades{open_note}, {report.wins} wins, net {report.net_r:+.2f}R, "
        f"P&L {report.pnl:+,.2f} rupees, max drawdown {report.max_drawdown_r:.2f}R, {halt}"
    )


def _curve(ax, report: SessionReport) -> None:  # noqa: ANN001
    times = [t for t, _r in report.curve]
    values = [r for _t, r in report.curve]
    end = report.end
    ax.step([*times, end], [*values, values[-1]], where="post", color="black", linewidth=1.5, label="cumulative R")
    ax.axhline(0, color="grey", linewidth=0.6)
    for trade in report.trades:
        r_then = _r_at(report, trade.opened_at)
        ax.plot(trade.opened_at, r_then, marker="v", color=TRIGGER, markersize=8, linestyle="none")
        if trade.closed_at is not None:
            ax.plot(trade.closed_at, _r_at(report, trade.closed_at), marker="^", markersize=8, linestyle="none",
                    color=UP if (trade.r or 0) > 0 else DOWN)
            ax.annotate(f"{trade.r:+.2f}R", (trade.closed_at, _r_at(report, trade.closed_at)),
                        textcoords="offset points", xytext=(4, 6), fontsize=8)
    ax.plot([], [], marker="v", color=TRIGGER, linestyle="none", label="entry (sell)")
    ax.plot([], [], marker="^", color="grey", linestyle="none", label="exit (buy back), with its R")
    ax.set_ylabel("R")
    ax.set_xlim(times[0], end)
    ax.set_title("cumulative realised R through the day", fontsize=10, loc="left")
    ax.xaxis.set_major_formatter(TIME_FORMAT)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)


def _r_at(report: SessionReport, moment: datetime) -> float:
    value = 0.0
    for t, r in report.curve:
        if t <= moment:
            value = r
    return value


def _table(ax, trades: list[Trade]) -> None:  # noqa: ANN001
    ax.axis("off")
    if not trades:
        ax.text(0.5, 0.5, "no trades", ha="center", va="center")
        return
    cells = [_cells(t) for t in trades]
    widths = [0.19, 0.08, 0.07, 0.07, 0.08, 0.07, 0.13, 0.06, 0.1, 0.07]
    table = ax.table(cellText=cells, colLabels=COLUMNS, loc="center", cellLoc="right", colWidths=widths)
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    for (row, col), cell in table.get_celld().items():
        if row > 0 and col == len(COLUMNS) - 1 and trades[row - 1].r is not None:
            cell.get_text().set_color(UP if trades[row - 1].r > 0 else DOWN)


def _cells(t: Trade) -> list[str]:
    def hms(moment: datetime | None) -> str:
        return moment.astimezone(IST).strftime("%H:%M:%S") if moment is not None else "-"

    return [
        t.symbol, hms(t.opened_at), f"{t.entry_price:.2f}", f"{t.sl_price:.2f}", hms(t.closed_at),
        f"{t.exit_price:.2f}" if t.exit_price is not None else "-", t.reason or "-", str(t.quantity),
        f"{t.pnl:,.2f}" if t.pnl is not None else "-", f"{t.r:+.2f}" if t.r is not None else "open",
    ]


def _chart(ax, chart: SymbolChart, trades: list[Trade]) -> None:  # noqa: ANN001
    width = 0.6 / (24 * 60)  # of a minute, in days (matplotlib's date unit)
    if chart.bars:
        starts = [mdates.date2num(b[0] + timedelta(seconds=30)) for b in chart.bars]
        opens, highs, lows, closes = ([b[i] for b in chart.bars] for i in (1, 2, 3, 4))
        colours = [UP if c >= o else DOWN for o, c in zip(opens, closes)]
        ax.vlines(starts, lows, highs, colors=colours, linewidth=0.7)
        ax.bar(starts, [max(abs(c - o), 0.05) for o, c in zip(opens, closes)], width,
               bottom=[min(o, c) for o, c in zip(opens, closes)], color=colours, linewidth=0)
        ax.plot(starts, [b[6] for b in chart.bars], color=VWAP, linewidth=1.0, label="VWAP")
    else:
        ax.text(0.5, 0.5, "no bars in the journal (written before schema 4)", transform=ax.transAxes, ha="center")
    if chart.swing_lows:
        ax.plot([t + timedelta(seconds=30) for t, _p in chart.swing_lows], [p for _t, p in chart.swing_lows],
                marker="o", markersize=5, markerfacecolor="none", color=SWING, linestyle="none", label="swing low")
    for kind, colour, label in (("entry", TRIGGER, "entry trigger"), ("stop", STOP, "protective stop")):
        shown = False
        for level in chart.levels:
            if level.role == kind:
                ax.hlines(level.price, level.start, level.end, colors=colour, linewidth=2.2,
                          linestyles=(0, (3, 1.5)) if kind == "entry" else "-", label=None if shown else label)
                shown = True
    for moment, price, action in chart.fills:
        ax.plot(moment, price, marker="v" if action == "SELL" else "^", markersize=9, linestyle="none",
                color="black", markerfacecolor=TRIGGER if action == "SELL" else "white")
    _zoom(ax, chart)
    result = ", ".join(f"{t.r:+.2f}R" if t.r is not None else "open" for t in trades)
    ax.set_title(f"{chart.symbol}: 1-minute bars, VWAP, swing lows, entry triggers, stops; fills "
                 f"▼ sell ▲ buy ({result})", fontsize=10, loc="left")
    ax.set_ylabel("rupees")
    ax.xaxis.set_major_formatter(TIME_FORMAT)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)


def _zoom(ax, chart: SymbolChart) -> None:  # noqa: ANN001
    """The part of the day the orders were working in, with an hour before (the swing that set them up)
    and half an hour after; the price range of the bars shown."""
    moments = [level.start for level in chart.levels] + [level.end for level in chart.levels]
    moments += [moment for moment, _price, _action in chart.fills]
    if not moments or not chart.bars:
        return
    left, right = min(moments) - timedelta(minutes=60), max(moments) + timedelta(minutes=30)
    left, right = max(left, chart.bars[0][0]), min(right, chart.bars[-1][0] + timedelta(minutes=1))
    shown = [b for b in chart.bars if left <= b[0] <= right] or chart.bars
    prices = [b[3] for b in shown] + [b[2] for b in shown] + [level.price for level in chart.levels]
    low, high = min(prices), max(prices)
    pad = (high - low) * 0.05 or 1.0
    ax.set_xlim(left, right)
    ax.set_ylim(low - pad, high + pad)


def html_page(report: SessionReport, title: str, png: bytes) -> str:
    """A page with no outside reference: the totals, the trades table and the PNG inline."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in _cells(t)) + "</tr>" for t in report.trades
    ) or f'<tr><td colspan="{len(COLUMNS)}">no trades</td></tr>'
    image = base64.b64encode(png).decode("ascii")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
img {{ max-width: 100%; }}
</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(totals(report))}</p>
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<p>Times IST, prices rupees, quantities contracts. Charts: each traded strike's 1-minute bars with its VWAP,
swing lows (circles), entry triggers (dashed), protective stops (solid) and fills.</p>
<img alt="cumulative R, trades and charts of {html.escape(report.day.isoformat())}" src="data:image/png;base64,{image}">
</body></html>
"""
