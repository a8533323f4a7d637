"""Test-wide setup: settings come only from what a test passes, never from the machine's environment.

The variables are removed when this file is imported, before any test module
(some build ``Settings`` at import time).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest
from loguru import logger

from config.settings import Settings

for _key in list(os.environ):
    if _key.lower() in Settings.model_fields:
        del os.environ[_key]


@pytest.fixture(autouse=True)
def _loguru_writes_to_the_current_stderr() -> Iterator[None]:
    """After each test, loguru writes to whatever ``sys.stderr`` is at the time.

    A test that runs ``run.py`` adds a sink bound to that test's captured
    stderr, which pytest closes afterwards; threads that outlive the test
    would then log into a closed file.
    """
    yield
    logger.remove()
    logger.add(lambda message: sys.stderr.write(message), level="DEBUG")
