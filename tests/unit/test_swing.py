"""The watch-method swing detector (strategy.md §3).

Every expected event below was traced by hand from the rules in strategy.md,
bar by bar and j by j; the comments show the trace.
"""

from __future__ import annotations

from strategy.swing import SwingChange, SwingDetector

Bar3 = tuple[float, float, float]  # (H, L, C)


def run(bars: list[Bar3], det: SwingDetector | None = None) -> list[SwingChange | None]:
    det = det if det is not None else SwingDetector()
    return [det.on_bar(h, l, c) for h, l, c in bars]


def events(results: list[SwingChange | None]) -> dict[int, SwingChange]:
    return {i: r for i, r in enumerate(results) if r is not None}


def LOW(index: int, price: float, update: bool = False) -> SwingChange:
    return SwingChange("LOW", index, price, update)


def HIGH(index: int, price: float, update: bool = False) -> SwingChange:
    return SwingChange("HIGH", index, price, update)


# strategy.md §3 worked example
WORKED = [
    (210.0, 200.0, 204.0),  # 0
    (206.0, 196.0, 198.0),  # 1: LL+LC vs 0 -> high_watch[0] = 1
    (203.0, 193.0, 195.0),  # 2: high_watch[0] = 2 -> HIGH at bar 0, 210
    (208.0, 197.0, 206.0),  # 3: w = 1; low_watch[1] = low_watch[2] = 1
    (212.0, 205.0, 211.0),  # 4: low_watch[1] = 2 -> LOW at lowest low in [1, 4] = bar 2, 193
]

# First swing is a LOW (sequence used by several tests below)
UP = [
    (110.0, 100.0, 105.0),  # 0
    (112.0, 102.0, 108.0),  # 1: HH+HC vs 0 -> low_watch[0] = 1
    (115.0, 104.0, 112.0),  # 2: low_watch[0] = 2 -> LOW at lowest low in [0, 2] = bar 0, 100
]


def test_worked_example_exactly() -> None:
    det = SwingDetector()
    results = run(WORKED, det)
    assert results == [None, None, HIGH(0, 210.0), None, LOW(2, 193.0)]
    assert (det.swing_type, det.swing_index, det.swing_price) == ("LOW", 2, 193.0)


def test_worked_example_state_after_first_swing() -> None:
    det = SwingDetector()
    run(WORKED[:3], det)
    assert (det.swing_type, det.swing_index, det.swing_price) == ("HIGH", 0, 210.0)
    assert det.on_bar(*WORKED[3]) is None


def test_first_bar_never_makes_a_swing() -> None:
    assert SwingDetector().on_bar(100.0, 90.0, 95.0) is None


def test_first_swing_is_a_low() -> None:
    det = SwingDetector()
    assert run(UP, det) == [None, None, LOW(0, 100.0)]
    assert (det.swing_type, det.swing_index, det.swing_price) == ("LOW", 0, 100.0)


def test_higher_high_alone_or_higher_close_alone_counts_nothing() -> None:
    bars = [
        (110.0, 100.0, 105.0),
        (112.0, 101.0, 104.0),  # HH but lower close: no low_watch; L not lower: no high_watch
        (113.0, 102.0, 104.5),  # vs 0: HH, C 104.5 < 105; vs 1: HH+HC -> low_watch[1] = 1
        (109.0, 100.5, 106.0),  # vs 0: HC, H not higher; vs 1: HC, H not higher; vs 2: nothing
    ]
    assert run(bars) == [None, None, None, None]


def test_swing_low_update_to_strictly_lower_low() -> None:
    bars = UP + [
        # swing LOW at 0 (100); w = 1, counters reset
        (106.0, 96.0, 98.0),  # 3: LL+LC vs 1, 2 -> high_watch[1] = high_watch[2] = 1
        (109.0, 105.0, 107.0),  # 4: vs 1, 2 nothing; vs 3: HH+HC -> low_watch[3] = 1
        (110.0, 106.0, 109.0),  # 5: vs 1, 2 nothing; vs 3: low_watch[3] = 2 -> lowest in [1, 5] = bar 3, 96 < 100
    ]
    det = SwingDetector()
    assert events(run(bars, det)) == {2: LOW(0, 100.0), 5: LOW(3, 96.0, update=True)}
    assert (det.swing_type, det.swing_index, det.swing_price) == ("LOW", 3, 96.0)


def test_no_update_when_lowest_low_equals_swing_low() -> None:
    bars = UP + [
        (113.0, 100.0, 109.0),  # 3: vs 1: HH+HC -> low_watch[1] = 1; vs 2: LL+LC -> high_watch[2] = 1
        # 4: vs 1: low_watch[1] = 2 -> lowest in [1, 4] = bar 3, 100: not strictly lower -> no update, carry on;
        #    vs 2: L 104 not < 104; vs 3: HH+HC -> low_watch[3] = 1
        (114.0, 104.0, 110.0),
    ]
    det = SwingDetector()
    assert run(bars, det) == [None, None, LOW(0, 100.0), None, None]
    assert (det.swing_type, det.swing_index, det.swing_price) == ("LOW", 0, 100.0)


