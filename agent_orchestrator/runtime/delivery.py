"""Verified prompt delivery: paste, submit, check it left the input box, retry a bounded number of times.

Used by `agents send` and by every message the watchdog sends (nudges, pings, probes, wakes), so
a message is either delivered or reported as failed — never silently lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from agent_orchestrator.screen.patterns import screen_patterns
from agent_orchestrator.config.schema import BackendConfig
from agent_orchestrator.screen.detect import is_pending
from agent_orchestrator.runtime.observation import TmuxError
from agent_orchestrator.runtime.protocol import Runtime



@dataclass(frozen=True)
class DeliveryResult:
    """Outcome of one delivery: `ok`, how many submit keys were sent, and why it failed."""

    ok: bool
    attempts: int
    reason: str = ""


def deliver(
    runtime: Runtime,
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
        if not is_pending(runtime.capture(session), text, screen_patterns(backend)):
            runtime.paste(session, text)  # a retry of a paste that is still in the box only submits it
            sleep(settle)
        for attempt in range(1, attempts + 1):
            runtime.send_key(session, backend.submit_key)
            sleep(settle * attempt)
            screen = runtime.capture(session)
            if not is_pending(screen, text, screen_patterns(backend)):
                return DeliveryResult(True, attempt)
        return DeliveryResult(False, attempts, f"the text was pasted but still sits unsubmitted after {attempts} submit keys")
    except TmuxError as exc:
        return DeliveryResult(False, 0, str(exc))
