"""How many tmux processes a watchdog tick spawns, counted (real `subprocess.Popen`s) over real
tmux and demo agents: at most two — one `list-panes`, one batch of captures — however many panes
changed. A count, not a time: the time is bench/watchdog_bench.py's."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.runtime.tmux import TmuxRuntime, target
from agent_orchestrator.watchdog.driver import Watchdog
from tests.support.harness import Harness
from tests.support.spawns import counting
from tests.support.tmux import screen_has, wait_until, write_config

pytestmark = pytest.mark.tmux

AGENTS = 8


def body(n: int) -> str:
    head = """
    [watchdog]
    signal_interval = 5
    """
    return head + "".join(f"""
    [[agent]]
    name = "a{i}"
    kind = "persistent"
    watch = "heal+stall"
    prompt = "You are agent {i}."
    """ for i in range(n))


def type_into(runtime: TmuxRuntime, sessions: list[str], text: str) -> None:
    """Make the panes print (one tmux command list; outside the counted ticks)."""
    args: list[str] = []
    for session in sessions:
        args += [*([";"] if args else []), "send-keys", "-t", target(session), "-l", text, ";", "send-keys", "-t", target(session), "Enter"]
    assert runtime.server.cmd(*args).returncode == 0


def test_every_tick_spawns_at_most_two_tmux_processes(tmp_path: Path, socket: str) -> None:
    path = write_config(tmp_path, socket, body(AGENTS))
    project = Project(load_config(path))
    assert not [o for o in project.up(watchdog=False) if o.failed]
    sessions = [a.session or "" for a in project.config.agents]
    for session in sessions:
        assert wait_until(screen_has(project.runtime, session, "demo>")), f"{session} did not start"
    dog = Watchdog(path)
    runtime = TmuxRuntime(socket)  # the test's own client, for typing into the panes
    seen: list[tuple[int, int, dict[str, int]]] = []  # (tmux processes, screens read, by subcommand)

    def tick() -> None:
        with counting() as spawned:
            result = dog.tick()
        screens = sum(1 for a in result.observation.agents.values() if a.screen is not None)
        seen.append((spawned.tmux, screens, dict(spawned.subcommands)))
        assert spawned.tmux <= 2, f"tick {len(seen)}: {spawned.tmux} tmux processes {dict(spawned.subcommands)}; actions {result.actions}"

    tick()  # the first tick reads every screen: still one batch
    assert seen[-1][1] == AGENTS and seen[-1][2] == {"list-panes": 1, "capture-pane": 1}
    for round_ in range(3):
        type_into(runtime, sessions, f"all of them print {round_}")  # every pane changes
        for session in sessions:
            assert wait_until(screen_has(runtime, session, f"echo: all of them print {round_}"))
        tick()
        type_into(runtime, sessions[: AGENTS // 2], f"half of them print {round_}")
        for session in sessions[: AGENTS // 2]:
            assert wait_until(screen_has(runtime, session, f"echo: half of them print {round_}"))
        tick()
        tick()  # whatever is still to read (output in the same second as a capture is read again)
    assert any(screens == AGENTS for _, screens, _ in seen[1:])  # a tick that read all of them after a change
    assert max(n for n, _, _ in seen) <= 2


def test_observer_asks_the_runtime_for_one_bulk_capture_per_tick(tmp_path: Path) -> None:
    """The same over the in-memory runtime: one `observe`, one `capture_many` whatever changed."""
    h = Harness.make(tmp_path, body(AGENTS))
    calls = h.rt.calls
    h.tick()
    assert h.rt.calls - calls <= 2
    for pane in list(h.rt.panes):
        h.rt.show(pane, "something new")
    calls = h.rt.calls
    h.tick(advance=2)
    assert h.last is not None
    assert h.rt.calls - calls <= 2
    assert all(a.screen is not None for a in h.last.observation.agents.values())


def test_the_state_file_is_written_only_when_it_changed(tmp_path: Path) -> None:
    """`Watchdog.save` compares the JSON text with what it wrote last: a tick that changes
    nothing (same clock: `last_tick` included) leaves the file alone — a replaced file would have
    a new inode. `last_tick` is part of the state, so in the real loop every tick does write."""
    h = Harness.make(tmp_path, body(3))
    h.tick()
    state_file = h.dog.log_dir / "state" / "watchdog.json"
    before = state_file.stat()
    h.tick()
    after = state_file.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    h.tick(advance=5)
    assert state_file.stat().st_ino != before.st_ino
