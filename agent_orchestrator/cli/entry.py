"""The `agents` entry point: `tokens --scan` on a short path, every other verb through the full app.

`tokens --scan` needs no config, tmux or watchdog, while importing the full command set (typer,
which imports pydantic, cli/app.py and everything its verbs use) costs ~0.25 s on a 2-core
machine — most of the time reading 300 MB of transcripts takes (BENCHMARKS.md). So the plain form,
`tokens --scan PATH… [--json]`, is parsed here with argparse and printed by the same function
the full app's `tokens` verb calls (`cli.scan.print_scan`); anything else (`--help`, another
option, a mistake) goes to the full app, which owns the messages.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def scan_args(args: list[str]) -> tuple[list[Path], bool] | None:
    """(paths, as_json) for a plain `tokens --scan PATH… [--json]`, else None.

    >>> scan_args(["tokens", "--scan", "a", "b", "--json"])
    ([PosixPath('a'), PosixPath('b')], True)
    >>> scan_args(["tokens", "--json"]), scan_args(["tokens", "--scan", "a", "--live"]), scan_args(["status"])
    (None, None, None)
    """
    if not args or args[0] != "tokens" or not any(a == "--scan" or a.startswith("--scan=") for a in args[1:]):
        return None
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False, exit_on_error=False)
    parser.add_argument("--scan", action="extend", nargs="+", type=Path, default=[])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("more", nargs="*", type=Path)
    try:
        parsed, unknown = parser.parse_known_args(args[1:])
    except argparse.ArgumentError:
        return None
    if unknown or not parsed.scan:
        return None
    return [*parsed.scan, *parsed.more], bool(parsed.json)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (`agents`, `python -m agent_orchestrator`, `./agents.py`)."""
    args = list(sys.argv[1:] if argv is None else argv)
    scan = scan_args(args)
    if scan is not None:
        from agent_orchestrator.cli.consoles import run_quietly_on_closed_pipe
        from agent_orchestrator.cli.scan import print_scan

        run_quietly_on_closed_pipe(lambda: print_scan(*scan))
        return
    try:
        from agent_orchestrator.cli.app import main as full
    except ModuleNotFoundError as exc:  # run by a Python without the dependencies (no .venv)
        if (exc.name or "").partition(".")[0] == "agent_orchestrator":
            raise
        from agent_orchestrator.bootstrap_hint import missing_dependency

        sys.stderr.write(missing_dependency(exc, "agents", Path(__file__).resolve().parents[2]) + "\n")
        sys.exit(1)
    full(args)
