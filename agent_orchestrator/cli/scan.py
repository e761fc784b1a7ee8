"""`agents tokens --scan PATH…`: per-session token sums straight from transcript files.

Kept free of typer and of the config/runtime so cli/entry.py can run it without importing the
full CLI (see there for why).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from agent_orchestrator.cli.consoles import err, out
from agent_orchestrator.tokens import scan_paths

EXIT_USAGE = 2


def print_scan(paths: list[Path], as_json: bool) -> None:
    """Sum the transcripts under `paths` (files or folders; Claude Code and Codex JSONL) per
    session and print a table, or JSON `{"sessions": {id: usage}, "total": usage | null}` with
    usage fields in tokens. A missing path: one line on stderr, exit 2 (SystemExit)."""
    try:
        sessions = scan_paths(paths)
    except FileNotFoundError as exc:
        err.print(str(exc), markup=False)
        raise SystemExit(EXIT_USAGE) from None
    if as_json:
        total = sum(sessions.values(), start=type(next(iter(sessions.values())))()) if sessions else None
        payload = {"sessions": {k: v.to_dict() for k, v in sessions.items()}, "total": total.to_dict() if total else None}
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")  # rich's print_json takes ~1 s for 3,000 sessions; this ~1 ms
    else:
        from agent_orchestrator.cli.render import scan_table

        out.print(scan_table(sessions))
