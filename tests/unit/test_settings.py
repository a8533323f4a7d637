"""Settings: strategy.md defaults, environment overrides, and errors that name the setting."""

from __future__ import annotations

import traceback
from datetime import time
from pathlib import Path

import pytest

from config.settings import Settings, SettingsError, load_settings

SECRET = "sk-live-7f3a9c1d2e"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No setting comes from the outer environment or a stray .env in the working directory."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_defaults_equal_strategy_md(clean_env: pytest.MonkeyPatch) -> None:
    s = load_settings(env_file=None)
    # §1 universe and session
    assert (s.underlying, s.exchange, s.product) == ("NIFTY", "NFO", "MIS")
    assert (s.strike_step, s.strike_window, s.lot_size, s.tick_size) == (50, 10, 65, 0.05)
    assert (s.market_open, s.market_close) == (time(9, 15), time(15, 30))
    assert (s.entry_start, s.entry_end, s.force_exit) == (time(9, 15), time(15, 15), time(15, 15))
    # §2 bars
    assert s.bar_grace_seconds == 2.0
    # §4 filters
    assert (s.min_entry_price, s.max_entry_price, s.min_vwap_premium) == (100.0, 300.0, 0.04)
    assert (s.sl_buffer, s.min_sl_pct, s.max_sl_pct) == (1.0, 0.02, 0.10)
    assert (s.target_sl_points, s.r_value, s.max_lots) == (10.0, 6500.0, 10)
    # §5 orders
    assert (s.entry_limit_offset, s.stop_limit_offset, s.stop_attempts) == (3.0, 3.0, 3)
    assert (s.broker_retries, s.broker_retry_delay) == (3, 2.0)
    # §6 portfolio and risk
    assert (s.max_positions, s.max_ce_positions, s.max_pe_positions) == (5, 3, 3)
    assert (s.daily_target_r, s.daily_stop_r) == (5.0, -5.0)
    assert s.reconcile_seconds == 60.0
    assert s.strategy_name == "baseline_v1"


def test_limit_for(clean_env: pytest.MonkeyPatch) -> None:
    s = load_settings(env_file=None, max_ce_positions=2, max_pe_positions=1)
    assert (s.limit_for("CE"), s.limit_for("PE")) == (2, 1)


