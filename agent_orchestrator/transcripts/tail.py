"""Reading JSON-lines files that other processes append to (events, decisions)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def tail(path: Path, offset: int) -> tuple[list[dict[str, Any]], int, bool]:
    """The complete records appended to `path` since byte `offset`.

    Returns (records, new offset, reset). A torn last line is left for the next call; lines that
    are not JSON objects are skipped. `reset` is True when the file shrank below `offset`
    (truncated or replaced): it was read again from the start, so the caller drops what it built.
    A missing file gives ([], offset, False).
    """
    reset = False
    try:
        with Path(path).open("rb") as fh:
            if offset > fh.seek(0, 2):
                offset, reset = 0, True
            fh.seek(offset)
            data = fh.read()
    except FileNotFoundError:
        return [], offset, False
    end = data.rfind(b"\n")
    if end < 0:
        return [], offset, reset
    records = []
    for line in data[: end + 1].splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records, offset + end + 1, reset
