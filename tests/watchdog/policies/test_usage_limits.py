"""Usage limits: (state, screen, now) → windows opened, probes, re-arms and closes."""

from __future__ import annotations

from typing import Any

import pytest

from agent_orchestrator.config import Config
from agent_orchestrator.screen.facts import ScreenFacts
from agent_orchestrator.watchdog.decide import decide
from agent_orchestrator.watchdog.model import Action, Note, Send, Start
from agent_orchestrator.watchdog.policies.heal import heal
from agent_orchestrator.watchdog.policies.usage_limits import PROBE, usage_limits
from agent_orchestrator.watchdog.state import AgentState, LimitWindow
from tests.support.policies import NOW, facts, idle, kinds, observation, state_of, tick

BANNER = "You've hit your session limit · resets 3pm"
LATER = "You've hit your session limit · resets 5pm"


def opened(banner: str, reset: float | None, until: float) -> tuple[tuple[Action, ...], LimitWindow]:
    return (Note("sup", "usage-limit", banner, {"reset_at": reset, "quiet_until": until}),), LimitWindow(banner, reset, until, NOW)


# (sup's state, sup's screen this tick, actions, sup's limit window after) — a window opens
OPEN: list[Any] = [
    pytest.param(AgentState(), facts(limit_banner=BANNER, limit_reset=NOW + 600), *opened(BANNER, NOW + 600, NOW + 630),
                 id="until-reset-plus-slack"),
    pytest.param(AgentState(), facts(limit_banner="You're out of usage credits"), *opened("You're out of usage credits", None, NOW + 900),
                 id="unparseable-probes-after-the-fallback"),
    pytest.param(AgentState(), facts(limit_banner=BANNER, limit_reset=NOW - 3600), *opened(BANNER, NOW - 3600, NOW),
                 id="stale-reset-probes-now"),
    pytest.param(AgentState(last_limit_banner=BANNER), facts(limit_banner=LATER, limit_reset=NOW + 600), *opened(LATER, NOW + 600, NOW + 630),
                 id="a-new-banner-after-one-waited-out"),
    pytest.param(AgentState(), facts(limit_banner=BANNER, limit_reset=NOW - 3600, active=True), (), None, id="busy-agent-no-window"),
    pytest.param(AgentState(last_limit_banner=BANNER), facts(limit_banner=BANNER, limit_reset=NOW - 3600), (), None,
                 id="banner-already-waited-out"),
    pytest.param(AgentState(), facts(), (), None, id="no-banner"),
]


@pytest.mark.parametrize("st,screen,actions,window", OPEN)
def test_a_banner_opens_a_window(config: Config, st: AgentState, screen: ScreenFacts, actions: tuple[Action, ...],
                                 window: LimitWindow | None) -> None:
    state = state_of(sup=st)
    step = usage_limits(tick(config, state, screen={"sup": screen}))
    assert step.actions == actions
    assert step.state == (state if window is None else state.update_agent("sup", limit=window))


def test_a_dead_agent_opens_no_window(config: Config) -> None:
    state = idle("sup", 10, limit_banner=BANNER, limit_reset=NOW + 600)
    step = usage_limits(tick(config, state, panes={"sup": None}))
    assert step.actions == () and step.state == state


OPEN_WINDOW = LimitWindow("banner", NOW - 10, NOW, NOW - 700)
PROBED = LimitWindow("banner", NOW - 10, NOW - 100, NOW - 700, probe_sent_at=NOW - 5, probe_text=PROBE)


