"""Git handoff (signal tick): ping agents when claims, reviews and inbox changes are pushed.

Edge-triggered on the origin/main head (the last head seen is persisted): the subjects of the
new commits are matched against `claim_pattern` / `review_pattern` (case-insensitive,
multiline) and every agent in `claim_pings` / `review_pings` gets one message per tick naming
the commits. A pushed change of an inbox file pings its agent. A rewritten (force-pushed)
history re-baselines without re-pinging old claims. It also tracks the gate in flight (the label
of the latest claim) for per-gate token records. Nothing happens after SEQUENCE-COMPLETE.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import lru_cache

from agent_orchestrator.handoff.markers import claim_label
from agent_orchestrator.watchdog.model import Action, CommitView, GateChange, Note, Send, Step, Tick


@lru_cache(maxsize=32)
def _pattern(regex: str) -> re.Pattern[str]:
    return re.compile(regex, re.IGNORECASE | re.MULTILINE)


def ping_text(kind: str, commits: list[CommitView]) -> str:
    """The message an agent gets for new claim / review commits, or an inbox change."""
    listed = "; ".join(f"{c.sha[:8]} {c.subject}" for c in commits)
    if kind == "claim":
        return (f"Watchdog: new claim on origin/main: {listed}. git pull, review the claimed gate "
                f"(run the tests yourself), then commit and push your verdict as review(<gate>): PASS or FAIL — <reason>.")
    return f"Watchdog: new review on origin/main: {listed}. git pull, read the verdict and act on it (fix a FAIL, move on after a PASS)."


def inbox_text(path: str) -> str:
    """The ping for a changed inbox file."""
    return f"Watchdog: your inbox {path} changed on origin/main. git pull and read it."


def handoff(tick: Tick) -> Step:
    """Ping actions for this tick's new commits and inbox changes."""
    loop = tick.config.loop
    git = tick.git
    state = tick.state
    if loop is None or git is None or tick.phase.complete:  # complete before this tick: stopped
        return Step(state)
    hs = state.handoff
    if not git.ok:
        if git.error != hs.fetch_error:
            state = replace(state, handoff=replace(hs, fetch_error=git.error))
            return Step(state, (Note("", "fetch-failed", f"git fetch of the handoff repo failed (retrying each tick): {git.error}"),))
        return Step(state)
    actions: list[Action] = []
    if hs.fetch_error:
        hs = replace(hs, fetch_error="")
        actions.append(Note("", "fetch-ok", "git fetch of the handoff repo works again"))
    if git.head is None:
        return Step(replace(state, handoff=hs), tuple(actions))
    commits = git.commits
    baseline = dict(hs.inbox)
    if git.rewritten:
        # Re-baseline; `commits` then holds only work pushed with the rewrite (see GitRepo).
        actions.append(Note("", "history-rewritten", f"origin/main was rewritten; re-baselined at {git.head[:8]} without re-pinging"))
        baseline = dict(git.inbox_blobs)
    if hs.last_seen is None:
        # First sight: inboxes are baselined; of the recent history only what was pushed since
        # the run started is new, so a claim that beat the first fetch is still pinged.
        baseline = dict(git.inbox_blobs)
        since = state.run_started if state.run_started is not None else tick.now
        commits = tuple(c for c in commits if c.ts >= since)
    handoff_cfg = loop.handoff
    claims = [c for c in commits if _pattern(handoff_cfg.claim_pattern).search(c.subject)]
    reviews = [c for c in commits if _pattern(handoff_cfg.review_pattern).search(c.subject)]
    # The phase is done (advancing now, or waiting for a turn to end): loop agents are about to
    # restart into the next phase, so a ping to them would only land in a dying session.
    ph = state.phase
    ending = ph.done_seen_at is not None or ph.index != tick.phase.index or ph.complete
    loop_agents = {a.name for a in tick.config.agents if a.kind == "loop"}
    for found, targets, kind in ((claims, handoff_cfg.claim_pings, "claim"), (reviews, handoff_cfg.review_pings, "review")):
        if not found:
            continue
        for agent in targets:
            if ending and agent in loop_agents:
                continue
            actions.append(Send(agent, ping_text(kind, found), "ping", f"{kind}: {found[-1].subject}"))
    gate, gate_started = hs.gate, hs.gate_started
    for commit in claims:
        label = claim_label(commit.subject)
        if label and label != gate:
            actions.append(GateChange(tick.phase.phase_id, gate, label, f"gate {label} claimed ({commit.sha[:8]})"))
            gate, gate_started = label, tick.now
    if ph.index != tick.phase.index or ph.complete:
        gate = gate_started = None  # the phase ended this tick; its gate ended with it
    for path, agent in handoff_cfg.inboxes.items():
        blob = git.inbox_blobs.get(path)
        if blob is not None and blob != baseline.get(path):
            actions.append(Send(agent, inbox_text(path), "ping", f"inbox {path} changed"))
    hs = replace(hs, inbox=dict(git.inbox_blobs), last_seen=git.head, gate=gate, gate_started=gate_started)
    return Step(replace(state, handoff=hs), tuple(actions))
