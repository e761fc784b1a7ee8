"""Rehearsal: a scripted model server so real agent CLIs (Claude Code, Codex) run offline.

``start_server(playbook, port=0, journal=None)`` returns a ``RunningServer`` (``.port``,
``.url``, ``.journal_entries()``, ``.stop()``; a context manager). Playbook format: see
``playbook``.
"""

from __future__ import annotations

from .playbook import Playbook, PlaybookError, Rule, load_playbook
from .server import RunningServer, start_server

__all__ = ["Playbook", "PlaybookError", "Rule", "RunningServer", "load_playbook", "start_server"]
