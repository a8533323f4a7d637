"""Test-wide setup: settings come only from what a test passes, never from the machine's environment.

The variables are removed when this file is imported, before any test module
(some build ``Settings`` at import time).
"""

from __future__ import annotations

import os

from config.settings import Settings

for _key in list(os.environ):
    if _key.lower() in Settings.model_fields:
        del os.environ[_key]
