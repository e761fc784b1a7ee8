"""Token budgets: (budget config, state, the ledger's figures) → warnings, a hold, its release."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from agent_orchestrator.config import Config
from agent_orchestrator.watchdog.decide import decide
from agent_orchestrator.watchdog.model import CommitView, GitView, Note, PhaseChange, Request, Start, TokenView
from agent_orchestrator.watchdog.policies.budget import budget, status_lines
from agent_orchestrator.watchdog.state import AgentState, BudgetState, HandoffState, PhaseState, WatchdogState
from tests.support.policies import NOW, observation, state_of, tick

BUDGET = "[watchdog]\nlog_tokens = true\ntoken_budget = {{ run = 1000, phase = {phase} }}\n"
HOLD = ("token budget: phase p1 used 420 of 400 tokens (105%); raise [watchdog.token_budget] or "
        "`agents restart`/`resume` one of them to go on")
RUN_HOLD = HOLD.replace("phase p1 used 420 of 400 tokens (105%)", "run used 1,000 of 1,000 tokens (100%)")
HELD = BudgetState(used={"run": 420, "phase p1": 420}, limits={"run": 1000, "phase p1": 400}, warned=("phase p1",), held="phase p1",
                   held_limit=400, held_agents=("builder", "adversary"), hold=HOLD)
HELD_STATE = state_of(builder=AgentState(needs_human=HOLD), adversary=AgentState(needs_human=HOLD))
HELD_STATE = replace(HELD_STATE, budget=HELD)


def figures(phase: int, run: int | None = None, open_phase: str = "p1") -> TokenView:
    return TokenView(open_phase=open_phase, phase_total=phase, run_total=phase if run is None else run)


def warn_note(scope: str, used: int, limit: int) -> Note:
    return Note("", "budget", f"token budget: {scope} used {used:,} of {limit:,} tokens ({100 * used / limit:.0f}%)",
                {"scope": scope, "used": used, "limit": limit})


def hold_notes(text: str, scope: str, used: int, limit: int, agents: tuple[str, ...] = ("builder", "adversary")) -> tuple[Note, ...]:
    return tuple(Note(a, "needs-human", text, {"budget": scope, "used": used, "limit": limit}) for a in agents)


# (phase budget, state, the ledger's figures, actions, needs-human after, held scope after)
CASES: list[Any] = [
    pytest.param(400, state_of(), figures(300), (), {}, "", id="under-the-warning"),
    pytest.param(400, state_of(), figures(320), (warn_note("phase p1", 320, 400),), {}, "", id="warns-at-80-percent"),
    pytest.param(400, replace(state_of(), budget=BudgetState(warned=("phase p1",))), figures(390), (), {}, "", id="warns-once"),
    pytest.param(400, replace(state_of(), budget=BudgetState(warned=("phase p1",))), figures(420),
                 hold_notes(HOLD, "phase p1", 420, 400), {"builder": HOLD, "adversary": HOLD}, "phase p1", id="holds-the-loop-agents"),
    pytest.param(400, state_of(), figures(420), (warn_note("phase p1", 420, 400), *hold_notes(HOLD, "phase p1", 420, 400)),
                 {"builder": HOLD, "adversary": HOLD}, "phase p1", id="warns-and-holds-in-one-jump"),
    pytest.param(5000, replace(state_of(), budget=BudgetState(warned=("run",))), figures(100, run=1000),
                 hold_notes(RUN_HOLD, "run", 1000, 1000), {"builder": RUN_HOLD, "adversary": RUN_HOLD}, "run", id="the-run-budget"),
    pytest.param(400, replace(state_of(adversary=AgentState(needs_human="5 restarts within 600s")), budget=BudgetState(warned=("phase p1",))),
                 figures(420), hold_notes(HOLD, "phase p1", 420, 400, ("builder",)),
                 {"builder": HOLD, "adversary": "5 restarts within 600s"}, "phase p1", id="a-restart-storm-hold-stands"),
    pytest.param(400, HELD_STATE, figures(430), (), {"builder": HOLD, "adversary": HOLD}, "phase p1", id="stays-held"),
    pytest.param(500, HELD_STATE, figures(430),
                 (Note("", "budget-released", "token budget hold on phase p1 released: the budget was raised: "
                       "phase p1 used 430 of 500 tokens (86%)", {"scope": "phase p1"}),), {}, "", id="released-by-raising-it"),
    pytest.param(400, replace(HELD_STATE, budget=replace(HELD, used={})), figures(30, open_phase="p2"),
                 (Note("", "budget-released", "token budget hold on phase p1 released: no phase p1 budget in force any more",
                       {"scope": "phase p1"}),), {}, "", id="released-when-the-phase-moved-on"),
    pytest.param(400, HELD_STATE.update_agent("builder", needs_human=""), figures(430),
                 (Note("", "budget-released", "token budget hold on phase p1 released: released by hand (builder)", {"scope": "phase p1"}),),
                 {}, "", id="released-by-hand"),
    pytest.param(400, replace(state_of(), budget=replace(BudgetState(), warned=("phase p1",), released=("phase p1=400",))), figures(450),
                 (), {}, "", id="not-held-again-once-released-by-hand"),
]


@pytest.mark.parametrize("phase_budget,state,seen,actions,needs_human,held", CASES)
def test_budget(make_config: Callable[..., Config], phase_budget: int, state: WatchdogState, seen: TokenView,
                actions: tuple[Note, ...], needs_human: dict[str, str], held: str) -> None:
    config = make_config(BUDGET.format(phase=phase_budget), base="loop")
    step = budget(tick(config, state, tokens=seen))
    assert step.actions == actions
    assert {n: st.needs_human for n, st in step.state.agents.items() if st.needs_human} == needs_human
    assert step.state.budget.held == held
    assert step.state.budget.used == {"run": seen.run_total, f"phase {seen.open_phase}": seen.phase_total}


@pytest.mark.parametrize("extra,seen", [
    pytest.param("[watchdog]\nlog_tokens = true\n", figures(10**9), id="no-budget"),
    pytest.param(BUDGET.format(phase=400), None, id="no-ledger-observed"),
])
def test_nothing_without_a_budget_or_figures(make_config: Callable[..., Config], extra: str, seen: TokenView | None) -> None:
    config = make_config(extra, base="loop")
    step = budget(tick(config, state_of(), tokens=seen))
    assert step.actions == () and step.state.budget.held == ""


def test_removing_the_budget_releases_its_hold(make_config: Callable[..., Config]) -> None:
    config = make_config("[watchdog]\nlog_tokens = true\n", base="loop")
    step = budget(tick(config, HELD_STATE, tokens=figures(430)))
    assert [(a.event, a.reason) for a in step.actions if isinstance(a, Note)] == [
        ("budget-released", "token budget hold on phase p1 released: no phase p1 budget in force any more")]
    assert not any(st.needs_human for st in step.state.agents.values())


def test_without_loop_agents_the_agents_that_spend_tokens_are_held(make_config: Callable[..., Config]) -> None:
    config = make_config("""
        [defaults]
        session_prefix = "t-"
        log_dir = "run"
        [watchdog]
        log_tokens = true
        token_budget = { run = 100 }
        [[agent]]
        name = "coder"
        backend = "claude"
        [[agent]]
        name = "watch"
        backend = "watcher"
        watcher = "claims"
        [[agent]]
        name = "shell"
        backend = "demo"
        """, base="")
    step = budget(tick(config, state_of(), tokens=TokenView(run_total=150)))
    assert {n for n, st in step.state.agents.items() if st.needs_human} == {"coder"}


# -- the whole tick --------------------------------------------------------------------------------


def test_a_held_team_does_not_advance_nor_get_pinged(make_config: Callable[..., Config]) -> None:
    config = make_config(BUDGET.format(phase=400), base="loop")
    state = replace(HELD_STATE, phase=PhaseState(index=0, started=NOW - 600), handoff=HandoffState(last_seen="h0"))
    git = GitView(ok=True, head="h1", commits=(CommitView("c" * 8, "review(G1): PASS", NOW),), status_done=True)
    step = decide(config, state, observation(config, git=git, tokens=figures(430)), NOW)
    assert not [a for a in step.actions if isinstance(a, (PhaseChange, Start))]
    assert step.state.phase.index == 0
    assert [m.kind for m in step.state.agent("builder").outbox] == ["ping"]  # waits in the outbox
    assert step.state.budget.held == "phase p1"


@pytest.mark.parametrize("action", ["resume", "clear"])
def test_a_resume_or_restart_by_hand_releases_the_hold(make_config: Callable[..., Config], action: str) -> None:
    config = make_config(BUDGET.format(phase=400), base="loop")
    state = replace(HELD_STATE, phase=PhaseState(index=0, started=NOW - 600))
    step = decide(config, state, observation(config, tokens=figures(430), requests=[Request("r1", action, "adversary")]), NOW)
    released = [a for a in step.actions if isinstance(a, Note) and a.event == "budget-released"]
    assert [a.reason for a in released] == ["token budget hold on phase p1 released: released by hand (adversary)"]
    assert not step.state.agent("builder").needs_human and not step.state.agent("adversary").needs_human
    assert step.state.budget.released == ("phase p1=400",)
    again = decide(config, step.state, observation(config, tokens=figures(500)), NOW + 5)
    assert again.state.budget.held == "" and not [a for a in again.actions if isinstance(a, Note) and a.event == "needs-human"]


def test_status_lines() -> None:
    assert status_lines(BudgetState(used={"run": 100}, limits={"run": 1000}), 0.8) == []
    assert status_lines(BudgetState(used={"run": 850}, limits={"run": 1000}), 0.8) == [
        "token budget: run used 850 of 1,000 tokens (85%) (warns at 80%)"]
    assert status_lines(HELD, 0.8) == [
        "token budget: phase p1 used 420 of 400 tokens (105%) — holding builder, adversary (needs-human); "
        "raise [watchdog.token_budget] phase or `agents resume builder` to go on"]
