"""What every simulator reply shares: the broker name it reports and the REST error shape."""

from __future__ import annotations

from typing import Any

#: Name reported as ``broker`` by ping, the WebSocket and its frames.
BROKER_NAME = "simulator"

#: An endpoint's answer: (HTTP status, JSON body).
Reply = tuple[int, dict[str, Any]]


def error(status: int, message: str) -> Reply:
    """``status`` with OpenAlgo's error body ``{"status": "error", "message": message}``."""
    return status, {"status": "error", "message": message}
