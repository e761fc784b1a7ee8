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
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import lru_cache

from agent_orchestrator.agents.messages import sanitize
from agent_orchestrator.handoff.markers import claim_label, review_verdict
from agent_orchestrator.watchdog.model import Action, CommitView, GateChange, Note, Send, Step, Tick


@lru_cache(maxsize=32)
def _pattern(regex: str) -> re.Pattern[str]:
    return re.compile(regex, re.IGNORECASE | re.MULTILINE)


def commit_line(commit: CommitView) -> str:
    """How a commit is listed in a message: short sha and subject (made safe to paste)."""
    return f"{commit.sha[:8]} {sanitize(commit.subject)}"


def commit_ids(items: Sequence[str]) -> list[str]:
    """The short shas of `commit_line`s (what a ping's event records as announced).

    >>> commit_ids(["938da1f3 review(G1): PASS", "77e6dbc3 claim(G2): x"])
    ['938da1f3', '77e6dbc3']
    """
    return [item.split(" ", 1)[0] for item in items]


def ping_text(kind: str, items: Sequence[str], *, again: bool = False) -> str:
    """The message an agent gets for claim / review commits (`items`: `commit_line`s).

    `again` is the re-announcement a restarted agent gets for work still open for it.
    """
    listed = "; ".join(items)
    head = "Watchdog: you were restarted; still open for you on origin/main" if again else f"Watchdog: new {kind} on origin/main"
    if kind == "claim":
        return (f"{head}: {listed}. git pull, review the claimed gate "
                f"(run the tests yourself), then commit and push your verdict as review(<gate>): PASS or FAIL — <reason>.")
    return f"{head}: {listed}. git pull, read the verdict and act on it (fix a FAIL, move on after a PASS)."


def inbox_text(path: str) -> str:
    """The ping for a changed inbox file."""
    return f"Watchdog: your inbox {sanitize(path)} changed on origin/main. git pull and read it."


def render(kind: str, topic: str, items: Sequence[str]) -> str | None:
    """The text of a waiting message whose `items` grew (two pings merged), or None when the
    topic does not merge by items."""
    if topic in ("claim", "review"):
        return ping_text(topic, items, again=kind == "reannounce")
    return None


def _entry(commit: CommitView) -> str:
    return f"{commit.ts:.0f} {commit.sha} {commit.subject}"


def _ts(entry: str | None) -> float:
    return float(entry.split(" ", 1)[0]) if entry else float("-inf")


def open_work(claims: Mapping[str, str], reviews: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(claims with no review after them, reviews with no claim after them) as `commit_line`s,
    from the latest claim and review per gate: what reviewers and the builder still owe."""
    def line(entry: str) -> str:
        _, sha, subject = entry.split(" ", 2)
        return f"{sha[:8]} {sanitize(subject)}"

    unreviewed = [line(c) for g, c in sorted(claims.items(), key=lambda kv: _ts(kv[1])) if _ts(c) > _ts(reviews.get(g))]
    unanswered = [line(r) for g, r in sorted(reviews.items(), key=lambda kv: _ts(kv[1])) if _ts(r) >= _ts(claims.get(g))]
    return unreviewed, unanswered


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
        if hs.announced and state.phase.index > 0 and state.phase.started is not None:
            # A rebuilt state in a later phase: earlier phases' work is done with (a commit's
            # time is whole seconds, so the second the phase started in still counts).
            since = max(since, float(int(state.phase.started)))
        commits = tuple(c for c in commits if c.ts >= since)
    announced = {agent: frozenset(shas) for agent, shas in hs.announced.items()}
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
            fresh = [c for c in found if c.sha[:8] not in announced.get(agent, frozenset())]  # a rebuilt state: not twice
            if not fresh:
                continue
            items = tuple(commit_line(c) for c in fresh)
            actions.append(Send(agent, ping_text(kind, items), "ping", f"{kind}: {sanitize(fresh[-1].subject)}", topic=kind, items=items))
    gate, gate_started = hs.gate, hs.gate_started
    open_claims, open_reviews = dict(hs.claims), dict(hs.reviews)
    for commit in claims:
        label = claim_label(commit.subject)
        if label:
            open_claims[label] = _entry(commit)
        if label and label != gate:
            actions.append(GateChange(tick.phase.phase_id, gate, label, f"gate {label} claimed ({commit.sha[:8]})",
                                      sha=commit.sha, subject=commit.subject, committed=commit.ts))
            gate, gate_started = label, tick.now
    for commit in reviews:
        verdict = review_verdict(commit.subject)
        if verdict is not None:
            open_reviews[verdict[0]] = _entry(commit)
    if ph.index != tick.phase.index or ph.complete:
        gate = gate_started = None  # the phase ended this tick; its gate ended with it
        open_claims, open_reviews = {}, {}
    for path, agent in handoff_cfg.inboxes.items():
        blob = git.inbox_blobs.get(path)
        if blob is not None and blob != baseline.get(path):
            actions.append(Send(agent, inbox_text(path), "ping", f"inbox {sanitize(path)} changed", topic=f"inbox:{path}"))
    hs = replace(hs, inbox=dict(git.inbox_blobs), last_seen=git.head, gate=gate, gate_started=gate_started,
                 claims=open_claims, reviews=open_reviews, announced={})
    return Step(replace(state, handoff=hs), tuple(actions))
