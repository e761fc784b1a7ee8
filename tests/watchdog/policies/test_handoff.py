"""Git handoff: (handoff state, what origin/main shows) → pings, gate changes and the new baseline."""

from __future__ import annotations

from typing import Any

import pytest

from agent_orchestrator.config import Config
from agent_orchestrator.watchdog.model import Action, CommitView, GateChange, GitView, Note, Send
from agent_orchestrator.watchdog.policies.handoff import commit_line, handoff, inbox_text, ping_text
from agent_orchestrator.watchdog.state import HandoffState, PhaseState, WatchdogState
from tests.support.policies import NOW, state_of, tick

INBOX = "inbox/builder.md"


def commit(sha: str, subject: str, ts: float = NOW) -> CommitView:
    return CommitView(sha * 8, subject, ts)


CLAIM = commit("a", "claim(G1): parser")
WIP = commit("b", "wip")
REVIEW = commit("c", "Review(G0): PASS")
CLAIM2 = commit("d", "feat: claim(G2) lexer")


def claim_pings(*commits: CommitView, to: tuple[str, ...] = ("adversary", "second")) -> tuple[Send, ...]:
    items = tuple(commit_line(c) for c in commits)
    return tuple(Send(agent, ping_text("claim", items), "ping", f"claim: {commits[-1].subject}", topic="claim", items=items) for agent in to)


def review_ping(*commits: CommitView) -> Send:
    items = tuple(commit_line(c) for c in commits)
    return Send("builder", ping_text("review", items), "ping", f"review: {commits[-1].subject}", topic="review", items=items)


INBOX_PING = Send("builder", inbox_text(INBOX), "ping", f"inbox {INBOX} changed", topic=f"inbox:{INBOX}")


def gate(previous: str | None, c: CommitView, label: str) -> GateChange:
    """The gate change a claim makes, carrying the claim commit for the token ledger."""
    return GateChange("p1", previous, label, f"gate {label} claimed ({c.sha[:8]})", sha=c.sha, subject=c.subject, committed=c.ts)


G1 = gate(None, CLAIM, "G1")


def entry(c: CommitView) -> str:
    """How the handoff state keeps a gate's latest claim or review."""
    return f"{c.ts:.0f} {c.sha} {c.subject}"


AGAIN = commit("e", "claim(G1): again")

