#!/usr/bin/env python3
"""A command watcher's drain: print each open ticket of a folder as one JSON line.

A ticket is `<folder>/<ID>.md` whose first `state:` line says where it is (open, in-progress,
review, done). `changed_at` is when the ticket file last changed; `activity_at` is when its work
log `<ID>.log` last grew (anyone working the ticket appends to it), so a ticket that is being
worked on is not flagged. Done tickets are not printed: they are not watched.

    python3 tickets.py queue
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(folder: str = "queue") -> int:
    for ticket in sorted(Path(folder).glob("*.md")):
        text = ticket.read_text(encoding="utf-8")
        state = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.lower().startswith("state:")), "open")
        if state == "done":
            continue
        title = next((line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#")), ticket.stem)
        entity = {"id": ticket.stem, "state": state, "changed_at": ticket.stat().st_mtime, "summary": f"{ticket.stem} ({state}): {title}"}
        log = ticket.with_suffix(".log")
        if log.exists():
            entity["activity_at"] = log.stat().st_mtime
        print(json.dumps(entity))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
