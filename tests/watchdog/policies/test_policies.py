"""Watchdog policies as tables of (config, state, observations, now) → actions. No tmux, no sleeps."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from agent_orchestrator.config import Config, load_config
from agent_orchestrator.runtime.tmux import PaneObservation
from agent_orchestrator.watchdog.model import AgentView, Keys, Note, PhaseView, Send, Start, Tick
from agent_orchestrator.watchdog.policies import dialogs, heal, redeliver, run_policies, stall, usage_limits, wakes
from agent_orchestrator.watchdog.state import (
    LimitWindow,
    Pending,
    ScreenFacts,
    WatchdogState,
    load_state,
    save_state,
)

NOW = 1_800_000_000.0

CONFIG = """
[defaults]
session_prefix = "t-"
log_dir = "run"
backend = "demo"
watch = "heal+stall"

[watchdog]
stall_grace = 60
limit_reset_slack = 30
limit_probe_fallback = 900
start_secs = 10
restart_backoff = 5
restart_backoff_max = 40
restart_burst = 3
restart_window = 600

[backend.demo]
stall_idle = 300
hung_idle = 1200

[loop]
kickoff = "kickoff.md"
phases = [{ id = "p1", plan = "plan.md", status = "status-p1.md" }]

[[agent]]
name = "builder"
kind = "loop"

[[agent]]
name = "sup"
kind = "persistent"
wake = { interval = 600, prompt = "check the queue" }

