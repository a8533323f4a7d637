"""The documented settings file stays true: every setting, every default."""

from __future__ import annotations

from config.settings import Settings, load_settings
from tests.paths import PROJECT_ROOT


def _names_in_example() -> list[str]:
    names = []
    for line in (PROJECT_ROOT / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            names.append(line.split("=", 1)[0].strip().lower())
    return names


def test_env_example_lists_every_setting_once() -> None:
    names = _names_in_example()
    assert sorted(names) == sorted(Settings.model_fields), "add or remove the setting in .env.example"
    assert len(names) == len(set(names))


def test_env_example_values_are_the_defaults() -> None:
    assert load_settings(PROJECT_ROOT / ".env.example") == Settings(_env_file=None)
