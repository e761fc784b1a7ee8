"""A typo in agents.toml never locks the user out of a running team: the verbs that look or stop
run on the last good config (with one warning line naming the error); `up` and `validate` refuse.
Real tmux on a private socket, real files, the demo backend."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from agent_orchestrator.cli.app import app, normalize_argv
from agent_orchestrator.runtime.tmux import TmuxRuntime
from tests.support.tmux import wait_until, write_config

runner = CliRunner()

TEAM = """
[[agent]]
name = "alice"
prompt = "You are alice."

[[agent]]
name = "bob"

[loop]
kickoff = "kickoff.md"
phases = [{ id = "p1", plan = "plan.md", status = "status.md" }]
"""


def agents(*args: str):
    return runner.invoke(app, normalize_argv(list(args)))


def team(tmp_path: Path, socket: str) -> Path:
    (tmp_path / "kickoff.md").write_text("Phase {phase_id}: {plan}")
    (tmp_path / "plan.md").write_text("the plan")
    return write_config(tmp_path, socket, TEAM)


def typo(path: Path) -> str:
    """Add `wach = "heal+stall"` to bob; returns the error line validate gives for it."""
    path.write_text(path.read_text().replace('name = "bob"', 'name = "bob"\nwach = "heal+stall"'))
    return f'{path}: agent[1].wach: unknown key; did you mean "watch"?'


def test_status_logs_phase_tokens_flags_attach_and_down_work_on_the_last_good_config(tmp_path: Path, socket: str) -> None:
    path = team(tmp_path, socket)
    config = str(path)
    up = agents("up", "--config", config)
    assert up.exit_code == 0, up.output
    assert wait_until(lambda: "demo>" in agents("logs", "alice", "--config", config).output)
    error = typo(path)

    for verb in (["status"], ["logs", "alice"], ["phase", "show"], ["tokens"], ["flags"]):
        result = agents(*verb, "--config", config)
        assert result.exit_code == 0, (verb, result.output)
        warning = [line for line in result.output.splitlines() if line.startswith("warning:")]
        assert len(warning) == 1 and warning[0].startswith(f"warning: {error}; using the last good config (saved "), (verb, result.output)
    status = agents("status", "--json", "--config", config)
    rows = {a["name"]: a["state"] for a in json.loads(status.output[status.output.index("{"):])["agents"]}
    assert rows == {"alice": "running", "bob": "running", "watchdog": "running"}

    for refused in (["up"], ["validate"]):
        result = agents(*refused, "--config", config)
        assert result.exit_code == 2 and result.output.splitlines() == [error], (refused, result.output)

    down = agents("down", "bob", "--config", config)
    assert down.exit_code == 0 and "stopped" in down.output, down.output
    attach = agents("attach", "bob", "--config", config)
    assert attach.exit_code == 1 and "bob is not running" in attach.output  # the config was usable: the agent is just stopped
    everything = agents("down", "--config", config)
    assert everything.exit_code == 0, everything.output
    assert TmuxRuntime(socket).observe() == {}


def test_found_through_the_index_even_when_the_toml_itself_is_broken(tmp_path: Path, socket: str) -> None:
    path = team(tmp_path, socket)
    assert agents("validate", "--config", str(path)).exit_code == 0
    path.write_text(path.read_text().replace('name = "bob"', 'name = "bob'))  # an unclosed string: no [defaults] to read
    result = agents("status", "--config", str(path))
    assert result.exit_code == 0, result.output
    assert "invalid TOML" in result.output and "using the last good config" in result.output and "alice" in result.output


def test_found_through_defaults_log_dir_when_there_is_no_index(tmp_path: Path, socket: str) -> None:
    from agent_orchestrator.config import lastgood

    path = team(tmp_path, socket)
    assert agents("validate", "--config", str(path)).exit_code == 0
    shutil.rmtree(lastgood.state_home())  # another HOME, a wiped index: the file still says where log_dir is
    typo(path)
    result = agents("status", "--config", str(path))
    assert result.exit_code == 0 and "using the last good config" in result.output, result.output
    path.write_text(path.read_text().replace('name = "bob"', 'name = "bob'))  # and now it does not
    assert agents("status", "--config", str(path)).exit_code == 2


def test_without_a_last_good_config_the_error_stands(tmp_path: Path, socket: str) -> None:
    path = team(tmp_path, socket)
    error = typo(path)
    result = agents("status", "--config", str(path))
    assert result.exit_code == 2 and result.output.splitlines() == [error]


def test_a_copy_of_another_config_is_never_used(tmp_path: Path, socket: str) -> None:
    """Two configs sharing a log_dir: the copy names the config it was made from."""
    first = team(tmp_path, socket)
    other = tmp_path / "other"
    other.mkdir()
    second = other / "agents.toml"
    second.write_text(first.read_text().replace('log_dir = "run"', f'log_dir = "{tmp_path / "run"}"').replace(
        'kickoff = "kickoff.md"', f'kickoff = "{tmp_path / "kickoff.md"}"').replace('plan = "plan.md"', f'plan = "{tmp_path / "plan.md"}"'))
    assert agents("validate", "--config", str(first)).exit_code == 0
    typo(second)
    assert agents("status", "--config", str(second)).exit_code == 2


def test_the_watchdog_saves_each_config_it_reloads(tmp_path: Path, socket: str) -> None:
    from agent_orchestrator.config import lastgood
    from agent_orchestrator.watchdog.driver import Watchdog
    from tests.support.fake_runtime import Clock, FakeRuntime

    path = team(tmp_path, socket)
    dog = Watchdog(path, runtime=FakeRuntime(Clock()))
    path.write_text(path.read_text() + textwrap.dedent("""
        [[agent]]
        name = "carol"
    """))
    dog.reload()
    copy = lastgood.copy_path(tmp_path / "run").read_text()
    assert 'name = "carol"' in copy and copy.splitlines()[1:] == path.read_text().splitlines()
    typo(path)
    dog.reload()  # does not validate: the copy stays the last good one
    assert lastgood.copy_path(tmp_path / "run").read_text() == copy
    result = agents("status", "--json", "--config", str(path))
    names = [a["name"] for a in json.loads(result.output[result.output.index("{"):])["agents"]]
    assert names == ["alice", "bob", "carol", "watchdog"]