# (sup's window, sup's screen, alive, actions, sup's state changes after) — a window runs its course
RUN: list[Any] = [
    pytest.param(LimitWindow("banner", None, NOW + 10, NOW - 100), facts(limit_banner="banner"), True, (), {}, id="quiet-until-the-end"),
    pytest.param(OPEN_WINDOW, facts(limit_banner="banner", captured_at=NOW - 50), True,
                 (Send("sup", PROBE, "probe", "usage limit window over (banner)"),),
                 {"limit": LimitWindow("banner", NOW - 10, NOW, NOW - 700, probe_sent_at=NOW, probe_text=PROBE)}, id="over-one-probe"),
    pytest.param(LimitWindow("banner", None, NOW - 1, NOW - 1000, probe_text=PROBE), facts(limit_banner="banner", input=PROBE[:30]), True,
                 (), {}, id="no-probe-stacked-on-an-unsubmitted-one"),
    pytest.param(LimitWindow("banner", None, NOW - 1, NOW - 1000, probe_text=PROBE), facts(limit_banner="banner", input="something else"),
                 True, (Send("sup", PROBE, "probe", "usage limit window over (banner)"),),
                 {"limit": LimitWindow("banner", None, NOW - 1, NOW - 1000, probe_sent_at=NOW, probe_text=PROBE)},
                 id="other-input-does-not-hold-the-probe"),
    pytest.param(PROBED, facts(limit_banner="banner", captured_at=NOW - 5), True, (), {}, id="no-verdict-without-a-newer-screen"),
    pytest.param(PROBED, facts(limit_banner=LATER, limit_reset=NOW + 7200), True,
                 (Note("sup", "usage-limit-rearmed", LATER, {"reset_at": NOW + 7200, "quiet_until": NOW + 7230}),),
                 {"limit": LimitWindow(LATER, NOW + 7200, NOW + 7230, NOW - 700, probe_sent_at=None, probe_text=PROBE)},
                 id="banner-back-rearms-from-its-reset"),
    pytest.param(PROBED, facts(limit_banner="banner"), True,
                 (Note("sup", "usage-limit-rearmed", "banner", {"reset_at": None, "quiet_until": NOW + 900}),),
                 {"limit": LimitWindow("banner", None, NOW + 900, NOW - 700, probe_sent_at=None, probe_text=PROBE)},
                 id="banner-back-unparseable-falls-back"),
    pytest.param(PROBED, facts(limit_banner="banner", limit_reset=NOW - 60), True,
                 (Note("sup", "usage-limit-rearmed", "banner", {"reset_at": NOW - 60, "quiet_until": NOW + 900}),),
                 {"limit": LimitWindow("banner", NOW - 60, NOW + 900, NOW - 700, probe_sent_at=None, probe_text=PROBE)},
                 id="banner-back-with-a-past-reset-falls-back"),
    pytest.param(PROBED, facts(active=True), True, (Note("sup", "usage-limit-over", "the agent works again after the probe"),),
                 {"limit": None, "last_limit_banner": "banner", "idle_since": NOW}, id="working-again-closes"),
    pytest.param(PROBED, facts(), True, (Note("sup", "usage-limit-over", "the agent works again after the probe"),),
                 {"limit": None, "last_limit_banner": "banner", "idle_since": NOW}, id="banner-gone-closes"),
    pytest.param(LimitWindow("banner", None, NOW - 1, NOW - 3600), None, False,
                 (Note("sup", "usage-limit-over", "the window is over; the agent is not running"),), {"limit": None},
                 id="dead-agent-window-over-closes"),
    pytest.param(LimitWindow("banner", None, NOW + 1, NOW - 3600), None, False, (), {}, id="dead-agent-window-running"),
]


@pytest.mark.parametrize("window,screen,alive,actions,changes", RUN)
def test_a_window_runs_its_course(config: Config, window: LimitWindow, screen: ScreenFacts | None, alive: bool,
                                  actions: tuple[Action, ...], changes: dict[str, Any]) -> None:
    state = state_of(sup=AgentState(idle_since=NOW - 5000, limit=window))
    step = usage_limits(tick(config, state, screen={"sup": screen} if screen else None, panes=None if alive else {"sup": None}))
    assert step.actions == actions
    assert step.state == state.update_agent("sup", **changes)