# (state, git, actions, handoff state after)
HANDOFF: list[Any] = [
    pytest.param(state_of(), GitView(ok=True, head="h1", inbox_blobs={INBOX: "x"}), (), HandoffState(last_seen="h1", inbox={INBOX: "x"}),
                 id="first-sight-baselines-without-pinging"),
    # the observer hands over, on first sight, the recent history: what was pushed since the run
    # started is new (a claim that beat the first fetch is still pinged), older commits are not
    pytest.param(state_of(), GitView(ok=True, head="h1", commits=(CLAIM,), inbox_blobs={INBOX: "x"}), (*claim_pings(CLAIM), G1),
                 HandoffState(last_seen="h1", inbox={INBOX: "x"}, gate="G1", gate_started=NOW, claims={"G1": entry(CLAIM)}),
                 id="first-sight-claim-since-the-run-started"),
    pytest.param(WatchdogState(run_started=NOW - 60), GitView(ok=True, head="h1", commits=(commit("o", "claim(G0): old", NOW - 61),)), (),
                 HandoffState(last_seen="h1"), id="first-sight-claim-before-the-run-is-history"),
    pytest.param(state_of(handoff=HandoffState(last_seen="h0")), GitView(ok=True, head="h2", commits=(CLAIM, WIP, REVIEW)),
                 (*claim_pings(CLAIM), review_ping(REVIEW), G1),
                 HandoffState(last_seen="h2", gate="G1", gate_started=NOW, claims={"G1": entry(CLAIM)}, reviews={"G0": entry(REVIEW)}),
                 id="claim-pings-every-reviewer-review-pings-the-builder"),
    pytest.param(state_of(handoff=HandoffState(last_seen="h2")), GitView(ok=True, head="h2"), (), HandoffState(last_seen="h2"),
                 id="no-new-commits-no-ping"),
    pytest.param(state_of(handoff=HandoffState(last_seen="h0")), GitView(ok=True, head="h1", commits=(WIP,)), (), HandoffState(last_seen="h1"),
                 id="other-commits-no-ping"),
    pytest.param(state_of(handoff=HandoffState(last_seen="h0", gate="G1", gate_started=NOW - 100)),
                 GitView(ok=True, head="h1", commits=(CLAIM2,)),
                 (*claim_pings(CLAIM2), gate("G1", CLAIM2, "G2")),
                 HandoffState(last_seen="h1", gate="G2", gate_started=NOW, claims={"G2": entry(CLAIM2)}), id="next-gate-replaces-the-one-in-flight"),
    pytest.param(state_of(handoff=HandoffState(last_seen="h0", gate="G1", gate_started=NOW - 100)),
                 GitView(ok=True, head="h1", commits=(AGAIN,)), claim_pings(AGAIN),
                 HandoffState(last_seen="h1", gate="G1", gate_started=NOW - 100, claims={"G1": entry(AGAIN)}), id="same-gate-reclaimed-no-gate-change"),
    pytest.param(state_of(handoff=HandoffState(last_seen="h0")), GitView(ok=True, head="h1", commits=(CLAIM, CLAIM2)),
                 (*claim_pings(CLAIM, CLAIM2), G1, gate("G1", CLAIM2, "G2")),
                 HandoffState(last_seen="h1", gate="G2", gate_started=NOW, claims={"G1": entry(CLAIM), "G2": entry(CLAIM2)}),
                 id="two-claims-one-ping-two-gates"),
    pytest.param(state_of(handoff=HandoffState(last_seen="h1", inbox={INBOX: "blob1"})), GitView(ok=True, head="h2", inbox_blobs={INBOX: "blob1"}),
                 (), HandoffState(last_seen="h2", inbox={INBOX: "blob1"}), id="inbox-unchanged"),
    pytest.param(state_of(handoff=HandoffState(last_seen="h1", inbox={INBOX: "blob1"})), GitView(ok=True, head="h3", inbox_blobs={INBOX: "blob2"}),
                 (INBOX_PING,), HandoffState(last_seen="h3", inbox={INBOX: "blob2"}), id="inbox-changed-pings-its-agent"),
    pytest.param(state_of(handoff=HandoffState(last_seen="h1")), GitView(ok=True, head="h2", inbox_blobs={INBOX: "blob1"}),
                 (INBOX_PING,), HandoffState(last_seen="h2", inbox={INBOX: "blob1"}), id="inbox-created-pings-its-agent"),
    pytest.param(state_of(handoff=HandoffState(last_seen="h1", inbox={INBOX: "blob1"})), GitView(ok=True, head="h2", inbox_blobs={INBOX: None}),
                 (), HandoffState(last_seen="h2", inbox={INBOX: None}), id="inbox-removed-no-ping"),
    # a force-push re-baselines without re-pinging old claims or inboxes
    pytest.param(state_of(handoff=HandoffState(last_seen="old", inbox={INBOX: "blob1"})),
                 GitView(ok=True, head="new", rewritten=True, inbox_blobs={INBOX: "blob9"}),
                 (Note("", "history-rewritten", "origin/main was rewritten; re-baselined at new without re-pinging"),),
                 HandoffState(last_seen="new", inbox={INBOX: "blob9"}), id="force-push-rebaselines"),
    pytest.param(state_of(handoff=HandoffState(last_seen="old")),
                 GitView(ok=True, head="f" * 40, rewritten=True, commits=(CLAIM,)),
                 (Note("", "history-rewritten", "origin/main was rewritten; re-baselined at ffffffff without re-pinging"), *claim_pings(CLAIM), G1),
                 HandoffState(last_seen="f" * 40, gate="G1", gate_started=NOW, claims={"G1": entry(CLAIM)}), id="force-push-with-new-work-pings-that-work"),
    pytest.param(state_of(handoff=HandoffState(last_seen="h0"), phase=PhaseState(complete=True)),
                 GitView(ok=True, head="h1", commits=(commit("a", "claim(G9)"),)), (), HandoffState(last_seen="h0"),
                 id="stopped-after-sequence-complete"),
    # the phase is done and waits for a turn to end: loop agents are about to restart, the
    # persistent reviewer is still pinged
    pytest.param(state_of(handoff=HandoffState(last_seen="h0"), phase=PhaseState(done_seen_at=NOW - 10)),
                 GitView(ok=True, head="h1", commits=(CLAIM, REVIEW)), (*claim_pings(CLAIM, to=("second",)), G1),
                 HandoffState(last_seen="h1", gate="G1", gate_started=NOW, claims={"G1": entry(CLAIM)}, reviews={"G0": entry(REVIEW)}),
                 id="ending-phase-no-ping-to-loop-agents"),
    pytest.param(state_of(handoff=HandoffState(last_seen="h0")), GitView(ok=True, head=None), (), HandoffState(last_seen="h0"),
                 id="empty-repo"),
    pytest.param(state_of(handoff=HandoffState(last_seen="h0")), None, (), HandoffState(last_seen="h0"), id="no-fetch-this-tick"),
]


