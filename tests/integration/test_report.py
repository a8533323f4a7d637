"""run.py report on a replayed day: a PNG and a self-contained HTML page, from what the journal holds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from persistence.journal_store import JournalStore
from report.session import build_report
from run import main
from tests.paths import DATA_DIR

pytestmark = pytest.mark.integration

DAY = DATA_DIR / "nifty_options_2024-07-24.csv.gz"


def test_report_of_a_replayed_day_writes_both_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "replay.db"
    assert main(["replay", str(DAY), "--lot-size", "25", "--db", str(db)]) == 0
    table = capsys.readouterr().out
    trades = [line.split()[0] for line in table.splitlines() if line.startswith("NIFTY")]
    assert len(trades) >= 2, "the day must trade"

    assert main(["report", "--db", str(db), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    png = tmp_path / "out" / "baseline_v1_report_2024-07-24.png"
    page = png.with_suffix(".html")
    assert str(png) in printed and str(page) in printed
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = page.read_text()
    assert "data:image/png;base64," in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "self-contained: nothing fetched from elsewhere"
    for symbol in trades:
        assert symbol in html
    net = re.search(r"net R ([+-]\d+\.\d\d)", table).group(1)
    assert f"net {net}R" in printed and f"net {net}R" in html

    # what the charts are drawn from: every traded strike's bars, swing lows, triggers, stops and fills
    with JournalStore(db) as store:
        import datetime as dt

        report = build_report(store, dt.date(2024, 7, 24), dt.time(9, 15), dt.time(15, 30))
    assert [c.symbol for c in report.charts] == list(dict.fromkeys(trades))
    for chart in report.charts:
        assert len(chart.bars) == 375, "each minute of the day, the last one closed by the close"
        assert chart.swing_lows and chart.fills
        assert {level.role for level in chart.levels} == {"entry", "stop"}
    assert report.curve[-1][1] == pytest.approx(float(net), abs=0.01)
    assert report.end.time() == dt.time(15, 30), "the curve runs to the end of the day's data, not the last trade"


def test_report_without_a_journal_or_a_session_is_a_clear_error(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert main(["report", "--db", str(tmp_path / "none.db")]) == 2
    assert "no journal at --db" in capsys.readouterr().err
    JournalStore(tmp_path / "empty.db").close()
    assert main(["report", "--db", str(tmp_path / "empty.db")]) == 2
    assert "holds no session" in capsys.readouterr().err
    assert main(["report", "2024-07-25", "--db", str(tmp_path / "empty.db")]) == 2
    assert "2024-07-25: the journal" in capsys.readouterr().err
