"""Verified prompt delivery: paste, submit, confirm, retry a bounded number of times.

Used by `agents send` and by every message the watchdog sends (nudges, pings, probes, wakes), so
a message is either delivered or reported as failed — never silently lost.

Confirmation: with the agent CLI's hooks wired, a message counts as delivered only when the CLI
fired UserPromptSubmit for it (its prompt's digest matches; `truth.hook_events.prompt_digest`
survives what the CLIs do to pasted text). Without hooks the screen is the fallback: the text
has left the input box.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent_orchestrator.config.schema import BackendConfig
from agent_orchestrator.runtime.observation import TmuxError
from agent_orchestrator.runtime.protocol import Runtime
from agent_orchestrator.screen.detect import input_content, is_pending
from agent_orchestrator.screen.patterns import NEVER, screen_patterns
from agent_orchestrator.transcripts.tail import tail
from agent_orchestrator.truth.hook_events import find_prompt, prompt_digest, read_events

CONFIRM_WAIT = 4.0  # seconds a submit waits for the CLI's UserPromptSubmit before trying again


@dataclass(frozen=True)
class DeliveryResult:
    """Outcome of one delivery: `ok`, how many submit keys were sent, why it failed, and what
    confirmed it (`confirmed_by`: "hook" — the CLI's UserPromptSubmit carried the text —,
    "screen" — the text left the input box —, or "" when not delivered); `prompt_id` is Claude
    Code's id of the accepted prompt ("" otherwise)."""

    ok: bool
    attempts: int
    reason: str = ""
    confirmed_by: str = ""
    prompt_id: str = ""


class HookConfirmation:
    """Watches an agent's hook event file for the UserPromptSubmit of one message.

    Created just before the paste: only events appended after that point count. `sleep` and
    `clock` (monotonic seconds) pace the wait. `refresh` (an agent on a [[host]]) brings the
    local copy of its hook file up to date before each look (runtime/mirror.py).
    """

    def __init__(self, path: Path, text: str, *, sleep: Callable[[float], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, refresh: Callable[[], None] | None = None) -> None:
        self.path = Path(path)
        self.digest = prompt_digest(text)
        self.sleep, self.clock = sleep or time.sleep, clock
        self.refresh = refresh
        try:
            self.offset = self.path.stat().st_size
        except OSError:
            self.offset = 0

    def wait(self, timeout: float) -> str | None:
        """Poll (every 0.1 s) up to `timeout` seconds; the prompt id ("" for Codex) once the CLI
        accepted the text, else None."""
        deadline = self.clock() + timeout
        while True:
            if self.refresh is not None:
                self.refresh()
            records, self.offset, _reset = tail(self.path, self.offset)
            found = find_prompt(read_events(records), self.digest)
            if found is not None:
                return str(found.data.get("prompt_id") or "")
            if self.clock() >= deadline:
                return None
            self.sleep(0.1)


def deliver(
    runtime: Runtime,
    session: str,
    text: str,
    backend: BackendConfig,
    *,
    attempts: int = 3,
    settle: float = 0.5,
    sleep: Callable[[float], None] | None = None,
    confirm: HookConfirmation | None = None,
) -> DeliveryResult:
    """Paste `text` into `session` and submit it with the backend's submit key.

    Refuses (ok=False, nothing typed) when the session is missing, its pane is dead, the agent
    exited back to a shell, or its screen shows no input box (when the backend's screen set has
    one: `input_re`). After each submit key it waits for confirmation — `confirm` (the CLI's
    UserPromptSubmit, up to CONFIRM_WAIT seconds), else the input line on screen after `settle` ×
    attempt seconds — and sends the submit key again (never the text) up to `attempts` times in
    all. `sleep` (seconds; default time.sleep) paces the waits. tmux failures are reported in the
    result, not raised.
    """
    patterns = screen_patterns(backend)
    sleep = sleep or time.sleep
    try:
        pane = runtime.observe().get(session)
        if pane is None:
            return DeliveryResult(False, 0, f"session {session} is not running")
        if pane.dead:
            return DeliveryResult(False, 0, f"the agent has exited (status {pane.dead_status}); restart it first")
        if pane.exited_to_shell(backend.process_name):
            return DeliveryResult(False, 0, f"the agent has exited to a shell ({pane.current_command}); not typing into it")
        screen = runtime.capture(session)
        if patterns.input_re != NEVER and input_content(screen, patterns) is None:
            # No input box drawn: a CLI still starting (or a dialog over it) drops what is typed,
            # and an empty screen would then "confirm" it. Seen in the chaos suite: a message
            # pasted into a Claude Code that took 8 s to start under load was lost.
            return DeliveryResult(False, 0, "no input box on screen yet (the CLI is starting, or a dialog covers it)")
        if not is_pending(screen, text, patterns):
            runtime.paste(session, text)  # a retry of a paste that is still in the box only submits it
            sleep(settle)
        for attempt in range(1, attempts + 1):
            runtime.send_key(session, backend.submit_key)
            if confirm is not None:
                prompt_id = confirm.wait(CONFIRM_WAIT * attempt / attempts + settle)
                if prompt_id is not None:
                    return DeliveryResult(True, attempt, confirmed_by="hook", prompt_id=prompt_id)
                if not is_pending(runtime.capture(session), text, patterns):
                    # Gone from the box but not accepted (yet): a busy CLI may hold it. Wait once more.
                    prompt_id = confirm.wait(CONFIRM_WAIT)
                    if prompt_id is not None:
                        return DeliveryResult(True, attempt, confirmed_by="hook", prompt_id=prompt_id)
                    return DeliveryResult(False, attempt, "the text left the input box but the CLI never accepted it "
                                                          "(no UserPromptSubmit)")
                continue
            sleep(settle * attempt)
            if not is_pending(runtime.capture(session), text, patterns):
                return DeliveryResult(True, attempt, confirmed_by="screen")
        return DeliveryResult(False, attempts, f"the text was pasted but still sits unsubmitted after {attempts} submit keys")
    except TmuxError as exc:
        return DeliveryResult(False, 0, str(exc))
