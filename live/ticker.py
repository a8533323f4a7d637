"""A thread that tells one actor a message every real second, whatever the clock's speed.

The ControlActor's :class:`~messages.system.ControlDue` comes this way: a
command from a second terminal is taken within about a second of real time,
against the wall clock and a fast simulator's clock alike.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from actors.base import Router


class Ticker:
    """Tells ``name`` ``make()`` every ``interval`` real seconds from :meth:`start` until :meth:`stop`."""

    def __init__(self, router: Router, name: str, make: Callable[[], Any], interval: float = 1.0) -> None:
        self._router = router
        self._name = name
        self._make = make
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"ticker-{name}", daemon=True)

    def start(self) -> "Ticker":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            self._router.tell(self._name, self._make())