def test_limit_probe_then_rearm_then_close(config: Config) -> None:
    state = state_of(sup=AgentState(limit=OPEN_WINDOW, facts=facts(limit_banner="banner", limit_reset=NOW - 10, captured_at=NOW - 50)))
    back = facts(limit_banner=LATER, limit_reset=NOW + 7200, captured_at=NOW + 6)
    timeline: list[tuple[float, ScreenFacts | None, list[tuple[str, str, str]]]] = [
        (NOW, None, [("Send", "sup", "probe")]),
        (NOW + 5, None, []),  # no verdict without a screen captured after the probe
        (NOW + 6, back, [("Note", "sup", "usage-limit-rearmed")]),
        (NOW + 100, back, []),  # quiet until the new reset + slack
        (NOW + 7230, back, [("Send", "sup", "probe")]),
        (NOW + 7240, facts(active=True, captured_at=NOW + 7240), [("Note", "sup", "usage-limit-over")]),
        (NOW + 7300, facts(limit_banner=LATER, captured_at=NOW + 7300), []),  # the old banner still on screen: waited out
    ]
    for now, screen, expected in timeline:
        step = usage_limits(tick(config, state, now=now, screen={"sup": screen} if screen else None))
        assert kinds(step.actions) == expected, now - NOW
        state = step.state
        if now == NOW + 6:
            assert state.agent("sup").limit == LimitWindow(LATER, NOW + 7200, NOW + 7230, NOW - 700, probe_text=PROBE)
    assert state.agent("sup").limit is None and state.agent("sup").last_limit_banner == LATER


def test_a_stale_banner_is_probed_on_the_next_tick(config: Config) -> None:
    state = idle("sup", 10, limit_banner=BANNER, limit_reset=NOW - 3600)
    step = usage_limits(tick(config, state))
    assert kinds(step.actions) == [("Note", "sup", "usage-limit")]
    assert usage_limits(tick(config, step.state, now=NOW + 1)).actions == (Send("sup", PROBE, "probe", f"usage limit window over ({BANNER})"),)


def test_a_limit_silences_stall_and_wake_then_heal_inside_the_window(config: Config) -> None:
    state = idle("sup", 5000, limit_banner=BANNER, limit_reset=NOW + 600).update_agent("sup", next_wake_at=NOW)
    step = decide(config, state, observation(config, panes={"builder": None}), NOW)
    assert kinds(step.actions) == [("Note", "sup", "usage-limit"), ("Start", "builder", "heal")]  # no stall reboot, no wake for sup
    window = step.state.agent("sup").limit
    assert window == LimitWindow(BANNER, NOW + 600, NOW + 630, NOW)
    assert step.state.agent("sup").next_wake_at == NOW  # deferred, not skipped
    # the session dies inside the window: not healed
    quiet = decide(config, step.state, observation(config, now=NOW + 100, panes={"sup": None}), NOW + 100)
    assert [a for a in quiet.actions if getattr(a, "agent", "") == "sup"] == []
    assert quiet.state.agent("sup").limit == window


def test_a_window_of_a_dead_agent_closes_when_over_so_heal_can_act(config: Config) -> None:
    state = state_of(sup=AgentState(limit=LimitWindow("banner", None, NOW - 1, NOW - 3600)))
    t = tick(config, state, panes={"sup": None})
    assert heal(t).actions == ()  # still inside the window as far as heal knows
    step = usage_limits(t)
    assert kinds(step.actions) == [("Note", "sup", "usage-limit-over")]
    assert heal(t.with_state(step.state)).actions == (Start("sup", "session gone", kind="heal"),)
    # the whole tick: the window closes and heal restarts the agent in the same tick
    whole = decide(config, state, observation(config, panes={"sup": None}), NOW)
    assert kinds(whole.actions) == [("Note", "sup", "usage-limit-over"), ("Start", "sup", "heal")]
