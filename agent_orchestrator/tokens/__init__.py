"""Token accounting inputs: the `Usage` type and incremental transcript readers.

The ledger (per phase / gate records) lives elsewhere and consumes these.
"""

from __future__ import annotations

from agent_orchestrator.tokens.scanner import (
    TranscriptScanner,
    claude_project_dir,
    claude_slug,
    detect_kind,
    scan_paths,
)
from agent_orchestrator.tokens.usage import Usage, claude_usage, codex_usage

__all__ = [
    "TranscriptScanner",
    "Usage",
    "claude_project_dir",
    "claude_slug",
    "claude_usage",
    "codex_usage",
    "detect_kind",
    "scan_paths",
]
