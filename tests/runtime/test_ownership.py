"""Two projects with the same session_prefix on one tmux server never take over each other's sessions:
each session carries its project's config path (`@ao_project`), and the other project's verbs and
watchdog leave it alone, saying whose it is. Real tmux on a private socket, the demo backend."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from agent_orchestrator.cli.app import app, normalize_argv
from agent_orchestrator.runtime.tmux import TmuxRuntime
from agent_orchestrator.watchdog.events import read_events
from tests.support.tmux import screen_has, wait_until, write_config

runner = CliRunner()
TEAM = '[[agent]]\nname = "alice"\nprompt = "hi"\n'


def agents(*args: str):
    return runner.invoke(app, normalize_argv(list(args)))


def two_projects(tmp_path: Path, socket: str) -> tuple[Path, Path]:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    return write_config(first, socket, TEAM), write_config(second, socket, TEAM)


def test_sessions_carry_their_project_and_the_other_project_leaves_them_alone(tmp_path: Path, socket: str) -> None:
    a, b = two_projects(tmp_path, socket)
    assert agents("up", "--config", str(a)).exit_code == 0
    tmux = TmuxRuntime(socket)
    assert wait_until(screen_has(tmux, "t-alice", "demo>"))
    before = tmux.observe()
    assert {name: pane.owner for name, pane in before.items()} == {"t-alice": str(a), "t-watchdog": str(a)}
    owned = f"belongs to another project ({a})"

    up = agents("up", "--config", str(b))
    assert up.exit_code == 1 and "left alone" not in up.output
    assert f"session t-alice {owned}" in up.output and f"session t-watchdog {owned}" in up.output

    status = agents("status", "--config", str(b))
    assert status.exit_code == 0 and f"alice: session t-alice {owned}" in status.output
    rows = {r["name"]: (r["state"], r["owner"]) for r in json.loads(agents("status", "--json", "--config", str(b)).output)["agents"]}
    assert rows == {"alice": ("foreign", str(a)), "watchdog": ("foreign", str(a))}

    down = agents("down", "--config", str(b))
    assert down.exit_code == 0 and down.output.count("skipped") == 2 and down.output.count(f"belongs to another project: {a}") == 2
    for verb in (["send", "alice", "--now", "hello"], ["restart", "alice"], ["attach", "alice"], ["logs", "alice"]):
        result = agents(*verb, "--config", str(b))
        assert result.exit_code == 1 and owned in result.output, (verb, result.output)

    after = tmux.observe()
    assert {n: p.pid for n, p in after.items()} == {n: p.pid for n, p in before.items()}  # nothing was restarted or killed
    assert "hello" not in "\n".join(tmux.capture_history("t-alice", 50))  # nor typed into

    assert agents("down", "--config", str(a)).exit_code == 0
    assert tmux.observe() == {}


def test_the_other_projects_watchdog_does_not_heal_or_ping_a_foreign_session(tmp_path: Path, socket: str) -> None:
    from agent_orchestrator.watchdog.driver import Watchdog

    a, b = two_projects(tmp_path, socket)
    assert agents("up", "alice", "--config", str(a)).exit_code == 0
    tmux = TmuxRuntime(socket)
    assert wait_until(screen_has(tmux, "t-alice", "demo>"))
    pid = tmux.observe()["t-alice"].pid
    Watchdog(b).run(once=True)  # B's first tick is a heavy one: it would heal a missing alice
    assert tmux.observe()["t-alice"].pid == pid
    failed = [e for e in read_events(b.parent / "run") if e["action"] == "heal-failed"]
    assert failed and f"session t-alice belongs to another project ({a})" in failed[0]["reason"]
    assert agents("down", "--config", str(a)).exit_code == 0


def test_an_untagged_session_still_counts_as_the_projects_own(tmp_path: Path, socket: str) -> None:
    """Sessions started before tags existed are adopted as before."""
    path = write_config(tmp_path, socket, TEAM)
    tmux = TmuxRuntime(socket)
    tmux.cmd("new-session", "-d", "-s", "t-alice", "--", "sleep", "600")
    assert tmux.observe()["t-alice"].owner == ""
    up = agents("up", "alice", "--config", str(path))
    assert up.exit_code == 0 and "left alone" in up.output
    assert agents("down", "--config", str(path)).exit_code == 0
    assert tmux.observe() == {}
