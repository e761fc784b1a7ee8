"""`down X` then `up X` leaves X supervised, whenever the watchdog ticks — before, between or after.

The watchdog's ticks are taken by hand: the test holds the project lock while the verbs run (the
watchdog `up` starts in tmux cannot take it and exits) and kills that watchdog's session before it
lets go, then runs one tick in-process. Real tmux on a private socket, the demo backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from typer.testing import CliRunner

from agent_orchestrator.cli.app import app, normalize_argv
from agent_orchestrator.runtime.tmux import TmuxRuntime
from agent_orchestrator.watchdog.driver import Watchdog
from agent_orchestrator.watchdog.lock import ProjectLock
from agent_orchestrator.watchdog.state import load_state
from tests.support.tmux import write_config

runner = CliRunner()


def agents(*args: str):
    result = runner.invoke(app, normalize_argv(list(args)))
    assert result.exit_code == 0, (args, result.output)
    return result


@contextmanager
def no_ticks(path: Path, socket: str) -> Iterator[None]:
    """No watchdog ticks while the block runs, and none of its own after it."""
    lock = ProjectLock(path.parent / "run")
    lock.acquire()
    try:
        yield
    finally:
        TmuxRuntime(socket).kill("t-watchdog")
        lock.release()


def tick(path: Path) -> None:
    Watchdog(path).run(once=True)


def paused(path: Path, name: str) -> bool:
    return load_state(path.parent / "run").agent(name).paused


def test_down_then_up_resumes_even_before_the_watchdog_applied_the_pause(tmp_path: Path, socket: str) -> None:
    path = write_config(tmp_path, socket, '[[agent]]\nname = "alice"\n')
    config = str(path)
    with no_ticks(path, socket):
        agents("up", "alice", "--config", config)
        agents("down", "alice", "--config", config)  # a pause waits for the next tick ...
        agents("up", "alice", "--config", config)    # ... and `up` must undo it all the same
    tick(path)  # applies both, in order
    assert not paused(path, "alice")


def test_down_then_up_resumes_when_the_watchdog_applied_the_pause_in_between(tmp_path: Path, socket: str) -> None:
    path = write_config(tmp_path, socket, '[[agent]]\nname = "alice"\n')
    config = str(path)
    with no_ticks(path, socket):
        agents("up", "alice", "--config", config)
        agents("down", "alice", "--config", config)
    tick(path)
    assert paused(path, "alice")  # stopped by hand: not healed
    with no_ticks(path, socket):
        agents("up", "alice", "--config", config)
    tick(path)
    assert not paused(path, "alice")


def test_up_of_another_agent_does_not_resume_a_stopped_one(tmp_path: Path, socket: str) -> None:
    path = write_config(tmp_path, socket, '[[agent]]\nname = "alice"\n\n[[agent]]\nname = "bob"\n')
    config = str(path)
    with no_ticks(path, socket):
        agents("up", "--config", config)
        agents("down", "alice", "--config", config)
        agents("up", "bob", "--config", config)
    tick(path)
    assert paused(path, "alice") and not paused(path, "bob")
