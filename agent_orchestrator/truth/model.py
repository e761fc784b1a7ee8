"""The witnesses' data: hook events as recorded, the folded hook state, and the verdict."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Verdict = Literal["busy", "idle", "waiting-until", "needs-input", "api-error", "retrying", "unsubmitted", "dialog",
                  "exited", "unknown"]
Source = Literal["hook", "status", "screen", "pane", "none"]


@dataclass(frozen=True)
class HookEvent:
    """One line of `<log_dir>/hooks/<agent>.jsonl`: `ts` (epoch seconds, from the hook's own
    clock), the `event` name the CLI fired and the JSON `data` it gave the hook on stdin."""

    ts: float
    event: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PromptSeen:
    """A prompt the CLI accepted (UserPromptSubmit): `digest` of its normalised text (see
    `truth.hook_events.prompt_digest`), Claude's `prompt_id` ("" for Codex) and `ts` (epoch)."""

    digest: str
    prompt_id: str
    ts: float


@dataclass(frozen=True)
class HookState:
    """What the hook events of an agent's current CLI session say (epoch seconds throughout).

    `offset` is how many bytes of the event file are folded in; `turn` is "busy" (a prompt was
    accepted, no turn end yet), "idle" (the turn ended, or the session started) or "" (nothing
    seen); `tool` the tool running now; `needs_input` why a person must answer (a permission
    prompt); `api_error` the error type of a turn that ended on an API error (Claude's
    StopFailure: rate_limit, server_error, authentication_failed, …); `ended` after SessionEnd;
    `prompts` the last prompts accepted (newest last).
    """

    offset: int = 0
    session: str = ""
    turn: str = ""
    turn_since: float | None = None
    tool: str = ""
    needs_input: str = ""
    api_error: str = ""
    ended: bool = False
    last_event: str = ""
    last_event_at: float | None = None
    prompts: tuple[PromptSeen, ...] = ()


@dataclass(frozen=True)
class Truth:
    """The verdict on an agent: `state` and the witness it came from (`source`), since when
    (`since`, epoch), and what each witness said (`hook`, `status`, `screen`; "" when silent),
    for `status --why`. `conflict` names a disagreement between witnesses and `conflict_since`
    when it began (a `truth-conflict` event is logged once it outlives the grace)."""

    state: Verdict = "unknown"
    source: Source = "none"
    since: float | None = None
    detail: str = ""
    hook: str = ""
    status: str = ""
    screen: str = ""
    conflict: str = ""
    conflict_since: float | None = None
    conflict_reported: bool = False

    @property
    def label(self) -> str:
        """`state·source` as `status` shows it (e.g. `busy·hook`)."""
        return f"{self.state}·{self.source}" if self.source != "none" else self.state
