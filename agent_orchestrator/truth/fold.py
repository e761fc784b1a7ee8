"""Three witnesses → one verdict per agent, with its source (pure).

Order of trust: the CLI's hook events, then Claude Code's `sessions/<pid>.json` status, then
the screen. The screen still decides what only it can show — text typed into the input box, a
dialog (when no hook said a person is needed), and it refines an idle turn into
`waiting-until` (the agent's own marker) and a busy one into `retrying` (an automatic retry).
A witness that is silent (no hooks wired, no event yet in this run, no status file) is skipped.

Known gap, kept as a rule rather than a conflict: a Codex turn that dies on an API error fires
no hook (0.169.0 and 0.171.0), so a hook stream still saying "busy" gives way to a screen that
shows the final error. Two gaps between hooks and screen likewise: text still in the input box
less than `REDRAW_LAG` after the hooks saw a prompt accepted is that prompt before the redraw,
not unsubmitted input; and a permission prompt the hooks announced counts as answered once a
screen captured `ANSWER_LAG` after the last hook event shows the turn working with no dialog
(no hook fires between the answer and the tool's PostToolUse). When witnesses otherwise
disagree about busy vs idle, the more trusted one wins and the disagreement is recorded; once
it outlives `grace` seconds it is reported (once per episode) as a `truth-conflict`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from agent_orchestrator.screen.facts import ScreenFacts
from agent_orchestrator.truth.model import HookState, Source, Truth, Verdict

CONFLICT_GRACE = 10.0  # seconds two witnesses may disagree (a redraw lags a hook) before it is news
# Seconds a CLI may still show a prompt it accepted in its input box: it fires UserPromptSubmit
# before it clears the box (Claude Code 2.1.332: the text still there in a capture ~30 ms later).
REDRAW_LAG = 2.0
# Seconds after the last hook event from which a working screen with no dialog means that a
# permission prompt was answered: no hook fires between the answer and the tool's PostToolUse.
ANSWER_LAG = 2.0

_SCREEN: dict[str, Verdict] = {
    "idle": "idle", "done_idle": "idle", "waiting_until": "waiting-until", "busy": "busy",
    "rate_limited_retrying": "retrying", "api_error": "api-error", "unsubmitted_input": "unsubmitted",
    "dialog": "dialog", "exited_to_shell": "exited",
}
_STATUS: dict[str, Verdict] = {"busy": "busy", "idle": "idle", "waiting": "needs-input"}
_ACTIVE = frozenset({"busy", "retrying"})
_RESTING = frozenset({"idle", "waiting-until", "api-error"})


@dataclass(frozen=True)
class Witnesses:
    """What the three witnesses said this tick about one agent.

    `alive` False when the session is gone, the pane dead or back at a shell (then nothing else
    matters). `hooks` is None when the backend has no hooks wired, or no event of the current run
    has arrived yet. `status` is Claude Code's session status ("busy"/"idle"/"waiting") from a
    live pid, else None. `facts` are the latest screen facts. `stop_failure` says whether the
    CLI fires a hook when a turn ends on an API error (Claude: StopFailure; Codex: nothing).
    """

    alive: bool
    hooks: HookState | None = None
    status: str | None = None
    facts: ScreenFacts | None = None
    stop_failure: bool = True


def hook_verdict(h: HookState) -> tuple[Verdict, str]:
    """The hook stream's verdict and its detail."""
    if h.ended:
        return "exited", "SessionEnd"
    if h.needs_input:
        return "needs-input", h.needs_input
    if h.turn == "busy":
        return "busy", f"tool {h.tool} running" if h.tool else "turn running"
    if h.api_error:
        return "api-error", h.api_error
    if h.turn == "idle":
        return "idle", f"after {h.last_event}" if h.last_event else ""
    return "unknown", ""


