"""The tmux runtime and project operations against a real tmux server on a private socket."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.runtime.tmux import TmuxRuntime
from tests.support.tmux import screen_has, wait_until, write_config

pytestmark = pytest.mark.tmux

TEAM = """
[backend.crash]
bin = "python3"
flags = ["-c", "import sys; print('crashing'); sys.exit(3)"]
process_name = ["python3"]

[backend.shell]
bin = "bash"
flags = ["--norc", "--noprofile"]
process_name = ["some-agent"]

[[agent]]
name = "alice"
prompt = "You are alice; say hi."

[[agent]]
name = "crasher"
backend = "crash"

[[agent]]
name = "quitter"
backend = "shell"

[[agent]]
name = "off"
enabled = false

[[service]]
name = "svc"
cmd = ["python3", "-c", "import time; print('service up', flush=True); time.sleep(600)"]
"""


@pytest.fixture
def proj(tmp_path: Path, socket: str) -> Project:
    return Project(load_config(write_config(tmp_path, socket, TEAM)))


def states(proj: Project) -> dict[str, tuple[str, int | None]]:
    return {r.name: (r.state, r.exit_code) for r in proj.status()}


def test_status_of_a_project_that_is_not_up_starts_nothing(proj: Project, socket: str) -> None:
    assert states(proj) == {
        "alice": ("stopped", None), "crasher": ("stopped", None), "quitter": ("stopped", None),
        "off": ("disabled", None), "svc": ("stopped", None),
    }
    assert proj.runtime.server.cmd("list-sessions").returncode != 0  # no server was started


def test_up_status_down_and_use_or_create(proj: Project) -> None:
    outcomes = {o.name: o.action for o in proj.up(watchdog=False)}
    assert outcomes == {"alice": "started", "crasher": "started", "quitter": "started", "off": "disabled", "svc": "started"}
    assert wait_until(lambda: states(proj)["crasher"] == ("dead", 3)), states(proj)
    assert wait_until(screen_has(proj.runtime, "t-alice", "kickoff: You are alice; say hi."))
    assert wait_until(screen_has(proj.runtime, "t-svc", "service up"))
    now = states(proj)
    assert now["alice"] == ("running", None) and now["svc"] == ("running", None)
    # bash is a shell, not the backend's process: the agent "exited to a shell"
    assert now["quitter"] == ("exited", None)
    pids = {r.name: r.pid for r in proj.status()}

    again = {o.name: o.action for o in proj.up(watchdog=False)}
    assert again["alice"] == "running" and again["svc"] == "running"
    assert again["crasher"] == "restarted"  # a dead pane is not running: it is restarted in place
    assert {r.name: r.pid for r in proj.status()}["alice"] == pids["alice"]

    down = {o.name: o.action for o in proj.down()}
    assert down == {"watchdog": "absent", "alice": "stopped", "crasher": "stopped", "quitter": "stopped", "off": "absent", "svc": "stopped"}
    assert {o.action for o in proj.down()} == {"absent"}
    assert proj.runtime.observe() == {}


def test_send_is_pasted_submitted_and_verified(proj: Project) -> None:
    proj.up(["alice"], watchdog=False)
    assert wait_until(screen_has(proj.runtime, "t-alice", "demo>"))
    text = "line one; with /slash @at file.ext;\nline two"
    result = proj.send("alice", text)
    assert result.ok, result.reason
    assert wait_until(screen_has(proj.runtime, "t-alice", "echo: line two"))
    assert "echo: line one; with /slash @at file.ext;" in "\n".join(proj.logs("alice", 50))


def test_send_refuses_an_agent_that_exited_to_a_shell(proj: Project) -> None:
    proj.up(["quitter"], watchdog=False)
    assert wait_until(lambda: states(proj)["quitter"] == ("exited", None))
    result = proj.send("quitter", "echo should-not-run")
    assert not result.ok and "exited to a shell (bash)" in result.reason
    assert not screen_has(proj.runtime, "t-quitter", "should-not-run")()


def test_send_refuses_a_dead_agent(proj: Project) -> None:
    proj.up(["crasher"], watchdog=False)
    assert wait_until(lambda: states(proj)["crasher"] == ("dead", 3))
    result = proj.send("crasher", "hello")
    assert not result.ok and result.reason.startswith("the agent has exited (status 3)")


def test_long_kickoff_and_shell_metacharacters_reach_the_agent_verbatim(tmp_path: Path, socket: str) -> None:
    kickoff = "start; $(touch pwned) `id` 'quoted' \"dq\" ;\n" + "x" * 40_000 + "\nEND;"
    (tmp_path / "kickoff.txt").write_text(kickoff)
    proj = Project(load_config(write_config(tmp_path, socket, """
        [backend.argv]
        bin = "python3"
        flags = ["-c", "import sys, pathlib, time; pathlib.Path('got.txt').write_text(sys.argv[-1]); time.sleep(60)"]
        process_name = ["python3"]
        [[agent]]
        name = "k"
        backend = "argv"
        prompt_file = "kickoff.txt"
    """)))
    assert [o.action for o in proj.up(watchdog=False)] == ["started"]
    got = tmp_path / "got.txt"
    assert wait_until(got.exists)
    assert wait_until(lambda: got.read_text() == kickoff)
    assert not (tmp_path / "pwned").exists()


def test_missing_program_leaves_a_dead_pane_with_a_reason(tmp_path: Path, socket: str) -> None:
    proj = Project(load_config(write_config(tmp_path, socket, """
        [backend.ghost]
        bin = "no-such-agent-cli"
        [[agent]]
        name = "g"
        backend = "ghost"
    """)))
    proj.up(watchdog=False)
    assert wait_until(lambda: states(proj)["g"] == ("dead", 127))
    assert "cannot start 'no-such-agent-cli': not found on PATH" in "\n".join(proj.logs("g", 20))


def test_observe_reads_every_pane_in_one_call(proj: Project) -> None:
    proj.up(watchdog=False)
    runtime = TmuxRuntime(proj.config.defaults.tmux_socket)
    panes = runtime.observe()
    assert runtime.calls == 1
    assert set(panes) == {"t-alice", "t-crasher", "t-quitter", "t-svc"}
    assert all(p.window_activity > 1_700_000_000 for p in panes.values())


def test_exact_targets_do_not_prefix_match(tmp_path: Path, socket: str) -> None:
    proj = Project(load_config(write_config(tmp_path, socket, """
        [[agent]]
        name = "ab"
        prompt = "I am ab"
    """)))
    proj.up(watchdog=False)
    assert wait_until(screen_has(proj.runtime, "t-ab", "demo>"))
    # A session "t-a" does not exist: a prefix match would hit "t-ab".
    assert not proj.runtime.has_session("t-a")
    assert not proj.runtime.kill("t-a")
    assert states(proj)["ab"] == ("running", None)


def test_input_and_captures_go_to_the_agent_pane_even_after_a_split(proj: Project) -> None:
    proj.up(["alice"], watchdog=False)
    assert wait_until(screen_has(proj.runtime, "t-alice", "demo>"))
    # someone attached and split the window: the new (active) pane runs a shell
    proj.runtime.cmd("split-window", "-t", "=t-alice:", "bash", "--norc")
    result = proj.send("alice", "still to alice")
    assert result.ok, result.reason
    assert wait_until(screen_has(proj.runtime, "t-alice", "echo: still to alice"))
