"""Fault knobs for the OpenAlgo simulator, settable from any thread while it runs.

Every knob is read by the server on each request or frame, so a test or a
benchmark can change them mid-session::

    faults = Faults(seed=1)
    server = SimulatorServer(market, api_key=KEY, faults=faults)
    faults.latency_ms = 250          # every REST reply 250 ms late
    faults.rate_limit_burst = 3      # the next 3 REST calls answer 429
    faults.ws_drop()                 # every WebSocket connection closes now

Counting knobs (``rate_limit_burst``, ``server_errors``, ``place_timeouts``)
are consumed one per affected call; the others stay until changed.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

#: Realistic broker RMS rejections used by ``reject_rate``.
RMS_MESSAGES = (
    "RMS:Margin Exceeds,Required:{required:.2f}, Available:0.00 for entity account-SIM01 across exchange across segment across product",
    "RMS:Rule: Check circuit limit including square off order exceeds for entity account-SIM01 across exchange across segment across product",
    "RMS:Blocked for NFO-OPT for entity account-SIM01 across exchange across segment across product",
    "Order rejected by RMS: Security is not allowed to trade in this product",
)


class Faults:
    """The simulator's fault knobs. All attributes are thread-safe to read and write.

    * ``latency_ms`` — milliseconds added to every ``/api/v1`` reply (errors too).
    * ``reject_rate`` — fraction 0..1 of valid ``placeorder`` calls answered
      400 with an RMS message (no order is created); drawn from a
      ``random.Random(seed)``, so a run is reproducible.
    * ``rate_limit_burst`` — the next N REST calls answer 429
      ``{"status": "error", "message": "10 per 1 second"}`` (no ``Retry-After``).
    * ``server_errors`` — the next N REST calls answer 500.
    * ``place_timeouts`` — the next N ``placeorder`` calls create the order and
      then hold the reply ``timeout_hold_s`` seconds (wall clock) before
      answering, so a client with a shorter read timeout sees a time-out while
      the order exists.
    * :meth:`ws_drop` — close every WebSocket connection now (no close frame,
      like a network drop).
    * :meth:`ws_mute` — keep connections open but send no ``market_data``
      frames for that many wall-clock seconds (ticks in that window are lost).
    """

    def __init__(
        self,
        *,
        latency_ms: float = 0.0,
        reject_rate: float = 0.0,
        rate_limit_burst: int = 0,
        server_errors: int = 0,
        place_timeouts: int = 0,
        timeout_hold_s: float = 15.0,
        seed: int = 0,
    ) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._latency_ms = float(latency_ms)
        self._reject_rate = float(reject_rate)
        self._rate_limit_burst = int(rate_limit_burst)
        self._server_errors = int(server_errors)
        self._place_timeouts = int(place_timeouts)
        self._timeout_hold_s = float(timeout_hold_s)
        self._muted_until = 0.0
        self._drop_listeners: list[Callable[[], None]] = []
        #: how many times :meth:`ws_drop` was called
        self.ws_drops = 0

    # --- plain knobs -------------------------------------------------------------
    def _get(self, name: str):
        with self._lock:
            return getattr(self, name)

    def _set(self, name: str, value) -> None:
        with self._lock:
            setattr(self, name, value)

    @property
    def latency_ms(self) -> float:
        """Milliseconds added to every REST reply."""
        return self._get("_latency_ms")

    @latency_ms.setter
    def latency_ms(self, value: float) -> None:
        if value < 0:
            raise ValueError("latency_ms must be >= 0")
        self._set("_latency_ms", float(value))

    @property
    def reject_rate(self) -> float:
        """Fraction (0..1) of placeorder calls rejected with an RMS message."""
        return self._get("_reject_rate")

    @reject_rate.setter
    def reject_rate(self, value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError("reject_rate must be within 0..1")
        self._set("_reject_rate", float(value))

    @property
    def rate_limit_burst(self) -> int:
        """REST calls still to be answered 429."""
        return self._get("_rate_limit_burst")

    @rate_limit_burst.setter
    def rate_limit_burst(self, value: int) -> None:
        self._set("_rate_limit_burst", max(0, int(value)))

    @property
    def server_errors(self) -> int:
        """REST calls still to be answered 500."""
        return self._get("_server_errors")

    @server_errors.setter
    def server_errors(self, value: int) -> None:
        self._set("_server_errors", max(0, int(value)))

    @property
    def place_timeouts(self) -> int:
        """placeorder calls still to be placed and then held ``timeout_hold_s`` seconds."""
        return self._get("_place_timeouts")

    @place_timeouts.setter
    def place_timeouts(self, value: int) -> None:
        self._set("_place_timeouts", max(0, int(value)))

    @property
    def timeout_hold_s(self) -> float:
        """Wall-clock seconds a ``place_timeouts`` reply is held."""
        return self._get("_timeout_hold_s")

    @timeout_hold_s.setter
    def timeout_hold_s(self, value: float) -> None:
        self._set("_timeout_hold_s", max(0.0, float(value)))

    # --- consumed by the server ---------------------------------------------------
    def _take(self, name: str) -> bool:
        with self._lock:
            left = getattr(self, name)
            if left <= 0:
                return False
            setattr(self, name, left - 1)
            return True

    def take_rate_limited(self) -> bool:
        """Consume one ``rate_limit_burst`` call; True if this call must answer 429."""
        return self._take("_rate_limit_burst")

    def take_server_error(self) -> bool:
        """Consume one ``server_errors`` call; True if this call must answer 500."""
        return self._take("_server_errors")

    def take_place_timeout(self) -> bool:
        """Consume one ``place_timeouts`` call; True if this placeorder reply must be held."""
        return self._take("_place_timeouts")

    def draw_reject(self) -> str | None:
        """An RMS rejection message for this placeorder, or None (drawn with ``reject_rate``)."""
        with self._lock:
            if self._reject_rate <= 0.0:
                return None
            if self._rng.random() >= self._reject_rate:
                return None
            template = self._rng.choice(RMS_MESSAGES)
            required = self._rng.uniform(5_000, 50_000)
        return template.format(required=required)

    # --- WebSocket faults -------------------------------------------------------------
    def ws_drop(self) -> None:
        """Close every open WebSocket connection of the server(s) using these faults, now."""
        with self._lock:
            self.ws_drops += 1
            listeners = list(self._drop_listeners)
        for listener in listeners:
            listener()

    def ws_mute(self, seconds: float) -> None:
        """Send no market data for ``seconds`` wall-clock seconds from now (0 ends a mute)."""
        with self._lock:
            self._muted_until = time.monotonic() + max(0.0, float(seconds))

    def ws_muted(self) -> bool:
        """True while a :meth:`ws_mute` window is running."""
        with self._lock:
            return time.monotonic() < self._muted_until

    def add_drop_listener(self, listener: Callable[[], None]) -> None:
        """Called (from the caller's thread) on every :meth:`ws_drop`. Used by the server."""
        with self._lock:
            self._drop_listeners.append(listener)

    def remove_drop_listener(self, listener: Callable[[], None]) -> None:
        """Undo :meth:`add_drop_listener`; unknown listeners are ignored."""
        with self._lock:
            if listener in self._drop_listeners:
                self._drop_listeners.remove(listener)
