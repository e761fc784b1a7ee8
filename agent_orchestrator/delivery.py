"""Verified prompt delivery: paste, submit, check it left the input box, retry a bounded number of times.

Used by `agents send` and by every message the watchdog sends (nudges, pings, probes, wakes), so
a message is either delivered or reported as failed — never silently lost.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from agent_orchestrator.config.schema import BackendConfig
from agent_orchestrator.tmux import TmuxError, TmuxRuntime

_COLLAPSED = re.compile(r"\[Pasted (text|Content) ")


@dataclass(frozen=True)
class DeliveryResult:
    """Outcome of one delivery: `ok`, how many submit keys were sent, and why it failed."""

    ok: bool
    attempts: int
    reason: str = ""


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _norm(text: str) -> str:
    return " ".join(text.split())


def pending_input(screen: Sequence[str], text: str, input_re: str) -> bool:
    """True when `text` still sits unsubmitted in the input line of `screen`.

    The input line is the bottom-most line matching `input_re` (group 1 = its content). It is
    pending when that content is a collapsed paste marker (`[Pasted text #1 +24 lines]` in Claude
    Code 2.1.x, `[Pasted Content 2187 chars]` in Codex 0.169) or starts like the text's first
    non-empty line (compared whitespace-normalised, so a wrapped line still counts). Without an
    `input_re` nothing can be checked and the text counts as submitted.
    """
    if not input_re:
        return False
    pattern = _compiled(input_re)
    content = None
    for line in reversed(screen):
        m = pattern.search(line)
        if m:
            content = _norm(m.group(1) if m.groups() else "")
            break
    if not content:
        return False
    if _COLLAPSED.search(content):
        return True
    first = next((_norm(line) for line in text.splitlines() if line.strip()), "")
    if not first:
        return False
    probe = min(len(first), len(content), 40)
    return content[:probe] == first[:probe]


def deliver(
    runtime: TmuxRuntime,
    session: str,
    text: str,
    backend: BackendConfig,
    *,
    attempts: int = 3,
    settle: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryResult:
    """Paste `text` into `session` and submit it with the backend's submit key.

    Refuses (ok=False, nothing typed) when the session is missing, its pane is dead, or the agent
    exited back to a shell. After each submit key it waits `settle` × attempt seconds and checks
    the input line; it sends the submit key again up to `attempts` times in all. tmux failures
    are reported in the result, not raised.
    """
    try:
        pane = runtime.observe().get(session)
        if pane is None:
            return DeliveryResult(False, 0, f"session {session} is not running")
        if pane.dead:
            return DeliveryResult(False, 0, f"the agent has exited (status {pane.dead_status}); restart it first")
        if pane.exited_to_shell(backend.process_name):
            return DeliveryResult(False, 0, f"the agent has exited to a shell ({pane.current_command}); not typing into it")
        runtime.paste(session, text)
        sleep(settle)
        for attempt in range(1, attempts + 1):
            runtime.send_key(session, backend.submit_key)
            sleep(settle * attempt)
            screen = runtime.capture(session)
            if not pending_input(screen, text, backend.input_re):
                return DeliveryResult(True, attempt)
        return DeliveryResult(False, attempts, f"the text was pasted but still sits unsubmitted after {attempts} submit keys")
    except TmuxError as exc:
        return DeliveryResult(False, 0, str(exc))
