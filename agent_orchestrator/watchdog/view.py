"""Read-only views of the watchdog's state for `status` and other verbs (no lock needed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_orchestrator.runtime.launcher import supervision
from agent_orchestrator.truth.model import Truth
from agent_orchestrator.watchdog.events import iso
from agent_orchestrator.watchdog.state import AgentState, load_state


@dataclass(frozen=True)
class Held:
    """A state the watchdog holds an agent in, with a human detail."""

    state: str
    detail: str


def held_states(log_dir: Path) -> dict[str, Held]:
    """Agents the watchdog holds: needs-human (restart storm), limited (usage limit), paused."""
    out: dict[str, Held] = {}
    for name, st in load_state(log_dir).agents.items():
        if st.needs_human:
            out[name] = Held("needs-human", st.needs_human)
        elif st.limit is not None:
            out[name] = Held("limited", f"quiet until {iso(st.limit.until)}")
        elif st.paused:
            out[name] = Held("paused", "paused by the operator")
    return out


def watchdog_info(log_dir: Path, session: str = "") -> dict[str, Any]:
    """`last_tick` (epoch), `pid` and `config_error` ("" when the config validates) of the last
    tick; with the watchdog's `session`, also `supervision`: its launcher's restart record
    (`restarts`, `last_exit`, `last_restart` epoch, `state` running|crash-loop; runtime/launcher.py)
    or None when it was never restarted."""
    state = load_state(log_dir)
    info: dict[str, Any] = {"last_tick": state.last_tick, "pid": state.pid, "config_error": state.config_error}
    if session:
        info["supervision"] = supervision(Path(log_dir) / "launch", session)
    return info


def supervision_note(info: dict[str, Any], now: float) -> str:
    """One `status` line about the watchdog's restarts by its launcher, or "" when there were none."""
    record = info.get("supervision")
    if not isinstance(record, dict):
        return ""
    last = record.get("last_restart")
    when = f", the last {_ago(now, float(last))} ago" if isinstance(last, (int, float)) else ""
    if record.get("state") == "crash-loop":
        return (f"watchdog: crash-loop — {record.get('detail', 'too many crashes')}, last exit {record.get('last_exit')}; "
                "see `agents logs watchdog`, then `agents up` starts it again")
    return f"watchdog: restarted {record.get('restarts', 0)}× by its launcher (last exit {record.get('last_exit')}){when}"


@dataclass(frozen=True)
class Queued:
    """One message in an agent's outbox as `status` shows it.

    `kind` (ping, nudge, probe, wake, send, flag, fix, reannounce); `state` queued | sending |
    in-cli (`watchdog.state.Message`); `age_s` seconds since it was queued; `attempts` failed
    hand-overs so far; `waiting` why it has not gone yet, in words; `person` is set when it waits
    for something only a person can clear (text typed in the input box, a question on screen);
    `merged` how many pings it lists (0 or 1 when it is a single message)."""

    id: str
    kind: str
    state: str
    age_s: float
    attempts: int
    waiting: str
    reason: str
    merged: int = 0
    person: bool = False

    def to_dict(self) -> dict[str, object]:
        """The message as JSON-ready facts (`status --json`)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


# Holds a person can clear; a busy turn, a retry or a usage limit clear by themselves.
_FOR_A_PERSON = ("unsubmitted text", "needs-input", "dialog")


def queued(st: AgentState, now: float) -> list[Queued]:
    """The agent's outbox, oldest first (the first is the only one that can go next), as `Queued`."""
    out = []
    for i, m in enumerate(st.outbox):
        if m.state == "sending":
            waiting = "being handed to the agent now"
        elif m.state == "in-cli":
            waiting = f"in the CLI's own queue since {_ago(now, m.sent_at)} ago: done when the CLI accepts it"
        elif i > 0:
            waiting = "behind the message before it (one at a time)"
        elif m.held:
            waiting = m.held
        elif m.next_try > now:
            waiting = f"retry in {_ago(m.next_try, now)}" + (f" (last try: {m.last_error})" if m.last_error else "")
        else:
            waiting = "goes at the next tick"
        person = i == 0 and m.state == "queued" and any(word in m.held for word in _FOR_A_PERSON)
        out.append(Queued(m.id, m.kind, m.state, round(max(0.0, now - m.created), 1), m.attempts, waiting, m.reason,
                          len(m.items) if len(m.items) > 1 else 0, person))
    return out


