"""What a running session shows on the console: its clock, and each trade as it opens and closes.

:class:`SessionProgress` asks the PortfolioActor for its trades every
``every`` real seconds (a read-only ask: it changes nothing the session
does) and prints

* one line per trade opened (``HH:MM:SS IST  entered SYMBOL qty @ price, stop S``)
  and per trade closed (``… exited SYMBOL @ price (reason), R, rupees``);
* a status line — session clock, trades closed and open, net R so far —
  rewritten in place on a terminal, and once per simulated half hour elsewhere.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import TextIO

from loguru import logger

from actors.base import Router
from actors.clock import Clock
from actors.names import PORTFOLIO
from messages.portfolio import GetTrades, TradeRecord

#: Without a terminal, the status line is printed once per this much session time.
STATUS_EVERY = timedelta(minutes=30)


class SessionProgress:
    """Prints a running session's clock and trades to ``out`` (module doc) until :meth:`stop`.

    ``tty`` None means: ``out.isatty()``.
    """

    def __init__(self, router: Router, clock: Clock, out: TextIO, every: float = 1.0, tty: bool | None = None) -> None:
        self._router = router
        self._clock = clock
        self._out = out
        self._every = every
        self._tty = out.isatty() if tty is None else tty
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="session-progress", daemon=True)
        #: position_id -> what was last printed of it ("open" / "closed")
        self._shown: dict[str, str] = {}
        self._next_status: datetime | None = None
        self._status_width = 0

    def start(self) -> SessionProgress:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Print the last changes, clear the status line and stop."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(10)
        if self._tty and self._status_width:
            self._out.write("\r" + " " * self._status_width + "\r")
            self._out.flush()

    def _run(self) -> None:
        while not self._stopped.wait(self._every):
            self.show()
        self.show(status=False)

    def show(self, status: bool = True) -> None:
        """Print what changed since the last call (and the status line)."""
        try:
            trades: list[TradeRecord] = self._router.ask(PORTFOLIO, GetTrades(), timeout=10)
        except Exception as exc:  # noqa: BLE001 - the view must never disturb the session
            logger.debug("progress: no trades from the portfolio: {!r}", exc)
            return
        news: list[tuple[datetime, str]] = []
        for t in trades:
            state = "closed" if t.exit_time is not None else "open"
            shown = self._shown.get(t.position_id)
            if shown is None:
                news.append((t.entry_time, entered(t)))
            if t.exit_time is not None and shown != "closed":
                news.append((t.exit_time, exited(t)))
            self._shown[t.position_id] = state
        lines = [line for _, line in sorted(news, key=lambda item: item[0])]
        now = self._clock.now()
        text = status_line(now, trades)
        if self._tty:
            clear = "\r" + " " * self._status_width + "\r" if self._status_width else ""
            body = "".join(line + "\n" for line in lines)
            self._out.write(clear + body + (text if status else ""))
            self._status_width = len(text) if status else 0
        else:
            if status and (self._next_status is None or now >= self._next_status):
                lines.append(text)
                self._next_status = now + STATUS_EVERY
            self._out.write("".join(line + "\n" for line in lines))
        self._out.flush()


def entered(t: TradeRecord) -> str:
    """``HH:MM:SS IST  entered SYMBOL QTY @ PRICE, stop SL`` (rupees, contracts)."""
    return f"{t.entry_time:%H:%M:%S} IST  entered {t.symbol} {t.quantity} @ {t.entry_price:.2f}, stop {t.sl_price:.2f}"


def exited(t: TradeRecord) -> str:
    """``HH:MM:SS IST  exited SYMBOL @ PRICE (reason), ±R R, ±rupees``. ValueError for an open trade."""
    if t.exit_time is None or t.exit_price is None:
        raise ValueError(f"position {t.position_id} is still open")
    return (
        f"{t.exit_time:%H:%M:%S} IST  exited  {t.symbol} @ {t.exit_price:.2f} ({t.reason}), "
        f"{t.r:+.2f}R, {t.pnl:+,.2f} rupees"
    )


def status_line(now: datetime, trades: list[TradeRecord]) -> str:
    """``[HH:MM:SS IST] trades: N closed, M open · net R ±x.xx (open ones marked to market)``."""
    closed = sum(1 for t in trades if t.exit_time is not None)
    net = sum(t.r for t in trades)
    return f"[{now:%H:%M:%S} IST] trades: {closed} closed, {len(trades) - closed} open · net R {net:+.2f}"