[[agent]]
name = "job"
kind = "task"
wake = { interval = 100, prompt = "run the report" }
"""


@pytest.fixture
def config(tmp_path: Path) -> Config:
    (tmp_path / "kickoff.md").write_text("Phase {phase_id}: {plan}")
    (tmp_path / "plan.md").write_text("plan")
    (tmp_path / "agents.toml").write_text(textwrap.dedent(CONFIG))
    return load_config(tmp_path / "agents.toml")


def pane(session: str, *, dead: bool = False, status: int | None = None, command: str = "python3", activity: float = NOW - 5) -> PaneObservation:
    return PaneObservation(session, "%1", 100, dead, status, command, activity, NOW - 3600, 200, 50)


def facts(**kw) -> ScreenFacts:
    return ScreenFacts(**{"hash": "h", "state": "done_idle", "captured_at": NOW - 1, **kw})


def make_tick(config: Config, *, state: WatchdogState | None = None, now: float = NOW, heavy: bool = True,
              panes: dict | None = None, screen: dict | None = None, status: dict | None = None,
              phase: PhaseView | None = None, captured: bool = True) -> Tick:
    state = state or WatchdogState()
    panes = panes if panes is not None else {}
    views = {}
    for agent in config.agents:
        p = panes.get(agent.name, pane(agent.session or ""))
        f = (screen or {}).get(agent.name, state.agent(agent.name).facts)
        views[agent.name] = AgentView(agent.name, agent, config.backend_of(agent), p, f, captured, (status or {}).get(agent.name))
    return Tick(config, state, views, now, phase or PhaseView(0, "p1", "status-p1.md", "## DONE"), heavy)


def kinds(actions) -> list[tuple[str, str, str]]:
    out = []
    for a in actions:
        if isinstance(a, Start):
            out.append((type(a).__name__, a.agent, a.action))
        elif isinstance(a, Send):
            out.append((type(a).__name__, a.agent, a.kind))
        else:
            out.append((type(a).__name__, a.agent, getattr(a, "action", "keys")))
    return out


# -- heal -------------------------------------------------------------------------------------
@pytest.mark.parametrize("observed,reason", [
    (None, "session gone"),
    (pane("t-sup", dead=True, status=2), "exited with status 2"),
    (pane("t-sup", command="bash"), "exited to a shell (bash)"),
])
def test_heal_restarts_a_gone_dead_or_exited_agent(config: Config, observed, reason: str) -> None:
    tick = make_tick(config, panes={"sup": observed})
    actions = heal(tick)
    assert [a for a in actions if a.agent == "sup"] == [Start("sup", reason, action="heal")]
    st = tick.state.agent("sup")
    assert st.restarts == [NOW] and st.last_start == NOW and st.idle_since == NOW


def test_heal_restarts_fresh_on_a_fatal_screen(config: Config) -> None:
    tick = make_tick(config, screen={"sup": facts(fatal=True)})
    assert heal(tick) == [Start("sup", "unrecoverable error on screen", action="heal")]


def test_heal_only_on_heavy_ticks_and_never_for_tasks_paused_or_limited(config: Config) -> None:
    gone = {"builder": None, "sup": None, "job": None}
    assert heal(make_tick(config, panes=gone, heavy=False)) == []
    state = WatchdogState()
    state.agent("builder").paused = True
    state.agent("sup").limit = LimitWindow("limit", None, NOW + 100, NOW)
    assert heal(make_tick(config, state=state, panes=gone)) == []  # job is a task: not healed


def test_crash_loop_backs_off_then_needs_human(config: Config) -> None:
    state = WatchdogState()
    dead = {"sup": pane("t-sup", dead=True, status=1)}
    now = NOW
    starts = []
    for _ in range(40):
        tick = make_tick(config, state=state, panes=dead, now=now)
        tick.views["sup"] = replace(tick.views["sup"], run_seconds=1.0)
        for action in heal(tick):
            if action.agent == "sup":
                starts.append((now - NOW, type(action).__name__, getattr(action, "action", "")))
        now += 5
    # restart at once; each failed start (seen 5 s later, on the next heavy tick) backs off 5 s,
    # then 10 s; the 4th restart within the window is refused: needs-human
    assert starts == [(0, "Start", "heal"), (10, "Start", "heal"), (25, "Start", "heal"), (30, "Note", "needs-human")]
    assert state.agent("sup").needs_human.startswith("3 restarts within 600s")


def test_a_start_that_stays_up_resets_the_failed_start_count(config: Config) -> None:
    state = WatchdogState()
    st = state.agent("sup")
    st.failed_starts, st.last_start = 2, NOW - 60
    heal(make_tick(config, state=state))
    assert st.failed_starts == 0


def test_services_are_healed(config: Config, tmp_path: Path) -> None:
    (tmp_path / "agents.toml").write_text(textwrap.dedent(CONFIG) + '\n[[service]]\nname = "web"\ncmd = ["x"]\n')
    config = load_config(tmp_path / "agents.toml")
    tick = make_tick(config)
    tick.services = {"web": pane("t-web", dead=True, status=1)}
    assert Start("web", "exited with status 1", action="heal") in heal(tick)


# -- stall and DONE-nudge ---------------------------------------------------------------------
def idle_state(agent: str, idle_for: float, **facts_kw) -> WatchdogState:
    state = WatchdogState()
    st = state.agent(agent)
    st.idle_since = NOW - idle_for
    st.facts = facts(**facts_kw)
    return state


def test_not_stalled_before_stall_idle(config: Config) -> None:
    assert stall(make_tick(config, state=idle_state("builder", 299))) == []


def test_stalled_loop_agent_is_nudged_once_per_phase_then_rebooted(config: Config) -> None:
    state = idle_state("builder", 300)
    actions = stall(make_tick(config, state=state))
    assert kinds(actions) == [("Send", "builder", "nudge")]
    text = actions[0].text
    assert "phase p1" in text and "status-p1.md" in text and "## DONE" in text and "WAITING-UNTIL" in text
    st = state.agent("builder")
    assert st.nudged_phase == "p1" and st.idle_since == NOW
    # a fresh idle window follows: no reboot until it too has passed
    builder_only = {"sup": None, "job": None}
    assert stall(make_tick(config, state=state, now=NOW + 299, panes=builder_only)) == []
    later = stall(make_tick(config, state=state, now=NOW + 300, panes=builder_only))
    assert kinds(later) == [("Start", "builder", "reboot")]
    assert st.nudged_phase == "p1"  # once per phase: a reboot does not re-arm it


def test_no_nudge_when_disabled_or_phase_done(config: Config) -> None:
    assert kinds(stall(make_tick(config, state=idle_state("builder", 400), phase=PhaseView(0, "p1", "s", "## DONE", done=True)))) == [("Start", "builder", "reboot")]
    config.loop.done_nudge = False  # type: ignore[union-attr]
    assert kinds(stall(make_tick(config, state=idle_state("builder", 400)))) == [("Start", "builder", "reboot")]


def test_stalled_persistent_agent_is_rebooted(config: Config) -> None:
    assert kinds(stall(make_tick(config, state=idle_state("sup", 1000)))) == [("Start", "sup", "reboot")]


def test_busy_is_not_stalled_until_hung(config: Config) -> None:
    assert stall(make_tick(config, state=idle_state("sup", 1000, active=True))) == []
    assert stall(make_tick(config, state=idle_state("sup", 1000), status={"sup": "busy"})) == []
    hung = stall(make_tick(config, state=idle_state("sup", 1200, active=True)))
    assert kinds(hung) == [("Start", "sup", "reboot")] and "hung turn" in hung[0].reason


def test_waiting_until_is_honoured_until_time_plus_grace(config: Config) -> None:
    waiting = idle_state("sup", 5000, waiting_until=NOW + 3600)
    assert stall(make_tick(config, state=waiting)) == []
    within_grace = idle_state("sup", 5000, waiting_until=NOW - 59)
    assert stall(make_tick(config, state=within_grace)) == []
    missed = stall(make_tick(config, state=idle_state("sup", 5000, waiting_until=NOW - 61)))
    assert kinds(missed) == [("Start", "sup", "reboot")] and "WAITING-UNTIL time has passed" in missed[0].reason


def test_idle_clock_falls_back_to_tmux_window_activity(config: Config) -> None:
    # A watchdog with no state: the pane's own activity record says it has been idle 400 s.
    tick = make_tick(config, panes={"sup": pane("t-sup", activity=NOW - 400)}, screen={"sup": facts()})
    assert kinds(stall(tick)) == [("Start", "sup", "reboot")]


# -- usage limits -----------------------------------------------------------------------------
def test_limit_opens_a_window_until_reset_plus_slack_and_silences_the_rest(config: Config) -> None:
    state = idle_state("sup", 5000, limit_banner="You've hit your session limit · resets 3pm", limit_reset=NOW + 600)
    tick = make_tick(config, state=state, panes={"builder": None})
    actions = run_policies(tick)
    assert ("Note", "sup", "usage-limit") in kinds(actions)
    assert not any(a.agent == "sup" and isinstance(a, (Start, Send)) for a in actions)  # no stall reboot, no wake
    window = state.agent("sup").limit
    assert window is not None and window.until == NOW + 630
    # the session dies inside the window: not healed
    quiet = run_policies(make_tick(config, state=state, now=NOW + 100, panes={"sup": None}))
    assert not any(a.agent == "sup" for a in quiet)


def test_limit_probe_then_rearm_or_close(config: Config) -> None:
    state = WatchdogState()
    state.agent("sup").limit = LimitWindow("banner", NOW - 10, NOW, NOW - 700)
    state.agent("sup").facts = facts(limit_banner="banner", limit_reset=NOW - 10, captured_at=NOW - 50)
    probe = usage_limits(make_tick(config, state=state))
    assert kinds(probe) == [("Send", "sup", "probe")]
    # no verdict without a screen captured after the probe
    assert usage_limits(make_tick(config, state=state, now=NOW + 5)) == []
    # the banner comes back with a new reset time: re-armed from it
    back = facts(limit_banner="You've hit your session limit · resets 5pm", limit_reset=NOW + 7200, captured_at=NOW + 6)
    rearm = usage_limits(make_tick(config, state=state, now=NOW + 6, screen={"sup": back}))
    assert kinds(rearm) == [("Note", "sup", "usage-limit-rearmed")]
    assert state.agent("sup").limit.until == NOW + 7230 and state.agent("sup").limit.probe_sent_at is None
    # second probe at the new time; this time the agent works again
    assert kinds(usage_limits(make_tick(config, state=state, now=NOW + 7230, screen={"sup": back}))) == [("Send", "sup", "probe")]
    working = facts(active=True, captured_at=NOW + 7240)
    closed = usage_limits(make_tick(config, state=state, now=NOW + 7240, screen={"sup": working}))
    assert kinds(closed) == [("Note", "sup", "usage-limit-over")] and state.agent("sup").limit is None


def test_unparseable_limit_probes_every_fallback_and_stale_probes_now(config: Config) -> None:
    state = idle_state("sup", 10, limit_banner="You're out of usage credits", limit_reset=None)
    usage_limits(make_tick(config, state=state))
    assert state.agent("sup").limit.until == NOW + 900
    stale = idle_state("sup", 10, limit_banner="resets 3pm", limit_reset=NOW - 3600)
    usage_limits(make_tick(config, state=stale))
    assert kinds(usage_limits(make_tick(config, state=stale, now=NOW + 1))) == [("Send", "sup", "probe")]


def test_probe_not_stacked_while_previous_one_is_unsubmitted(config: Config) -> None:
    from agent_orchestrator.watchdog.policies.usage_limits import PROBE

    state = WatchdogState()
    window = LimitWindow("banner", None, NOW - 1, NOW - 1000, probe_sent_at=None, probe_text=PROBE)
    state.agent("sup").limit = window
    stuck = facts(limit_banner="banner", input=PROBE[:30])
    assert usage_limits(make_tick(config, state=state, screen={"sup": stuck})) == []


# -- wakes ------------------------------------------------------------------------------------
def test_wakes_persistent_reprompt_and_task_rerun(config: Config) -> None:
    state = WatchdogState()
    assert wakes(make_tick(config, state=state)) == []  # first sight: scheduled one interval out
    assert state.agent("sup").next_wake_at == NOW + 600 and state.agent("job").next_wake_at == NOW + 100
    due = wakes(make_tick(config, state=state, now=NOW + 100))
    assert due == [Start("job", "wake: task re-run", prompt="run the report", action="wake")]
    both = wakes(make_tick(config, state=state, now=NOW + 600))
    assert Send("sup", "check the queue", "wake", "wake every 600s") in both


def test_task_wake_skips_an_active_run_and_defers_under_a_limit(config: Config) -> None:
    state = WatchdogState()
    state.agent("job").next_wake_at = NOW
    busy = wakes(make_tick(config, state=state, screen={"job": facts(active=True)}))
    assert kinds(busy) == [("Note", "job", "wake-skipped")]
    state.agent("job").next_wake_at = NOW
    state.agent("job").limit = LimitWindow("b", None, NOW + 50, NOW)
    assert wakes(make_tick(config, state=state)) == []
    state.agent("job").limit = None
    assert kinds(wakes(make_tick(config, state=state, now=NOW + 60))) == [("Start", "job", "wake")]


def test_loop_wakes_go_quiet_after_sequence_complete(config: Config) -> None:
    config.agents[0].wake = type(config.agents[1].wake)(interval=10, prompt="loop wake")  # type: ignore[misc]
    state = WatchdogState()
    state.agent("builder").next_wake_at = NOW
    state.agent("sup").next_wake_at = NOW
    done = PhaseView(0, "p1", "s", complete=True)
    actions = wakes(make_tick(config, state=state, phase=done))
    assert kinds(actions) == [("Send", "sup", "wake")]


# -- dialogs and redelivery -------------------------------------------------------------------
def test_dialogs_are_answered_at_most_three_times(config: Config) -> None:
    state = idle_state("sup", 1, dialog="trust", dialog_keys=["Enter"])
    answers = [dialogs(make_tick(config, state=state)) for _ in range(5)]
    assert [len(a) for a in answers] == [1, 1, 1, 0, 0]
    assert answers[0] == [Keys("sup", ("Enter",), "dialog: trust")]


def test_failed_deliveries_are_retried_then_abandoned_loudly(config: Config) -> None:
    state = WatchdogState()
    state.agent("sup").pending = [Pending("hello", "ping", "claim", NOW - 100, attempts=2, next_try=NOW - 1)]
    assert kinds(redeliver(make_tick(config, state=state))) == [("Send", "sup", "ping")]
    assert len(state.agent("sup").pending) == 1  # kept until the executor sees it delivered
    state.agent("sup").pending[0].attempts = 10
    assert kinds(redeliver(make_tick(config, state=state))) == [("Note", "sup", "delivery-abandoned")]
    assert state.agent("sup").pending == []


def test_state_round_trips_through_json(tmp_path: Path) -> None:
    state = WatchdogState()
    st = state.agent("a")
    st.facts = facts(waiting_until=NOW + 5, dialog_keys=["Enter"])
    st.limit = LimitWindow("b", NOW, NOW + 1, NOW - 1, probe_sent_at=NOW)
    st.pending = [Pending("t", "ping", "r", NOW)]
    st.restarts = [NOW - 1, NOW]
    state.phase.index = 2
    save_state(tmp_path, state)
    assert load_state(tmp_path) == state
    (tmp_path / "state" / "watchdog.json").write_text("{torn")
    assert load_state(tmp_path) == WatchdogState()
    assert (tmp_path / "state" / "watchdog.json.corrupt").exists()


def test_needs_human_agent_is_left_alone_by_every_policy(config: Config) -> None:
    state = idle_state("sup", 5000)
    state.agent("sup").needs_human = "crash loop"
    state.agent("sup").next_wake_at = NOW
    actions = run_policies(make_tick(config, state=state, panes={"sup": None}))
    assert not any(a.agent == "sup" and not isinstance(a, Note) for a in actions)


def test_a_limit_window_of_a_dead_agent_closes_when_over_so_heal_can_act(config: Config) -> None:
    state = WatchdogState()
    state.agent("sup").limit = LimitWindow("banner", None, NOW - 1, NOW - 3600)
    tick = make_tick(config, state=state, panes={"sup": None})
    assert kinds(usage_limits(tick)) == [("Note", "sup", "usage-limit-over")]
    assert kinds([a for a in heal(tick) if a.agent == "sup"]) == [("Start", "sup", "heal")]


def test_no_window_for_a_busy_agent_or_a_banner_already_waited_out(config: Config) -> None:
    busy = idle_state("sup", 10, limit_banner="You've hit your session limit · resets 4am", limit_reset=NOW - 3600, active=True)
    assert usage_limits(make_tick(config, state=busy)) == []
    old = idle_state("sup", 10, limit_banner="You've hit your session limit · resets 4am", limit_reset=NOW - 3600)
    old.agent("sup").last_limit_banner = "You've hit your session limit · resets 4am"
    assert usage_limits(make_tick(config, state=old)) == []
