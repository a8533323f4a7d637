"""Command line of the NIFTY options trader.

    python run.py replay FILE [FILE ...] [--events PATH] [--db PATH] [--lot-size N]

``python run.py --help`` lists every command; each has its own ``--help``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from config.logging import setup_logging
from config.settings import SettingsError, load_settings


def _replay(args: argparse.Namespace) -> int:
    from replay.data import ReplayDataError
    from replay.driver import replay_files
    from replay.report import render

    overrides = {"lot_size": args.lot_size} if args.lot_size is not None else {}
    settings = load_settings(args.env_file, **overrides)
    setup_logging(args.log_level or "WARNING")
    db = args.db or ":memory:"
    if args.db and Path(args.db).exists():
        print(f"error: journal {args.db} already exists; choose another --db or delete it", file=sys.stderr)
        return 2
    try:
        results = replay_files([Path(p) for p in args.files], settings, args.events, db)
    except ReplayDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(render(results))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="baseline_v1 swing-break trader for NIFTY options, on OpenAlgo.",
    )
    parser.add_argument("--env-file", default=".env", help="settings file (default: .env; environment wins)")
    parser.add_argument("--log-level", default=None, help="TRACE, DEBUG, INFO, WARNING, ERROR (default per command)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    replay = commands.add_parser(
        "replay",
        help="replay recorded session files through the actor graph with a simulated broker",
        description="Replay recorded 1-minute bar files (one session per file) and print the trades.",
    )
    replay.add_argument("files", nargs="+", metavar="FILE", help="CSV(.gz) with timestamp,symbol,open,high,low,close,volume,oi")
    replay.add_argument("--events", type=Path, default=None, metavar="PATH", help="write the event log (JSON Lines) here")
    replay.add_argument("--db", default=None, metavar="PATH", help="write the SQLite journal here (new file; default: in memory)")
    replay.add_argument("--lot-size", type=int, default=None, metavar="N", help="contracts per lot (the 2021 files: 75)")
    replay.set_defaults(func=_replay)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
