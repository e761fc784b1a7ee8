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
from functools import lru_cache

from agent_orchestrator.handoff.markers import claim_label
from agent_orchestrator.watchdog.model import Action, CommitView, GateChange, Note, Send, Tick


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


def handoff(tick: Tick) -> list[Action]:
    """Ping actions for this tick's new commits and inbox changes."""
    loop = tick.config.loop
    git = tick.git
    if loop is None or git is None or tick.phase.complete:  # complete before this tick: stopped
        return []
    hs = tick.state.handoff
    if not git.ok:
        if git.error != hs.fetch_error:
            hs.fetch_error = git.error
            return [Note("", "fetch-failed", f"git fetch of the handoff repo failed (retrying each tick): {git.error}")]
        return []
    actions: list[Action] = []
    if hs.fetch_error:
        hs.fetch_error = ""
        actions.append(Note("", "fetch-ok", "git fetch of the handoff repo works again"))
    if git.head is None:
        return actions
    if git.rewritten:
        # Re-baseline; `commits` then holds only work pushed with the rewrite (see GitRepo).
        actions.append(Note("", "history-rewritten", f"origin/main was rewritten; re-baselined at {git.head[:8]} without re-pinging"))
        hs.inbox = dict(git.inbox_blobs)
    if hs.last_seen is None:
        # First sight: inboxes are baselined; `commits` holds only what was pushed since the run
        # started (the driver picks them), so a claim that beat the first fetch is still pinged.
        hs.inbox = dict(git.inbox_blobs)
    handoff_cfg = loop.handoff
    claims = [c for c in git.commits if _pattern(handoff_cfg.claim_pattern).search(c.subject)]
    reviews = [c for c in git.commits if _pattern(handoff_cfg.review_pattern).search(c.subject)]
    # The phase is done (advancing now, or waiting for a turn to end): loop agents are about to
    # restart into the next phase, so a ping to them would only land in a dying session.
    ending = tick.state.phase.done_seen_at is not None or tick.state.phase.index != tick.phase.index or tick.state.phase.complete
    loop_agents = {a.name for a in tick.config.agents if a.kind == "loop"}
    for commits, targets, kind in ((claims, handoff_cfg.claim_pings, "claim"), (reviews, handoff_cfg.review_pings, "review")):
        if not commits:
            continue
        for agent in targets:
            if ending and agent in loop_agents:
                continue
            actions.append(Send(agent, ping_text(kind, commits), "ping", f"{kind}: {commits[-1].subject}"))
    for commit in claims:
        label = claim_label(commit.subject)
        if label and label != hs.gate:
            actions.append(GateChange(tick.phase.phase_id, hs.gate, label, f"gate {label} claimed ({commit.sha[:8]})"))
            hs.gate, hs.gate_started = label, tick.now
    if tick.state.phase.index != tick.phase.index or tick.state.phase.complete:
        hs.gate = hs.gate_started = None  # the phase ended this tick; its gate ended with it
    for path, agent in handoff_cfg.inboxes.items():
        blob = git.inbox_blobs.get(path)
        if blob is not None and blob != hs.inbox.get(path):
            actions.append(Send(agent, inbox_text(path), "ping", f"inbox {path} changed"))
    hs.inbox = dict(git.inbox_blobs)
    hs.last_seen = git.head
    return actions
