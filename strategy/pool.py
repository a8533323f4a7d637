"""The candidate pool: one candidate per symbol, stages 1-3 (strategy.md §4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from config.settings import Settings
from messages.base import OptionType
from messages.signals import (
    CandidateDecided,
    EntryCandidate,
    RunningHighRaised,
    Signal,
    SwingDetected,
    SwingLowBroken,
)
from strategy.filters import Stage2, best_key, stage1_reason, stage2
from strategy.prices import floor_tick


@dataclass(slots=True)
class Candidate:
    """A swing LOW that passed stage 1 and is not broken."""

    symbol: str
    option_type: OptionType
    price: float
    bar_time: datetime
    vwap_at_swing: float
    highest_high: float
    evaluation: Stage2 | None = None


class CandidatePool:
    """Owns the candidates and decides the best CE and PE.

    Each ``on_*`` method applies one signal and returns the decisions it made
    (for the journal). :meth:`best` gives the current best of a type.
    """

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.candidates: dict[str, Candidate] = {}

    def on_signal(self, signal: Signal) -> list[CandidateDecided]:
        """Apply any signal of a :class:`strategy.symbol_engine.SymbolEngine`.

        A bar close changes no stage-2 input (trades are reported as they
        happen) and decides nothing.
        """
        if isinstance(signal, SwingDetected):
            return self.on_swing(signal)
        if isinstance(signal, RunningHighRaised):
            return self.on_high(signal)
        if isinstance(signal, SwingLowBroken):
            return self.on_break(signal)
        return []

    def on_swing(self, swing: SwingDetected) -> list[CandidateDecided]:
        """Stage 1 for a created or updated swing LOW; swing HIGHs are ignored."""
        if swing.swing_type != "LOW":
            return []
        reason = stage1_reason(swing.price, swing.vwap_at_swing, self.s)
        common = dict(
            time=swing.time,
            symbol=swing.symbol,
            option_type=swing.option_type,
            price=swing.price,
            vwap_at_swing=round(swing.vwap_at_swing, 4),
        )
        if reason:
            return [CandidateDecided(decision="rejected", reason=reason, **common)]
        decisions = []
        old = self.candidates.get(swing.symbol)
        if old is not None:
            decisions.append(_removed(old, "replaced", swing.time))
        cand = Candidate(
            swing.symbol, swing.option_type, swing.price, swing.bar_time, swing.vwap_at_swing, swing.highest_high
        )
        self.candidates[swing.symbol] = cand
        decisions.append(CandidateDecided(decision="added", **common))
        decisions.extend(self._evaluate(cand, swing.time))
        return decisions

    def on_high(self, raised: RunningHighRaised) -> list[CandidateDecided]:
        """Stage 2 again after a new running high of the symbol."""
        cand = self.candidates.get(raised.symbol)
        if cand is None:
            return []
        if raised.restart_for == cand.bar_time:
            cand.highest_high = raised.price
        elif raised.price > cand.highest_high:
            cand.highest_high = raised.price
        else:
            return []
        return self._evaluate(cand, raised.time)

    def on_break(self, broken: SwingLowBroken) -> list[CandidateDecided]:
        """Remove the symbol's candidate if it is the swing low that broke."""
        cand = self.candidates.get(broken.symbol)
        if cand is None or cand.bar_time != broken.swing_bar_time:
            return []
        del self.candidates[broken.symbol]
        return [_removed(cand, "broken", broken.time)]

    def end_session(self, now: datetime) -> list[CandidateDecided]:
        """Empty the pool at the session's end."""
        out = [_removed(c, "session_end", now) for c in sorted(self.candidates.values(), key=lambda c: c.symbol)]
        self.candidates.clear()
        return out

    def best(self, option_type: OptionType, skip: frozenset[str] = frozenset()) -> EntryCandidate | None:
        """Stage 3: the qualified candidate of the type closest to the target SL points.

        Candidates of the symbols in ``skip`` (those with an open position,
        strategy.md §4) stay in the pool but are not chosen.
        """
        s = self.s
        chosen: Candidate | None = None
        chosen_key = None
        for cand in self.candidates.values():
            ev = cand.evaluation
            if cand.option_type != option_type or ev is None or not ev.qualified or cand.symbol in skip:
                continue
            key = best_key(ev.sl_points, cand.price, cand.symbol, s)
            if chosen_key is None or key < chosen_key:
                chosen, chosen_key = cand, key
        if chosen is None:
            return None
        ev = chosen.evaluation
        assert ev is not None
        trigger = floor_tick(chosen.price - s.tick_size, s.tick_size)
        return EntryCandidate(
            symbol=chosen.symbol,
            option_type=chosen.option_type,
            swing_price=chosen.price,
            swing_bar_time=chosen.bar_time,
            highest_high=chosen.highest_high,
            sl_price=round(ev.sl_price, 2),
            sl_points=round(ev.sl_points, 2),
            lots=ev.lots,
            quantity=ev.quantity,
            trigger_price=trigger,
            limit_price=floor_tick(trigger - s.entry_limit_offset, s.tick_size),
        )

    def _evaluate(self, cand: Candidate, now: datetime) -> list[CandidateDecided]:
        before = cand.evaluation
        ev = stage2(cand.price, cand.highest_high, self.s)
        cand.evaluation = ev
        if before is not None and before.reason == ev.reason:
            return []
        return [
            CandidateDecided(
                time=now,
                symbol=cand.symbol,
                option_type=cand.option_type,
                decision="qualified" if ev.qualified else "disqualified",
                reason=ev.reason,
                price=cand.price,
                sl_price=round(ev.sl_price, 2),
                sl_pct=round(ev.sl_pct, 6),
                quantity=ev.quantity,
            )
        ]


def _removed(cand: Candidate, reason: str, now: datetime) -> CandidateDecided:
    """The decision that removes ``cand`` from the pool: it names that candidate's own price and VWAP."""
    return CandidateDecided(
        time=now,
        symbol=cand.symbol,
        option_type=cand.option_type,
        decision="removed",
        reason=reason,
        price=cand.price,
        vwap_at_swing=round(cand.vwap_at_swing, 4),
    )