def judge(w: Witnesses, now: float, previous: Truth | None = None, *, grace: float = CONFLICT_GRACE) -> Truth:
    """The verdict at `now` (epoch seconds); `previous` carries a running conflict forward."""
    if not w.alive:
        return Truth("exited", "pane", now if previous is None or previous.state != "exited" else previous.since)
    screen = _SCREEN.get(w.facts.state, "unknown") if w.facts is not None and w.facts.state else "unknown"
    status = _STATUS.get(w.status or "", "unknown")
    hook, hook_detail = hook_verdict(w.hooks) if w.hooks is not None else ("unknown", "")
    if hook == "needs-input" and w.hooks is not None and _answered(w):
        running = f"tool {w.hooks.tool} running" if w.hooks.tool else "turn running"
        hook, hook_detail = "busy", f"{running} (permission answered)"
    state, source, detail = _decide(hook, hook_detail, status, screen, w)
    conflict = _conflict(hook, status, screen, source)
    since = previous.since if previous is not None and previous.state == state and previous.since is not None else now
    truth = Truth(state, source, since, detail, "" if hook == "unknown" else hook, "" if status == "unknown" else status,
                  "" if screen == "unknown" else screen)
    if conflict:
        same = previous is not None and previous.conflict == conflict and previous.conflict_since is not None
        started = previous.conflict_since if same and previous is not None else now
        reported = bool(same and previous is not None and previous.conflict_reported)
        truth = replace(truth, conflict=conflict, conflict_since=started, conflict_reported=reported)
    return truth


def due_report(truth: Truth, now: float, grace: float = CONFLICT_GRACE) -> bool:
    """True when the truth's conflict has outlived `grace` and was not reported yet."""
    return bool(truth.conflict) and not truth.conflict_reported and truth.conflict_since is not None \
        and now - truth.conflict_since >= grace


def _accepted_input(w: Witnesses) -> bool:
    """The text in the input box is the prompt the hooks saw the CLI accept just before the
    capture (its redraw lags the UserPromptSubmit), not text waiting to be submitted."""
    if w.hooks is None or not w.hooks.prompts or w.facts is None:
        return False
    return w.facts.captured_at - w.hooks.prompts[-1].ts < REDRAW_LAG


def _answered(w: Witnesses) -> bool:
    """The permission prompt the hooks announced was answered: a screen captured `ANSWER_LAG`
    seconds or more after the last hook event shows the turn working with no dialog, and the
    session status (Claude Code) does not say it is waiting."""
    if w.hooks is None or w.hooks.last_event_at is None or w.facts is None or not w.facts.state:
        return False
    return _SCREEN.get(w.facts.state) == "busy" and w.status != "waiting" and \
        w.facts.captured_at - w.hooks.last_event_at >= ANSWER_LAG


def _decide(hook: Verdict, hook_detail: str, status: Verdict, screen: Verdict, w: Witnesses) -> tuple[Verdict, Source, str]:
    if screen == "unsubmitted" and not _accepted_input(w):
        return "unsubmitted", "screen", (w.facts.input if w.facts is not None else "")[:80]
    if hook == "needs-input":
        return "needs-input", "hook", hook_detail
    if status == "needs-input":
        return "needs-input", "status", "waiting for an answer"
    if screen == "dialog":
        return "dialog", "screen", (w.facts.dialog or "") if w.facts is not None else ""
    if hook == "exited":
        return "exited", "hook", hook_detail
    if hook != "unknown":
        if hook == "busy" and screen == "retrying":
            return "retrying", "screen", "automatic retry (the turn is still running)"
        if hook == "busy" and screen == "api-error" and not w.stop_failure:
            return "api-error", "screen", "the turn ended on an API error (no hook fires for it)"
        if hook == "idle" and screen == "waiting-until":
            return "waiting-until", "screen", "WAITING-UNTIL marker"
        return hook, "hook", hook_detail
    if status != "unknown":
        if status == "busy" and screen == "retrying":
            return "retrying", "screen", "automatic retry"
        if status == "idle" and screen in ("waiting-until", "api-error"):
            return screen, "screen", ""
        return status, "status", ""
    if screen != "unknown":
        return screen, "screen", ""
    return "unknown", "none", ""


def _conflict(hook: Verdict, status: Verdict, screen: Verdict, source: Source) -> str:
    """A busy-vs-resting disagreement between the chosen witness and a less trusted one."""
    chosen = hook if source == "hook" else status if source == "status" else None
    if chosen is None:
        return ""
    for name, other in (("status", status), ("screen", screen)):
        if name == source or other == "unknown":
            continue
        if (chosen in _ACTIVE and other in _RESTING) or (chosen in _RESTING and other in _ACTIVE):
            return f"{source} says {chosen}, {name} says {other}"
    return ""