def outboxes(log_dir: Path, now: float) -> dict[str, list[Queued]]:
    """Every agent's waiting messages (agents with none left out), from the saved state."""
    return {name: q for name, st in load_state(log_dir).agents.items() if (q := queued(st, now))}


def truths(log_dir: Path) -> dict[str, Truth]:
    """The watchdog's last verdict per agent (`state·source`), from its saved state."""
    return {name: st.truth for name, st in load_state(log_dir).agents.items() if st.truth is not None}


def explain(log_dir: Path, name: str, now: float) -> list[str]:
    """Why the watchdog sees agent `name` as it does: the verdict, then what each witness said
    and when (lines for `status --why`)."""
    state = load_state(log_dir)
    st = state.agents.get(name)
    if st is None:
        return [f"{name}: the watchdog has not observed it yet"]
    lines = []
    truth = st.truth
    if truth is None:
        lines.append(f"{name}: no verdict yet")
    else:
        since = f" for {_ago(now, truth.since)}" if truth.since is not None else ""
        lines.append(f"{name}: {truth.label}{since}" + (f" — {truth.detail}" if truth.detail else ""))
    h = st.hooks
    if h.last_event_at is not None:
        turn = {"busy": "a turn is running", "idle": "between turns"}.get(h.turn, "no turn seen")
        extra = "; ".join(x for x in (f"tool {h.tool}" if h.tool else "", h.needs_input, f"api error {h.api_error}" if h.api_error else "",
                                      "session ended" if h.ended else "") if x)
        lines.append(f"  hook:   {h.last_event} {_ago(now, h.last_event_at)} ago; {turn}" + (f" ({extra})" if extra else ""))
        if h.prompts:
            lines.append(f"          last prompt accepted {_ago(now, h.prompts[-1].ts)} ago" +
                         (f" (prompt_id {h.prompts[-1].prompt_id})" if h.prompts[-1].prompt_id else ""))
    else:
        lines.append("  hook:   no event (hooks not wired for its backend, or nothing since its start)")
    lines.append(f"  status: {truth.status if truth is not None and truth.status else 'no status file (not Claude Code, or not started)'}")
    facts = st.facts
    if facts is not None:
        extra = "; ".join(x for x in (f"dialog {facts.dialog}" if facts.dialog else "", f"input {facts.input[:40]!r}" if facts.input else "",
                                      f"limit banner {facts.limit_banner!r}" if facts.limit_banner else "") if x)
        lines.append(f"  screen: {facts.state or 'unread'} (captured {_ago(now, facts.captured_at)} ago)" + (f"; {extra}" if extra else ""))
    else:
        lines.append("  screen: not captured yet")
    if st.idle_since is not None:
        lines.append(f"  idle clock: {_ago(now, st.idle_since)} since the last change")
    if truth is not None and truth.conflict:
        reported = "reported" if truth.conflict_reported else "within the grace"
        lines.append(f"  conflict: {truth.conflict} (for {_ago(now, truth.conflict_since or now)}, {reported})")
    messages = queued(st, now)
    lines.append(f"  outbox: {len(messages)} message{'s' if len(messages) != 1 else ''} waiting" if messages else "  outbox: empty")
    for i, q in enumerate(messages, 1):
        merged = f", {q.merged} merged" if q.merged else ""
        lines.append(f"    {i}. {q.kind} ({q.reason}{merged}): {q.state} for {_ago(now, now - q.age_s)}, "
                     f"{q.attempts} failed attempt{'s' if q.attempts != 1 else ''} — {q.waiting}")
    return lines


def _ago(now: float, then: float | None) -> str:
    if then is None:
        return "?"
    seconds = max(0.0, now - then)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