def test_env_vars_override_defaults(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MAX_SL_PCT", "0.12")
    clean_env.setenv("LOT_SIZE", "75")
    clean_env.setenv("ENTRY_END", "15:00")
    clean_env.setenv("OPENALGO_API_KEY", SECRET)
    s = load_settings(env_file=None)
    assert s.max_sl_pct == 0.12
    assert s.lot_size == 75
    assert s.entry_end == time(15, 0)
    assert s.openalgo_api_key.get_secret_value() == SECRET
    assert s.min_sl_pct == 0.02  # untouched


def test_env_var_names_are_case_insensitive(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("max_lots", "4")
    assert load_settings(env_file=None).max_lots == 4


def test_env_file_is_read_and_env_vars_win(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env_file = tmp_path / "test.env"
    env_file.write_text("R_VALUE=5000\nMAX_LOTS=7\n", encoding="utf-8")
    s = load_settings(env_file)
    assert (s.r_value, s.max_lots) == (5000.0, 7)
    clean_env.setenv("MAX_LOTS", "6")
    s = load_settings(env_file)
    assert (s.r_value, s.max_lots) == (5000.0, 6)


def test_overrides_win_over_env(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MAX_LOTS", "6")
    assert load_settings(env_file=None, max_lots=2).max_lots == 2


def test_settings_are_frozen(clean_env: pytest.MonkeyPatch) -> None:
    s = load_settings(env_file=None)
    with pytest.raises(Exception):
        s.max_lots = 3  # type: ignore[misc]
    assert s.max_lots == 10


# --- errors ------------------------------------------------------------------------


def error_of(**overrides: object) -> SettingsError:
    with pytest.raises(SettingsError) as info:
        load_settings(env_file=None, **overrides)
    return info.value


def test_settings_error_is_a_value_error() -> None:
    assert issubclass(SettingsError, ValueError)


def test_non_number_from_env_names_the_setting(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MAX_SL_PCT", "abc")
    err = error_of()
    assert "MAX_SL_PCT" in str(err)
    assert "'abc'" in str(err)


def test_out_of_range_value_names_the_setting(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("LOT_SIZE", "0")
    assert "LOT_SIZE" in str(error_of())


def test_min_entry_above_max_entry_names_the_settings(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MIN_ENTRY_PRICE", "400")
    message = str(error_of())
    assert "MIN_ENTRY_PRICE" in message
    assert "MAX_ENTRY_PRICE" in message


def test_min_sl_pct_above_max_sl_pct(clean_env: pytest.MonkeyPatch) -> None:
    message = str(error_of(min_sl_pct=0.2, max_sl_pct=0.1))
    assert "MIN_SL_PCT" in message


def test_per_type_limit_above_total_limit(clean_env: pytest.MonkeyPatch) -> None:
    assert "MAX_CE_POSITIONS" in str(error_of(max_ce_positions=6))


def test_session_times_out_of_order(clean_env: pytest.MonkeyPatch) -> None:
    assert "ENTRY_END" in str(error_of(entry_end=time(15, 45)))
    assert "FORCE_EXIT" in str(error_of(force_exit=time(9, 0)))


def test_unknown_setting_names_it(clean_env: pytest.MonkeyPatch) -> None:
    assert "MAX_SL_PERCENT" in str(error_of(max_sl_percent=0.1))


def test_unknown_setting_in_env_file_names_it(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env_file = tmp_path / "bad.env"
    env_file.write_text("MAX_LOTS=5\nMAX_SL_PERCENT=0.1\n", encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(env_file)
    assert "MAX_SL_PERCENT" in str(info.value)


def test_every_bad_setting_is_named(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MAX_SL_PCT", "abc")
    clean_env.setenv("MAX_LOTS", "many")
    message = str(error_of())
    assert "MAX_SL_PCT" in message and "MAX_LOTS" in message


def _full_text(err: BaseException) -> str:
    return str(err) + repr(err) + "".join(traceback.format_exception(err))


@pytest.mark.parametrize(
    ("env", "overrides"),
    [
        ({"MIN_ENTRY_PRICE": "400"}, {}),  # a cross-field (model-level) error
        ({"MAX_SL_PCT": "abc"}, {}),  # a field error
        ({}, {"max_ce_positions": 9}),
        ({}, {"unknown_setting": 1}),
        ({"MAX_LOTS": "x", "MIN_SL_PCT": "0.5"}, {}),
    ],
)
def test_api_key_never_appears_in_the_error(
    clean_env: pytest.MonkeyPatch, env: dict[str, str], overrides: dict[str, object]
) -> None:
    clean_env.setenv("OPENALGO_API_KEY", SECRET)
    for name, value in env.items():
        clean_env.setenv(name, value)
    err = error_of(**overrides)
    assert SECRET not in _full_text(err)
    assert "invalid settings" in str(err)


def test_api_key_from_env_file_never_appears_in_the_error(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env_file = tmp_path / "secret.env"
    env_file.write_text(f"OPENALGO_API_KEY={SECRET}\nMIN_ENTRY_PRICE=400\n", encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(env_file)
    assert "MIN_ENTRY_PRICE" in str(info.value)
    assert SECRET not in _full_text(info.value)


def test_bad_api_key_value_is_masked(clean_env: pytest.MonkeyPatch) -> None:
    err = error_of(openalgo_api_key=12345)
    assert "OPENALGO_API_KEY" in str(err)
    assert "12345" not in str(err)


def test_api_key_not_shown_by_settings_repr(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("OPENALGO_API_KEY", SECRET)
    s = load_settings(env_file=None)
    assert SECRET not in repr(s) and SECRET not in str(s)
