"""Watcher agents in agents.toml (defaults, validation, the launch command) and the verbs
`watcher run` (and its former name `watch`), `flags`, `flags resolve` and the flags column of `status`."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_orchestrator.cli.app import app, normalize_argv
from agent_orchestrator.config import ConfigError, load_config
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.watchers.decisions import Entity, FlagWatcher, namespace
from agent_orchestrator.watchers.ledger import DecisionLedger
from agent_orchestrator.watchers.loop import flag_tick

BASE = """
[defaults]
session_prefix = "t-"
log_dir = "run"
backend = "demo"
watch = "heal+stall"
tmux_socket = "ao-test-watchers-cli-unused"

[[agent]]
name = "lead"
"""

WATCHER = """
[[agent]]
name = "claims"
backend = "watcher"
watcher = "claims"
notify = "lead"
"""


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "agents.toml"
    path.write_text(textwrap.dedent(BASE) + textwrap.dedent(body), encoding="utf-8")
    return path


def errors(tmp_path: Path, body: str) -> list[str]:
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return [line.split(": ", 1)[1] for line in info.value.lines]


def test_a_watcher_agent_is_off_by_default_and_healed_not_stall_checked(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, WATCHER + '\n[[agent]]\nname = "on"\nbackend = "watcher"\nwatcher = "held"\nenabled = true\n'))
    off, on = config.agent("claims"), config.agent("on")
    assert off is not None and on is not None
    assert (off.enabled, off.watch, off.kind, off.window, off.interval) == (False, "heal", "persistent", 1800.0, 60.0)
    assert on.enabled and [a.name for a in config.watchers()] == ["claims", "on"]
    assert config.agent("lead").enabled and not config.is_watcher(config.agent("lead"))  # type: ignore[arg-type]


def test_the_watcher_launch_runs_agents_watcher_run_with_this_config(tmp_path: Path) -> None:
    path = write(tmp_path, WATCHER)
    project = Project(load_config(path))
    launch = project.launch_of(project.config.agent("claims"))  # type: ignore[arg-type]
    assert launch.argv == [sys.executable, "-m", "agent_orchestrator", "watcher", "run", "claims", "--config", str(path.resolve())]
    assert not (project.log_dir / "prompts").exists()


@pytest.mark.parametrize("body,expected", [
    ('[[agent]]\nname = "w"\nbackend = "watcher"\n',
     ['agent[1].watcher: required for a watcher agent: a built-in (claims, phases, inboxes, held, issue-runs), "module:factory" or "command"']),
    ('[[agent]]\nname = "w"\nbackend = "watcher"\nwatcher = "claim"\n',
     ['agent[1].watcher: "claim" is not a built-in (claims, phases, inboxes, held, issue-runs), "command" or "module:factory"; did you mean "claims"?']),
    ('[[agent]]\nname = "w"\nbackend = "watcher"\nwatcher = "command"\n',
     ['agent[1].watcher_cmd: required for watcher = "command": the argv that prints the entities as JSON lines']),
    ('[[agent]]\nname = "w"\nwatcher = "claims"\nwindow = 5\n',
     ['agent[1].watcher: only for watcher agents (backend = "watcher")', 'agent[1].window: only for watcher agents (backend = "watcher")']),
    ('[[agent]]\nname = "w"\nbackend = "watcher"\nwatcher = "claims"\nnotify = "leed"\n',
     ['agent[1].notify: "leed" names no agent (agents: lead, w); did you mean "lead"?']),
    ('[[agent]]\nname = "w"\nbackend = "watcher"\nwatcher = "claims"\nnotify = "w"\n',
     ['agent[1].notify: "w" is a watcher; notify names the agent that acts on the flags']),
    ('[[agent]]\nname = "w"\nbackend = "watcher"\nwatcher = "issue-runs"\nfix_budget = -1\n',
     ['agent[1].ci_cmd: required for watcher = "issue-runs": argv printing green, red or pending, e.g. ["./ci-status.sh", "{commit}"]',
      'agent[1].fix_budget: expected a count >= 0, got -1']),
    ('[[agent]]\nname = "w"\nbackend = "watcher"\nwatcher = "claims"\nci_cmd = ["x"]\nwatcher_cmd = ["y"]\n',
     ['agent[1].watcher_cmd: only for watcher = "command"', 'agent[1].ci_cmd: only for watcher = "issue-runs"']),
    ('[[agent]]\nname = "w"\nbackend = "watcher"\nwatcher = "mod:make"\nkind = "task"\nwake = {interval = 5}\ninterval = 0\n',
     ['agent[1].interval: expected a value > 0, got 0', 'agent[1].kind: a watcher agent is kind = "persistent", got "task"',
      'agent[1].wake: a watcher agent takes no prompt or wake (its backend runs `agents watcher run`)']),
], ids=["no watcher", "misspelt", "command without argv", "keys on a plain agent", "unknown notify", "notify a watcher",
        "issue-runs needs ci_cmd", "keys of other kinds", "kind, wake, interval"])
def test_bad_watcher_configs_give_exact_lines(tmp_path: Path, body: str, expected: list[str]) -> None:
    assert errors(tmp_path, body) == expected


# -- verbs ----------------------------------------------------------------------------------------

runner = CliRunner()


def agents(*args: str):
    return runner.invoke(app, normalize_argv(list(args)))


def seed(log_dir: Path, host: str = "claims", n: int = 2) -> list[str]:
    w = FlagWatcher("t", namespace("t"), "claim-unreviewed", "flag-claim",
                    lambda now: [Entity(f"claim:g{i}", "claimed", 1000.0 + i, summary=f"gate G{i}") for i in range(n)])
    return [d.id for d in flag_tick(w, DecisionLedger(log_dir), host=host, now=5000.0, window=60).new]


def test_flags_lists_and_resolves_decisions(tmp_path: Path) -> None:
    path = write(tmp_path, WATCHER)
    assert "no decisions" in agents("flags", "--config", str(path)).output
    ids = seed(tmp_path / "run")
    shown = agents("flags", "--config", str(path))
    assert shown.exit_code == 0 and ids[0][:8] in shown.output and "gate G1" in shown.output and "2 decisions, 2 open" in shown.output
    done = agents("flags", "resolve", ids[0][:8], "--note", "reviewed by hand", "--config", str(path))
    assert done.exit_code == 0 and f"resolved {ids[0]}" in done.output
    again = agents("flags", "resolve", ids[0], "--config", str(path))
    assert again.exit_code == 0 and "already resolved" in again.output
    assert agents("flags", "resolve", "zzzz", "--config", str(path)).exit_code == 2
    listed = json.loads(agents("flags", "--json", "--config", str(path)).output)
    assert [(f["id"], f["open"]) for f in listed] == [(ids[0], False), (ids[1], True)]
    assert listed[0]["resolution"]["note"] == "reviewed by hand" and listed[0]["resolution"]["by"].startswith("operator")
    open_only = json.loads(agents("flags", "--open", "--json", "--config", str(path)).output)
    assert [f["id"] for f in open_only] == [ids[1]]
    lines = (tmp_path / "run" / "decisions.jsonl").read_text().splitlines()
    assert [json.loads(x)["record"] for x in lines] == ["decision", "decision", "resolution"]


def test_status_shows_each_watchers_open_flags(tmp_path: Path) -> None:
    path = write(tmp_path, WATCHER)
    seed(tmp_path / "run", n=3)
    shown = agents("status", "--config", str(path))
    assert shown.exit_code == 0, shown.output
    row = next(line for line in shown.output.splitlines() if line.strip().startswith("claims"))
    assert "3 open" in row
    payload = json.loads(agents("status", "--json", "--config", str(path)).output)
    assert {a["name"]: a.get("open_flags") for a in payload["agents"]} == {"lead": None, "claims": 3, "watchdog": None}
    assert {a["name"]: a["state"] for a in payload["agents"]}["claims"] == "disabled"  # off by default


def test_watcher_run_and_its_hidden_former_name_refuse_an_agent_that_is_not_a_watcher(tmp_path: Path) -> None:
    path = write(tmp_path, WATCHER)
    for verb in (["watcher", "run"], ["watch"]):
        done = agents(*verb, "lead", "--config", str(path))
        assert done.exit_code == 2 and "lead is not a watcher agent" in done.output, verb
        assert agents(*verb, "nobody", "--config", str(path)).exit_code == 2
    listing = agents("--help").output
    assert "watcher" in listing and not any(line.split()[1:2] == ["watch"] for line in listing.splitlines() if line.strip())
