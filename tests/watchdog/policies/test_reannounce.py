"""Open work re-announced to an agent the watchdog restarted mid-gate."""

from __future__ import annotations

from agent_orchestrator.config import Config
from agent_orchestrator.watchdog.model import Send, Start
from agent_orchestrator.watchdog.policies.handoff import open_work, ping_text
from agent_orchestrator.watchdog.policies.reannounce import reannounce
from agent_orchestrator.watchdog.state import HandoffState, PhaseState
from tests.support.policies import NOW, state_of, tick

CLAIMS = {"G1": f"{NOW - 100:.0f} {'a' * 40} claim(G1): parser", "G2": f"{NOW - 10:.0f} {'c' * 40} claim(G2): lexer"}
REVIEWS = {"G1": f"{NOW - 50:.0f} {'b' * 40} review(G1): FAIL - crashes"}


def test_open_work_is_what_each_side_still_owes() -> None:
    unreviewed, unanswered = open_work(CLAIMS, REVIEWS)
    assert unreviewed == ["cccccccc claim(G2): lexer"]  # G1 has a review after its claim
    assert unanswered == ["bbbbbbbb review(G1): FAIL - crashes"]  # no claim of G1 after the FAIL
    assert open_work({"G1": CLAIMS["G1"]}, {}) == (["aaaaaaaa claim(G1): parser"], [])


def test_a_reviewer_healed_mid_review_is_told_the_open_claims_again(loop_config: Config) -> None:
    state = state_of(handoff=HandoffState(claims=CLAIMS, reviews=REVIEWS))
    step = reannounce(tick(loop_config, state), [Start("adversary", "exited with status 137", kind="heal"),
                                                 Start("builder", "stalled", kind="reboot")])
    items = ("cccccccc claim(G2): lexer",)
    again = ("bbbbbbbb review(G1): FAIL - crashes",)
    assert step.actions == (
        Send("adversary", ping_text("claim", items, again=True), "reannounce", "restarted with 1 open claim", topic="claim", items=items),
        Send("builder", ping_text("review", again, again=True), "reannounce", "restarted with 1 open review", topic="review", items=again),
    )


def test_nothing_is_re_announced_after_an_advance_or_the_sequence(loop_config: Config) -> None:
    state = state_of(handoff=HandoffState(claims=CLAIMS, reviews=REVIEWS))
    assert reannounce(tick(loop_config, state), [Start("adversary", "phase p2", kind="advance")]).actions == ()
    done = state_of(handoff=HandoffState(claims=CLAIMS), phase=PhaseState(complete=True))
    assert reannounce(tick(loop_config, done), [Start("adversary", "exited", kind="heal")]).actions == ()
    assert reannounce(tick(loop_config, state_of()), [Start("adversary", "exited", kind="heal")]).actions == ()