def test_failed_update_carries_on_with_next_j() -> None:
    bars = UP + [
        (113.0, 103.0, 110.0),  # 3: vs 1: HH+HC -> low_watch[1] = 1; vs 2: LL+LC -> high_watch[2] = 1
        # 4: vs 1: low_watch[1] = 2 -> lowest in [1, 4] = bar 1, 102 >= 100: no update, carry on;
        #    vs 2: LL+LC -> high_watch[2] = 2 -> HIGH at highest high in [1, 4] = bar 2, 115
        (114.0, 103.0, 111.0),
    ]
    assert run(bars) == [None, None, LOW(0, 100.0), None, HIGH(2, 115.0)]


def test_alternating_low_high_low_with_tie_to_earliest_bar() -> None:
    bars = UP + [
        (113.0, 103.0, 110.0),  # 3
        (114.0, 103.0, 111.0),  # 4: HIGH at bar 2, 115 (see above); w = 3, counters reset
        (116.0, 109.0, 115.0),  # 5: vs 3, 4: HH+HC -> low_watch[3] = low_watch[4] = 1
        # 6: vs 3: low_watch[3] = 2 -> LOW at lowest low in [3, 6]: bars 3 and 4 both 103 -> earliest, bar 3
        (117.0, 112.0, 116.0),
    ]
    det = SwingDetector()
    assert events(run(bars, det)) == {2: LOW(0, 100.0), 4: HIGH(2, 115.0), 6: LOW(3, 103.0)}
    assert (det.swing_type, det.swing_index, det.swing_price) == ("LOW", 3, 103.0)


def test_tie_for_first_swing_high_goes_to_earliest_bar() -> None:
    bars = [
        (210.0, 200.0, 204.0),  # 0
        (210.0, 196.0, 198.0),  # 1: LL+LC vs 0 -> high_watch[0] = 1
        (203.0, 193.0, 195.0),  # 2: high_watch[0] = 2 -> HIGH at highest in [0, 2]: bars 0 and 1 tie at 210 -> 0
    ]
    assert run(bars) == [None, None, HIGH(0, 210.0)]


def test_tie_for_first_swing_low_goes_to_earliest_bar() -> None:
    bars = [
        (110.0, 100.0, 105.0),  # 0
        (112.0, 100.0, 108.0),  # 1: HH+HC vs 0 -> low_watch[0] = 1
        (115.0, 104.0, 112.0),  # 2: low_watch[0] = 2 -> LOW at lowest in [0, 2]: 0 and 1 tie at 100 -> 0
    ]
    assert run(bars) == [None, None, LOW(0, 100.0)]


def test_reaches_two_means_at_least_two() -> None:
    bars = UP + [
        (113.0, 105.0, 110.0),  # 3: vs 1: HH+HC -> low_watch[1] = 1
        # 4: vs 1: low_watch[1] = 2 -> lowest in [1, 4] = 102, not < 100: no update; vs 3: low_watch[3] = 1
        (114.0, 106.0, 111.0),
        (108.0, 97.0, 99.0),  # 5: LL+LC vs 1, 2, 3, 4 -> high_watch[1..4] = 1 each
        # 6: vs 1: HH+HC -> low_watch[1] = 3 (>= 2) -> lowest in [1, 6] = bar 5, 97 < 100 -> update.
        #    (An "== 2" reading would find nothing on this bar: vs 2, 3, 4 no counter moves,
        #    vs 5 low_watch[5] = 1.)
        (113.0, 100.0, 113.0),
    ]
    det = SwingDetector()
    assert run(bars, det) == [None, None, LOW(0, 100.0), None, None, None, LOW(5, 97.0, update=True)]
    assert (det.swing_index, det.swing_price) == (5, 97.0)


def test_counters_reset_when_a_swing_is_created() -> None:
    bars = [
        (210.0, 200.0, 204.0),  # 0
        (205.0, 190.0, 195.0),  # 1: vs 0: LL+LC -> high_watch[0] = 1
        (207.0, 194.0, 205.0),  # 2: vs 0: nothing; vs 1: HH+HC -> low_watch[1] = 1
        (206.0, 193.0, 199.0),  # 3: vs 0: high_watch[0] = 2 -> HIGH at bar 0, 210; all counters reset
        # 4: w = 1; vs 1: HH+HC -> low_watch[1] = 1 (it would be 2 -> LOW, had the reset not happened);
        #    vs 2, 3: nothing
        (206.0, 196.0, 200.0),
        (208.0, 197.0, 202.0),  # 5: vs 1: low_watch[1] = 2 -> LOW at lowest in [1, 5] = bar 1, 190
    ]
    assert events(run(bars)) == {3: HIGH(0, 210.0), 5: LOW(1, 190.0)}


