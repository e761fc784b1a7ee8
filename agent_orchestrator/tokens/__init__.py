"""Token accounting: the `Usage` type, the incremental transcript scanner and the ledger.

`usage.Usage` holds token counts in four buckets; `scanner.TranscriptScanner` reads what Claude
Code / Codex transcripts gained (their formats are in `transcripts.records`); the ledger
(`tokens/ledger.py`: per phase / gate records in ``token-log.jsonl``) consumes both.
"""

from __future__ import annotations

from agent_orchestrator.tokens.scanner import TranscriptScanner, scan_paths
from agent_orchestrator.tokens.usage import Usage, claude_usage, codex_usage

__all__ = [
    "TranscriptScanner",
    "Usage",
    "claude_usage",
    "codex_usage",
    "scan_paths",
]
