"""Startup dialogs: (state, screen) → the backend's keys, at most three times per start."""

from __future__ import annotations

from typing import Any

import pytest

from agent_orchestrator.config import Config
from agent_orchestrator.watchdog.model import Keys
from agent_orchestrator.watchdog.policies.dialogs import dialogs
from agent_orchestrator.watchdog.state import AgentState, WatchdogState
from tests.support.policies import NOW, facts, idle, pane, tick

TRUST = {"dialog": "trust", "dialog_keys": ["Enter"]}


# (state, tick keywords, actions, sup's dialogs_answered after)
DIALOGS: list[Any] = [
    pytest.param(idle("sup", 1, **TRUST), {}, (Keys("sup", ("Enter",), "dialog: trust"),), 1, id="answered"),
    pytest.param(idle("sup", 1, dialog="bypass", dialog_keys=["Down", "Enter"]), {}, (Keys("sup", ("Down", "Enter"), "dialog: bypass"),), 1,
                 id="several-keys"),
    pytest.param(idle("sup", 1, **TRUST).update_agent("sup", dialogs_answered=2), {}, (Keys("sup", ("Enter",), "dialog: trust"),), 3,
                 id="third-answer"),
    pytest.param(idle("sup", 1, **TRUST).update_agent("sup", dialogs_answered=3), {}, (), 3, id="no-fourth-answer"),
    pytest.param(idle("sup", 1, **TRUST), {"captured": False}, (), 0, id="not-captured-this-tick"),
    pytest.param(idle("sup", 1, **TRUST), {"panes": {"sup": pane("t-sup", dead=True, status=1)}}, (), 0, id="dead-pane"),
    pytest.param(idle("sup", 1, dialog="trust"), {}, (), 0, id="no-keys-configured"),
    pytest.param(idle("sup", 1), {}, (), 0, id="no-dialog"),
]


@pytest.mark.parametrize("state,observed,actions,answered", DIALOGS)
def test_dialogs(config: Config, state: WatchdogState, observed: dict[str, Any], actions: tuple[Keys, ...], answered: int) -> None:
    step = dialogs(tick(config, state, **observed))
    assert step.actions == actions
    assert step.state == state.update_agent("sup", dialogs_answered=answered)


def test_dialogs_are_answered_at_most_three_times_per_start(config: Config) -> None:
    state = idle("sup", 1, **TRUST)
    answers = []
    for i in range(5):
        step = dialogs(tick(config, state, now=NOW + i))
        answers.append(step.actions)
        state = step.state
    assert [len(a) for a in answers] == [1, 1, 1, 0, 0]
    assert answers[0] == (Keys("sup", ("Enter",), "dialog: trust"),)
    assert state.agent("sup").dialogs_answered == 3
    assert state.agent("builder") == AgentState() and state.agent("job") == AgentState()
    # a start resets the count (see on_start): the new session's dialog is answered again
    restarted = state.update_agent("sup", dialogs_answered=0, facts=facts(**TRUST))
    assert len(dialogs(tick(config, restarted)).actions) == 1