@pytest.mark.parametrize("state,git,actions,after", HANDOFF)
def test_handoff(loop_config: Config, state: WatchdogState, git: GitView | None, actions: tuple[Action, ...], after: HandoffState) -> None:
    step = handoff(tick(loop_config, state, git=git, heavy=False))
    assert step.actions == actions
    assert step.state.handoff == after
    assert step.state.phase == state.phase and step.state.agents == state.agents


def test_ping_texts_name_the_matching_commits() -> None:
    claim = ping_text("claim", [commit_line(CLAIM)])
    assert "aaaaaaaa claim(G1): parser" in claim and "review(<gate>): PASS or FAIL" in claim and "wip" not in claim
    review = ping_text("review", [commit_line(REVIEW)])
    assert "cccccccc Review(G0): PASS" in review and "fix a FAIL" in review
    assert "aaaaaaaa claim(G1): parser; dddddddd feat: claim(G2) lexer" in ping_text("claim", [commit_line(CLAIM), commit_line(CLAIM2)])
    again = ping_text("claim", [commit_line(CLAIM)], again=True)
    assert again.startswith("Watchdog: you were restarted; still open for you on origin/main: aaaaaaaa claim(G1)")
    assert inbox_text(INBOX) == f"Watchdog: your inbox {INBOX} changed on origin/main. git pull and read it."


def test_fetch_failures_are_events_once_and_recovery_is_noted(loop_config: Config) -> None:
    state = state_of(handoff=HandoffState(last_seen="h1"))
    failed = GitView(ok=False, error="fatal: could not read from remote")
    timeline: list[tuple[GitView, tuple[Action, ...], str]] = [
        (failed, (Note("", "fetch-failed", "git fetch of the handoff repo failed (retrying each tick): fatal: could not read from remote"),),
         "fatal: could not read from remote"),
        (failed, (), "fatal: could not read from remote"),  # same error: not repeated every tick
        (GitView(ok=False, error="timeout"), (Note("", "fetch-failed", "git fetch of the handoff repo failed (retrying each tick): timeout"),),
         "timeout"),
        (GitView(ok=True, head="h1"), (Note("", "fetch-ok", "git fetch of the handoff repo works again"),), ""),
        (GitView(ok=True, head="h1"), (), ""),
    ]
    for git, actions, error in timeline:
        step = handoff(tick(loop_config, state, git=git))
        assert step.actions == actions
        assert step.state.handoff == HandoffState(last_seen="h1", fetch_error=error)
        state = step.state


def test_no_handoff_without_a_loop(make_config: Any) -> None:
    config = make_config('[defaults]\nsession_prefix = "t-"\nlog_dir = "run"\nbackend = "demo"\n[[agent]]\nname = "sup"\n', base="")
    state = state_of(handoff=HandoffState(last_seen="h0"))
    step = handoff(tick(config, state, git=GitView(ok=True, head="h1", commits=(CLAIM,))))
    assert step.actions == () and step.state == state
