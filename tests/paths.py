"""Where the shared recorded data lives (``../shared/data`` from the project root; never copied in)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT.parent / "shared" / "data"
DAY_0611 = DATA_DIR / "nifty_options_2021-06-11.csv.gz"
DAY_0614 = DATA_DIR / "nifty_options_2021-06-14.csv.gz"
