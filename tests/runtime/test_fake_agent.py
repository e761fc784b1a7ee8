"""The scriptable fake agent (tests/support/fake_agent_cli.py) in real tmux, driven through `Project`.

These pin down what the watchdog's integration tests rely on: each mode shows on screen what
its docstring promises, the backend regexes match it, and the orchestrator's own parsers
(`waiting_until`, `find_limit`, delivery checks, pane states) read it as a real CLI's screen.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.screen.detect import waiting_until
from agent_orchestrator.screen.limits import find_limit
from tests.support.fake_agent import (
    ACTIVE_RE,
    FAKE_BACKEND,
    FAKE_PATTERNS,
    FATAL_RE,
    LIMIT_RE,
    PROCESS_NAMES,
    fake_agent_block,
    inbox,
    mode_log,
    set_mode,
)
from tests.support.tmux import screen_has, wait_until, write_config

pytestmark = pytest.mark.tmux


def team(tmp_path: Path, socket: str, *names: str, preset: dict[str, dict] | None = None) -> tuple[Project, dict[str, Path]]:
    """A project of fake agents, all up and showing `fake>` (except those `preset` to crash)."""
    controls = {n: tmp_path / f"{n}.control.json" for n in names}
    for name, cfg in (preset or {}).items():
        set_mode(controls[name], **cfg)
    body = FAKE_BACKEND + "".join(fake_agent_block(n, controls[n], prompt=f"You are {n}.") for n in names)
    proj = Project(load_config(write_config(tmp_path, socket, body)))
    # No watchdog here: it would heal the exits these tests provoke on purpose.
    assert {o.action for o in proj.up(watchdog=False)} == {"started"}
    for name in names:
        if not (preset or {}).get(name, {}).get("crash_on_start"):
            assert wait_until(screen_has(proj.runtime, f"t-{name}", "fake>")), name
    return proj, controls


def screen(proj: Project, name: str) -> list[str]:
    """The visible screen of agent `name`."""
    return proj.runtime.capture(f"t-{name}")


def states(proj: Project) -> dict[str, tuple[str, int | None]]:
    """(state, exit code) of every agent."""
    return {r.name: (r.state, r.exit_code) for r in proj.status() if r.kind != "watchdog"}


def test_starts_with_its_kickoff_and_counts_as_running(tmp_path: Path, socket: str) -> None:
    proj, _ = team(tmp_path, socket, "a")
    lines = screen(proj, "a")
    assert "kickoff: You are a." in lines and lines[-1] == "fake>"
    row = next(r for r in proj.status() if r.name == "a")
    assert (row.state, row.command in PROCESS_NAMES) == ("running", True), row


def test_send_is_delivered_once_recorded_and_obeys_fake_commands(tmp_path: Path, socket: str) -> None:
    proj, controls = team(tmp_path, socket, "a")
    text = "line one; with /slash @at file.ext;\nline two"
    result = proj.send("a", text)
    assert (result.ok, result.attempts) == (True, 1), result.reason
    assert wait_until(lambda: [m["text"] for m in inbox(controls["a"])] == [text])
    assert wait_until(screen_has(proj.runtime, "t-a", "got: line one; with /slash @at file.ext;"))
    # A command typed as a message: the reply's last line is a WAITING-UNTIL the parser reads.
    assert proj.send("a", "/fake waiting until=2030-01-02T03:04:05Z").ok
    assert wait_until(screen_has(proj.runtime, "t-a", "WAITING-UNTIL: 2030-01-02T03:04:05Z"))
    assert waiting_until(screen(proj, "a"), FAKE_PATTERNS) == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert [(e["mode"], e["source"]) for e in mode_log(controls["a"])] == [("idle", "startup"), ("waiting", "message")]


def test_busy_redraws_and_busy_quiet_stays_still(tmp_path: Path, socket: str) -> None:
    proj, controls = team(tmp_path, socket, "busy", "quiet")
    set_mode(controls["busy"], "busy")
    set_mode(controls["quiet"], "busy_quiet")
    active = re.compile(ACTIVE_RE)
    for name in ("busy", "quiet"):
        assert wait_until(lambda n=name: any(active.search(line) for line in screen(proj, n))), name
    before = proj.runtime.observe()
    shots = {name: screen(proj, name) for name in ("busy", "quiet")}
    time.sleep(2.2)  # window_activity counts whole seconds
    after = proj.runtime.observe()
    assert after["t-busy"].window_activity > before["t-busy"].window_activity
    assert screen(proj, "busy") != shots["busy"]
    assert after["t-quiet"].window_activity == before["t-quiet"].window_activity
    assert screen(proj, "quiet") == shots["quiet"]
    # A timed busy spell ends like a finished turn: summary line, no busy marker left.
    set_mode(controls["busy"], "busy", seconds=1)
    assert wait_until(screen_has(proj.runtime, "t-busy", "✻ Worked for 1s"), timeout=30)
    assert not any(active.search(line) for line in screen(proj, "busy"))
    assert [e["mode"] for e in mode_log(controls["busy"])] == ["idle", "busy", "busy", "idle"]


def test_waiting_prints_a_parseable_wake_time(tmp_path: Path, socket: str) -> None:
    proj, controls = team(tmp_path, socket, "a")
    set_mode(controls["a"], "waiting", in_seconds=120)
    assert wait_until(screen_has(proj.runtime, "t-a", "WAITING-UNTIL: "))
    when = waiting_until(screen(proj, "a"), FAKE_PATTERNS)
    expected = datetime.now(UTC) + timedelta(seconds=120)
    assert when is not None and abs((when - expected).total_seconds()) < 5


def test_limit_banner_parses_and_answers_probes_until_the_mode_changes(tmp_path: Path, socket: str) -> None:
    proj, controls = team(tmp_path, socket, "a")
    set_mode(controls["a"], "limit", resets="in 2m")
    banner = "You've hit your session limit · resets in 2m"
    assert wait_until(screen_has(proj.runtime, "t-a", banner))
    now = datetime.now(UTC)
    found = find_limit(screen(proj, "a"), LIMIT_RE, now)
    assert found is not None and found.reset_at is not None and not found.stale
    assert abs((found.reset_at - now).total_seconds() - 120) < 2
    assert proj.send("a", "are you back?").ok
    assert wait_until(lambda: screen(proj, "a").count(banner) == 2)
    set_mode(controls["a"], "idle")
    assert wait_until(lambda: mode_log(controls["a"])[-1]["mode"] == "idle")
    assert proj.send("a", "and now?").ok
    assert wait_until(screen_has(proj.runtime, "t-a", "got: and now?"))
    assert screen(proj, "a").count(banner) == 2


def test_exit_shell_and_crash_on_start_give_dead_and_exited_panes(tmp_path: Path, socket: str) -> None:
    proj, controls = team(tmp_path, socket, "quits", "shell", "crashes", preset={"crashes": {"mode": "idle", "crash_on_start": True}})
    set_mode(controls["quits"], "exit", code=3)
    set_mode(controls["shell"], "shell")
    assert wait_until(lambda: states(proj) == {"quits": ("dead", 3), "shell": ("exited", None), "crashes": ("dead", 1)}), states(proj)
    assert "fake: crash on start" in "\n".join(proj.logs("crashes", 20))
    assert not proj.send("shell", "hello").ok
    # The crash loop ends once the control file stops asking for it; the log tells the runs apart.
    set_mode(controls["crashes"], "idle")
    assert [o.action for o in proj.up(["crashes"], watchdog=False)] == ["restarted"]
    assert wait_until(lambda: len(mode_log(controls["crashes"])) == 2)
    assert states(proj)["crashes"] == ("running", None)
    runs = mode_log(controls["crashes"])
    assert [(e["mode"], e["source"]) for e in runs] == [("crash", "startup"), ("idle", "startup")]
    assert runs[0]["pid"] != runs[1]["pid"]


def test_ignore_submit_leaves_the_text_unsent_and_delivery_fails(tmp_path: Path, socket: str) -> None:
    proj, controls = team(tmp_path, socket, "deaf", preset={"deaf": {"mode": "idle", "ignore_submit": True}})
    result = proj.send("deaf", "please run the tests")
    assert (result.ok, result.attempts) == (False, 3), result
    assert screen(proj, "deaf")[-1] == "fake> please run the tests" and inbox(controls["deaf"]) == []
    # Once it listens again, one Enter submits what sat in the box all along.
    set_mode(controls["deaf"], "idle")
    assert wait_until(lambda: mode_log(controls["deaf"])[-1]["source"] == "control")
    proj.runtime.send_key("t-deaf", "Enter")
    assert wait_until(lambda: [m["text"] for m in inbox(controls["deaf"])] == ["please run the tests"])


def test_echo_busy_fatal_and_garble(tmp_path: Path, socket: str) -> None:
    proj, controls = team(tmp_path, socket, "turns", "fatal", "garble")
    set_mode(controls["turns"], "echo_busy", seconds=1)
    set_mode(controls["fatal"], "fatal")
    set_mode(controls["garble"], "garble", seconds=0.5)
    assert wait_until(lambda: mode_log(controls["turns"])[-1]["mode"] == "echo_busy")
    assert proj.send("turns", "do the thing").ok
    assert wait_until(screen_has(proj.runtime, "t-turns", "esc to interrupt"))
    assert wait_until(screen_has(proj.runtime, "t-turns", "done: do the thing"), timeout=30)
    assert wait_until(screen_has(proj.runtime, "t-fatal", "API Error: Invalid API key"))
    assert re.search(FATAL_RE, "\n".join(screen(proj, "fatal")))
    assert wait_until(lambda: [e["mode"] for e in mode_log(controls["garble"])] == ["idle", "garble", "idle"])
    assert len(screen(proj, "garble")) >= 6  # banner, kickoff, junk rows, prompt
    assert screen(proj, "garble")[-1] == "fake>"
