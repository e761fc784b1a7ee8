"""A `[[host]]` that does not answer, through the whole decision (`decide`): its agents are left
alone — no heal, no delivery, no phase restart into the unknown — the host is noted once when it
goes and once when it is back, and what waited goes out then. Pure: no ssh, no tmux, no clock."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from agent_orchestrator.config import Config
from agent_orchestrator.watchdog.decide import decide
from agent_orchestrator.watchdog.model import CommitView, GitView, Observation
from agent_orchestrator.watchdog.state import WatchdogState
from tests.support.policies import NOW, kinds, observation, pane, write_config

TWO_HOSTS = """
[defaults]
session_prefix = "t-"
log_dir = "run"
backend = "demo"
watch = "heal+stall"

[[host]]
name = "b"
ssh = "me@b"
log_dir = "/srv/run"

[loop]
kickoff = "kickoff.md"
phases = [{ id = "p1", plan = "plan.md", status = "s1.md" }, { id = "p2", plan = "plan.md", status = "s2.md" }]

[loop.handoff]
claim_pings = "adversary"

[[agent]]
name = "builder"
kind = "loop"

[[agent]]
name = "adversary"
kind = "loop"
host = "b"
dir = "/srv/review"

[[service]]
name = "model"
cmd = ["true"]
host = "b"
"""


def config_of(tmp_path: Path) -> Config:
    return write_config(tmp_path, TWO_HOSTS)


def away(config: Config, obs: Observation, reason: str = "Connection refused") -> Observation:
    """`obs` as the observer builds it when host b does not answer: b's agents and services left out."""
    on_b = {a.name for a in config.agents if a.host == "b"}
    off_b = {s.name for s in config.services if s.host != "b"}
    return replace(obs, agents={n: a for n, a in obs.agents.items() if n not in on_b},
                   services={n: s for n, s in obs.services.items() if n in off_b}, unreachable={"b": reason})


def test_an_unreachable_host_is_noted_once_and_its_agents_are_not_healed(tmp_path: Path) -> None:
    config = config_of(tmp_path)
    # the control: with b answering and the adversary's session gone, a heavy tick heals it
    gone = observation(config, panes={"adversary": None}, services={"model": pane("t-model")})
    healed = decide(config, WatchdogState(), gone, NOW)
    assert ("Start", "adversary", "heal") in kinds(healed.actions)
    # b does not answer: nothing is started there, the builder still is
    both_gone = observation(config, panes={"adversary": None, "builder": None}, services={"model": None})
    step = decide(config, WatchdogState(), away(config, both_gone), NOW)
    assert kinds(step.actions) == [("Note", "", "host-unreachable"), ("Start", "builder", "heal")]
    note = step.actions[0]
    assert note.details == {"host": "b", "agents": ["adversary", "model"]}  # type: ignore[union-attr]
    assert step.state.hosts == {"b": NOW}
    # still silent a tick later: no second note, still no start there
    later = decide(config, step.state, away(config, observation(config, now=NOW + 60, panes={"adversary": None})), NOW + 60)
    assert [k for k in kinds(later.actions) if k[1] in ("adversary", "model") or k[2].startswith("host")] == []
    # back: noted with how long it was away, and what it shows is acted on again
    back = decide(config, later.state, observation(config, now=NOW + 120, panes={"adversary": None}, services={"model": pane("t-model")}),
                  NOW + 120)
    assert ("Note", "", "host-reachable") in kinds(back.actions) and ("Start", "adversary", "heal") in kinds(back.actions)
    assert back.state.hosts == {}
    reachable = next(a for a in back.actions if kinds([a]) == [("Note", "", "host-reachable")])
    assert reachable.details == {"host": "b", "away_s": 120.0}  # type: ignore[union-attr]


def test_a_phase_does_not_advance_past_an_agent_nobody_can_see(tmp_path: Path) -> None:
    config = config_of(tmp_path)
    done = GitView(ok=True, head="h1", status_done=True)
    step = decide(config, WatchdogState(), away(config, observation(config, git=done)), NOW)
    assert not any(k[0] == "PhaseChange" for k in kinds(step.actions))
    assert not any(k[0] == "Start" for k in kinds(step.actions)) and step.state.phase.index == 0
    back = decide(config, step.state, observation(config, now=NOW + 30, git=done), NOW + 30)
    assert back.state.phase.index == 1
    assert ("Start", "builder", "advance") in kinds(back.actions) and ("Start", "adversary", "advance") in kinds(back.actions)


def test_a_ping_for_an_agent_on_a_silent_host_waits_in_its_outbox(tmp_path: Path) -> None:
    config = config_of(tmp_path)
    first = decide(config, WatchdogState(), observation(config, git=GitView(ok=True, head="h0")), NOW)
    claim = GitView(ok=True, head="h1", commits=(CommitView("h1", "claim(G1): parser", NOW + 5),))
    step = decide(config, first.state, away(config, observation(config, now=NOW + 10, git=claim)), NOW + 10)
    assert [m.kind for m in step.state.agent("adversary").outbox] == ["ping"]
    assert not any(k[0] == "Deliver" for k in kinds(step.actions))
    back = decide(config, step.state, observation(config, now=NOW + 20, git=GitView(ok=True, head="h1")), NOW + 20)
    assert ("Deliver", "adversary", "submit") in kinds(back.actions)
