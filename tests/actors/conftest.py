"""Fixtures for the message-level actor tests: one real actor, probes as its neighbours."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pykka
import pytest

from config.settings import Settings
from tests.actors.probe import Harness, t


@pytest.fixture
def make_harness() -> Iterator[Callable[..., Harness]]:
    """``make_harness(start=..., **settings_overrides)``; every actor is stopped at teardown."""

    def make(start: datetime | None = None, **overrides: object) -> Harness:
        return Harness(Settings(_env_file=None, **overrides), start or t(9, 15))

    yield make
    pykka.ActorRegistry.stop_all()


@pytest.fixture
def harness(make_harness: Callable[..., Harness]) -> Harness:
    """A harness with default settings, replay time at 09:15 on the test day."""
    return make_harness()
