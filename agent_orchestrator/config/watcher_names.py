"""Names a `watcher = "..."` key may hold (no imports: config validation reads this)."""

from __future__ import annotations

import re

BUILTIN_WATCHERS = ("claims", "phases", "inboxes", "held", "issue-runs")
COMMAND = "command"
ISSUE_RUNS = "issue-runs"
# `package.module:factory` (dotted names on both sides).
_ENTRY_POINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def is_entry_point(value: str) -> bool:
    """True for a `module:factory` reference."""
    return bool(_ENTRY_POINT.match(value))
