"""Test-wide fixtures: settings come only from what a test passes, never from the machine's environment."""

from __future__ import annotations

import os

import pytest

from config.settings import Settings


@pytest.fixture(autouse=True)
def _no_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    names = {name.upper() for name in Settings.model_fields}
    for key in list(os.environ):
        if key.upper() in names:
            monkeypatch.delenv(key)
