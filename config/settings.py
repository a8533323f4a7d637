"""Every tunable number of the system, validated once at start.

One pydantic-settings model read from the environment and a ``.env`` file.
Each field documents its unit and the strategy.md section it comes from; the
``.env.example`` file at the project root lists the same names and defaults.
A bad value raises :class:`SettingsError` naming the setting, before any actor
starts.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names it."""


class Settings(BaseSettings):
    """All settings. Names are the environment variable names (upper case).

    Prices are rupees per contract, quantities contracts unless the name says
    lots, times are IST (Asia/Kolkata) wall-clock times.
    """

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=False,
        extra="forbid",
        frozen=True,
    )

    # --- OpenAlgo connection (openalgo.md) -----------------------------------
    openalgo_host: str = Field("http://127.0.0.1:5000", description="REST base URL")
    openalgo_ws_url: str = Field("ws://127.0.0.1:8765", description="market-data WebSocket URL")
    openalgo_api_key: SecretStr = Field(SecretStr(""), description="API key; required for live")
    strategy_name: str = Field("baseline_v1", min_length=1, description="OpenAlgo strategy tag")
    paper_trading: bool = Field(True, description="refuse to trade unless analyzer mode is on")
    http_connect_timeout: float = Field(3.0, gt=0, description="seconds to connect to OpenAlgo REST")
    http_read_timeout: float = Field(10.0, gt=0, description="seconds to wait for an OpenAlgo REST answer")
    feed_mute_seconds: float = Field(
        30.0, gt=0, description="real seconds without a tick during market hours before the WebSocket counts as dead"
    )

    # --- universe and session (strategy.md §1) -------------------------------
    underlying: str = "NIFTY"
    exchange: str = "NFO"
    product: str = "MIS"
    strike_step: int = Field(50, gt=0, description="points between strikes")
    strike_window: int = Field(10, ge=0, description="strikes each side of ATM")
    lot_size: int = Field(65, gt=0, description="contracts per lot; fallback and replay")
    tick_size: float = Field(0.05, gt=0, description="rupees")
    market_open: time = time(9, 15)
    market_close: time = time(15, 30)
    entry_start: time = time(9, 15)
    entry_end: time = time(15, 15)
    force_exit: time = time(15, 15)

    # --- bars (strategy.md §2) ------------------------------------------------
    bar_grace_seconds: float = Field(2.0, ge=0, description="seconds after the minute before a quiet bar closes")
    tick_max_ahead_seconds: float = Field(
        5.0,
        gt=0,
        description="a tick stamped further ahead of the clock than this cannot be real (dropped); real seconds:"
        " against a simulator's clock at X times real speed, X times as many simulated seconds",
    )

    # --- filters (strategy.md §4) ---------------------------------------------
    min_entry_price: float = Field(100.0, gt=0, description="rupees, stage 1")
    max_entry_price: float = Field(300.0, gt=0, description="rupees, stage 1")
    min_vwap_premium: float = Field(0.04, description="fraction, stage 1")
    sl_buffer: float = Field(1.0, ge=0, description="rupees above the highest high, stage 2")
    min_sl_pct: float = Field(0.02, ge=0, description="fraction, stage 2")
    max_sl_pct: float = Field(0.10, gt=0, description="fraction, stage 2")
    target_sl_points: float = Field(10.0, gt=0, description="rupees, stage 3 tie-break")
    r_value: float = Field(6500.0, gt=0, description="rupees of risk per position (1R)")
    max_lots: int = Field(10, gt=0, description="lots per position")

    # --- orders (strategy.md §5) ----------------------------------------------
    entry_limit_offset: float = Field(3.0, ge=0, description="rupees below the entry trigger")
    stop_limit_offset: float = Field(3.0, ge=0, description="rupees above the stop trigger")
    stop_attempts: int = Field(3, ge=1, description="protective-stop placements before MARKET exit")
    order_poll_seconds: float = Field(5.0, gt=0, description="order-book poll interval")

    # --- portfolio (strategy.md §6) -------------------------------------------
    max_positions: int = Field(5, ge=1)
    max_ce_positions: int = Field(3, ge=1)
    max_pe_positions: int = Field(3, ge=1)
    daily_target_r: float = Field(5.0, gt=0, description="R multiple; flatten and halt at or above")
    daily_stop_r: float = Field(-5.0, lt=0, description="R multiple; flatten and halt at or below")
    reconcile_seconds: float = Field(60.0, gt=0, description="position-book reconciliation interval")

    # --- broker calls (strategy.md §5, openalgo.md) ---------------------------
    broker_retries: int = Field(3, ge=1, description="attempts on transport errors, 5xx and 429")
    broker_retry_delay: float = Field(2.0, ge=0, description="seconds between attempts")

    # --- supervision ----------------------------------------------------------
    max_restarts: int = Field(3, ge=0, description="restarts of one actor within the window before Halt")
    restart_window_seconds: float = Field(60.0, gt=0)

    # --- persistence and logs -------------------------------------------------
    db_path: Path = Field(Path("journal.db"), description="SQLite journal for live trading")
    log_dir: Path = Field(Path("logs"), description="daily log files")
    record_feed: bool = Field(
        True, description="live: record every tick received to LOG_DIR/<strategy>_feed_<date>.jsonl (run.py replay reads it)"
    )
    log_level: str = Field("INFO", pattern=r"^(TRACE|DEBUG|INFO|SUCCESS|WARNING|ERROR|CRITICAL)$")
    telegram_username: str = Field(
        "", description="OpenAlgo user to alert through telegram/notify (empty: no Telegram alerts, the log only)"
    )
    kill_switch_file: Path = Field(
        Path("KILL_SWITCH"), description="a file here makes the running trader do what run.py stop does"
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> "Settings":
        if self.min_entry_price > self.max_entry_price:
            raise ValueError("MIN_ENTRY_PRICE must not exceed MAX_ENTRY_PRICE")
        if self.min_sl_pct > self.max_sl_pct:
            raise ValueError("MIN_SL_PCT must not exceed MAX_SL_PCT")
        if not self.market_open <= self.entry_start < self.entry_end <= self.market_close:
            raise ValueError("need MARKET_OPEN <= ENTRY_START < ENTRY_END <= MARKET_CLOSE")
        if not self.market_open < self.force_exit <= self.market_close:
            raise ValueError("need MARKET_OPEN < FORCE_EXIT <= MARKET_CLOSE")
        if self.max_ce_positions > self.max_positions or self.max_pe_positions > self.max_positions:
            raise ValueError("MAX_CE_POSITIONS and MAX_PE_POSITIONS must not exceed MAX_POSITIONS")
        return self

    def limit_for(self, option_type: str) -> int:
        """Per-type position limit (strategy.md §6) for ``"CE"`` or ``"PE"``."""
        return self.max_ce_positions if option_type == "CE" else self.max_pe_positions


def load_settings(env_file: str | Path | None = ".env", **overrides: object) -> Settings:
    """Read settings from the environment and ``env_file``, then apply overrides.

    Raises :class:`SettingsError` whose message names every bad setting.
    """
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]).upper() or "settings"
            if not err["loc"]:
                # a cross-field check: its input is every setting, the API key included
                problems.append(f"{name}: {err['msg']}")
                continue
            shown = "***" if "KEY" in name else repr(err.get("input"))
            problems.append(f"{name}: {err['msg']} (got {shown})")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems)) from None
