"""Redelivery: (pending messages, screen, now) → retries, or a loud give-up after ten attempts."""

from __future__ import annotations

from typing import Any

import pytest

from agent_orchestrator.config import Config
from agent_orchestrator.watchdog.model import Action, Note, Send
from agent_orchestrator.watchdog.policies.redeliver import redeliver
from agent_orchestrator.watchdog.state import AgentState, LimitWindow, Pending
from tests.support.policies import NOW, facts, pane, state_of, tick

DUE = Pending("hello", "ping", "claim", NOW - 100, attempts=2, next_try=NOW - 1, last_error="not submitted")
LATER = Pending("later", "nudge", "stalled", NOW - 10, attempts=1, next_try=NOW + 30)
SPENT = Pending("hello", "ping", "claim", NOW - 1000, attempts=10, next_try=NOW - 1, last_error="not submitted")
RETRY = Send("sup", "hello", "ping", "retry 3 of a failed ping")
ABANDONED = Note("sup", "delivery-abandoned", "ping not delivered after 10 attempts: not submitted", {"text": "hello"})

# (sup's state, tick keywords, actions, sup's pending after)
REDELIVER: list[Any] = [
    # kept until the executor sees it delivered (settle drops it)
    pytest.param(AgentState(pending=(DUE,)), {}, (RETRY,), (DUE,), id="due-retried"),
    pytest.param(AgentState(pending=(LATER,)), {}, (), (LATER,), id="not-due-yet"),
    pytest.param(AgentState(pending=(DUE, LATER)), {}, (RETRY,), (DUE, LATER), id="only-the-due-one"),
    pytest.param(AgentState(pending=(SPENT,)), {}, (ABANDONED,), (), id="abandoned-after-ten-attempts"),
    pytest.param(AgentState(pending=(SPENT, LATER)), {}, (ABANDONED,), (LATER,), id="abandoned-one-kept-the-other"),
    pytest.param(AgentState(pending=(DUE,)), {"screen": {"sup": facts(active=True)}}, (), (DUE,), id="busy-agent-waits"),
    pytest.param(AgentState(pending=(DUE,)), {"panes": {"sup": pane("t-sup", dead=True)}}, (), (DUE,), id="dead-agent-waits"),
    pytest.param(AgentState(pending=(DUE,), paused=True), {}, (), (DUE,), id="paused"),
    pytest.param(AgentState(pending=(SPENT,), limit=LimitWindow("b", None, NOW + 60, NOW)), {}, (), (SPENT,), id="limited"),
]


@pytest.mark.parametrize("st,observed,actions,pending", REDELIVER)
def test_redeliver(config: Config, st: AgentState, observed: dict[str, Any], actions: tuple[Action, ...],
                   pending: tuple[Pending, ...]) -> None:
    state = state_of(sup=st)
    step = redeliver(tick(config, state, **observed))
    assert step.actions == actions
    assert step.state == state.update_agent("sup", pending=pending)