def test_update_keeps_counters_and_moves_window_start() -> None:
    bars = UP + [
        (106.0, 96.0, 98.0),  # 3: high_watch[1] = high_watch[2] = 1
        (109.0, 105.0, 107.0),  # 4: low_watch[3] = 1
        (106.0, 104.0, 105.0),  # 5: vs 1..3 nothing; vs 4: LL+LC -> high_watch[4] = 1
        # 6: vs 1, 2 nothing; vs 3: low_watch[3] = 2 -> lowest in [1, 6] = bar 3, 96 < 100 -> update; w = 4
        (108.0, 104.0, 106.0),
        # 7: vs 4: LL+LC -> high_watch[4] = 2 (kept through the update) -> HIGH at highest in [4, 7]
        #    = bar 4, 109 (a window still starting at 1 would give bar 2, 115); vs 5, 6 would count nothing
        (106.0, 104.0, 104.5),
    ]
    det = SwingDetector()
    assert events(run(bars, det)) == {2: LOW(0, 100.0), 6: LOW(3, 96.0, update=True), 7: HIGH(4, 109.0)}
    assert (det.swing_type, det.swing_index, det.swing_price) == ("HIGH", 4, 109.0)


def test_swing_high_update_to_strictly_higher_high() -> None:
    bars = WORKED[:3] + [
        # swing HIGH at 0 (210); w = 1
        (215.0, 190.0, 192.0),  # 3: LL+LC vs 1, 2 -> high_watch[1] = high_watch[2] = 1
        (200.0, 189.0, 191.0),  # 4: vs 1: high_watch[1] = 2 -> highest in [1, 4] = bar 3, 215 > 210 -> update
    ]
    det = SwingDetector()
    assert events(run(bars, det)) == {2: HIGH(0, 210.0), 4: HIGH(3, 215.0, update=True)}
    assert (det.swing_type, det.swing_index, det.swing_price) == ("HIGH", 3, 215.0)


def test_no_high_update_when_highest_high_equals_swing_high() -> None:
    bars = WORKED[:3] + [
        (210.0, 190.0, 192.0),  # 3: LL+LC vs 1, 2 -> high_watch[1] = high_watch[2] = 1
        # 4: vs 1: high_watch[1] = 2 -> highest in [1, 4] = bar 3, 210: not strictly higher, carry on;
        #    vs 2: the same; vs 3: LL+LC -> high_watch[3] = 1
        (200.0, 189.0, 191.0),
    ]
    det = SwingDetector()
    assert events(run(bars, det)) == {2: HIGH(0, 210.0)}
    assert (det.swing_type, det.swing_index, det.swing_price) == ("HIGH", 0, 210.0)


def test_failed_high_update_carries_on_with_next_j() -> None:
    bars = WORKED[:3] + [
        # swing HIGH at 0 (210); w = 1
        (204.0, 195.0, 196.0),  # 3: vs 1: LL+LC -> high_watch[1] = 1; vs 2: HH+HC -> low_watch[2] = 1
        # 4: vs 1: high_watch[1] = 2 -> highest in [1, 4] = bar 1, 206 <= 210: no update, carry on;
        #    vs 2: HH+HC -> low_watch[2] = 2 -> LOW at lowest low in [1, 4] = bar 2, 193
        (205.0, 194.0, 197.0),
    ]
    assert events(run(bars)) == {2: HIGH(0, 210.0), 4: LOW(2, 193.0)}


def test_at_most_one_swing_event_per_bar() -> None:
    bars = [
        (110.0, 100.0, 105.0),  # 0
        (120.0, 99.0, 115.0),  # 1: vs 0: HH+HC -> low_watch[0] = 1
        (109.0, 98.0, 106.0),  # 2: vs 0: nothing; vs 1: LL+LC -> high_watch[1] = 1
        # 3: vs 0: HH+HC -> low_watch[0] = 2 -> LOW at lowest in [0, 3] = bar 3 itself, 97; stop.
        #    (vs 1 would also be LL+LC -> high_watch[1] = 2 -> a HIGH at bar 1, 120, had it carried on.)
        (112.0, 97.0, 110.0),
    ]
    det = SwingDetector()
    assert run(bars, det) == [None, None, None, LOW(3, 97.0)]
    assert (det.swing_type, det.swing_index, det.swing_price) == ("LOW", 3, 97.0)


def test_bars_are_recorded() -> None:
    det = SwingDetector()
    run(WORKED, det)
    assert det.highs == [210.0, 206.0, 203.0, 208.0, 212.0]
    assert det.lows == [200.0, 196.0, 193.0, 197.0, 205.0]
    assert det.closes == [204.0, 198.0, 195.0, 206.0, 211.0]
