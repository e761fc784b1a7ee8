"""`agents status --watch`: a pure render of a fixed dashboard (fits 80×24), a bounded live run
against a real team, and Ctrl-C in a real terminal (a pty)."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from typer.testing import CliRunner

from agent_orchestrator.cli.app import app, normalize_argv
from agent_orchestrator.watchdog.state import load_state
from tests.support.tmux import screen_has, wait_until, write_config

runner = CliRunner()
NOW = 1_800_000_000.0


def agents(*args: str):
    return runner.invoke(app, normalize_argv(list(args)))


def board():
    """A fixed dashboard: four agents in different states, a phase line, nine events."""
    from agent_orchestrator.cli.dashboard import AgentLine, Dashboard

    return Dashboard(
        title="/home/me/proj/agents.toml — proj-3f9a-",
        now=NOW,
        agents=(
            AgentLine("builder", "running", doing="busy·hook", phase="p2/G3", idle_s=4, restarts=0, tokens=1_234_567, queued=2),
            AgentLine("adversary", "running · paused", doing="idle·screen", hold="paused", phase="p2/G3", idle_s=754, restarts=2,
                      tokens=98_765, queued=1, queue_held=True),
            AgentLine("supervisor", "dead (1) · needs-human", hold="needs-human", restarts=6, tokens=None),
            AgentLine("reporter", "stopped"),
        ),
        phase="phase p2 (2/3) · gate G3 · 1h02m in phase",
        watchdog="watchdog running (pid 4242, last tick 2s ago)",
        events=(
            *({"ts": NOW - 60 + i, "agent": "builder", "action": "ping", "reason": f"claim(G{i}) pushed"} for i in range(8)),
            {"ts": NOW - 1, "agent": "supervisor", "action": "needs-human", "reason": "6 restarts within 600s; `agents restart supervisor` "
             "clears it once the cause is fixed — and this reason goes on long past the edge of an 80-column terminal"},
        ),
    )


def test_render_shows_each_agent_with_the_source_of_its_state_in_80_columns() -> None:
    from agent_orchestrator.cli.dashboard import dashboard_lines

    lines = dashboard_lines(board(), width=80, max_events=3)
    assert all(len(line) <= 80 for line in lines), lines
    text = "\n".join(lines)
    assert lines[1].split()[-1] == "out"  # the outbox column: messages waiting for the turn to end
    for row in (("builder", "busy·hook", "p2/G3", "4s", "1.2M", "2"), ("adversary", "idle·screen · paused", "p2/G3", "12m34s", "2", "98.8k", "1!"),
                ("supervisor", "dead (1) · needs-human", "6"), ("reporter", "stopped")):
        line = next(line for line in lines if line.startswith(row[0]))
        assert all(cell in line for cell in row), (row, line)
    assert "phase p2 (2/3) · gate G3 · 1h02m in phase" in text and "watchdog running (pid 4242" in text
    events = lines[lines.index("last events") + 1:-1]
    assert len(events) == 3 and events[-1].startswith(f"{datetime.fromtimestamp(NOW - 1):%H:%M:%S} supervisor "
                                                       "needs-human: 6 restarts")
    assert events[-1].endswith("…")  # cut to the width, not wrapped


def test_the_frame_fits_an_80x24_terminal() -> None:
    from agent_orchestrator.cli.dashboard import dashboard_lines, fixed_lines

    frame = board()
    room = 24 - fixed_lines(frame) - 1
    lines = dashboard_lines(frame, width=80, max_events=room)
    assert len(lines) <= 24 and room > 0


def test_watch_runs_a_bounded_live_view_of_a_real_team(tmp_path: Path, socket: str) -> None:
    path = write_config(tmp_path, socket, '[[agent]]\nname = "alice"\nprompt = "hi"\n\n[[agent]]\nname = "bob"\n')
    config = str(path)
    assert agents("up", "--config", config).exit_code == 0
    from agent_orchestrator.runtime.tmux import TmuxRuntime

    assert wait_until(screen_has(TmuxRuntime(socket), "t-alice", "demo>"))
    assert wait_until(lambda: load_state(tmp_path / "run").agent("alice").truth is not None, timeout=60)  # the watchdog ticked
    for bound in (["--frames", "2"], ["--for", "0.5"]):
        result = agents("status", "--watch", *bound, "--config", config)
        assert result.exit_code == 0, result.output
        assert "alice" in result.output and "bob" in result.output and "watchdog running" in result.output
        assert "idle·" in result.output or "busy·" in result.output  # the watchdog's verdict with its source
        assert "watchdog-start" in result.output  # the last events
    agents("down", "--config", config)


def test_ctrl_c_quits_the_dashboard_cleanly_in_a_terminal(tmp_path: Path, socket: str) -> None:
    path = write_config(tmp_path, socket, '[[agent]]\nname = "alice"\n')
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "agent_orchestrator", "--config", str(path), "status", "--watch"],
                            stdin=slave, stdout=slave, stderr=slave, env={**os.environ, "TERM": "xterm", "COLUMNS": "80", "LINES": "24"})
    os.close(slave)
    seen = b""
    try:
        while b"Ctrl-C to quit" not in seen and proc.poll() is None:
            ready, _, _ = select.select([master], [], [], 30)
            assert ready, seen
            seen += os.read(master, 65536)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        while select.select([master], [], [], 0)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert b"Traceback" not in seen and b"KeyboardInterrupt" not in seen
    assert b"alice" in seen
