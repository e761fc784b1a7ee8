"""End to end on two machines: examples/builder-adversary with the builder here and the adversary on
host `b` — a private sshd on 127.0.0.1 (tests/support/sshd.py) with its own tmux server and
log_dir — both the real Claude Code CLI against the scripted model, one watchdog.

The adversary's scratch HOME is prepared on b, it is started, pinged, watched and restarted there
over one ssh master connection; its hook events (hooks on) and transcripts come back
incrementally, so deliveries to it are confirmed by its own UserPromptSubmit and the token
ledger holds exactly what the playbook sent it. Mid-run sshd is killed: b is `unreachable` in
status and events, a heavy tick passes without anything done to the adversary blind, the builder
carries on here, and once sshd is back the run ends as a calm one would — nothing lost. (One
rehearsal covers both: a full run costs ~2 minutes of CI.)
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from agent_orchestrator.rehearsal.runner import RehearsalResult, run_rehearsal
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.watchdog.events import read_events
from agent_orchestrator.watchdog.state import load_state
from tests.support.gate_rows import EXAMPLE, expected_rows, loop_rows, rows_problems
from tests.support.sshd import HOST_ALIAS, Sshd

pytestmark = [pytest.mark.e2e, pytest.mark.tmux]

HISTORY = [
    "claim(G1): wc counts lines, words and bytes", "review(G1): FAIL - no test covers empty input",
    "claim(G1): cover empty input", "review(G1): PASS", "status(p1): every gate has a PASS",
    "claim(G2): --json output", "review(G2): PASS", "status(p2): every gate has a PASS",
]


def with_hooks(raw: dict[str, Any]) -> None:
    raw["backend"]["claude"]["hooks"] = True  # the CLI's own events, read back from b over ssh


def rehearse(claude: str, sshd: Sshd, lines: list[str], during: Callable[[Project], Callable[[], None]] | None = None) -> RehearsalResult:
    host = {"ssh": HOST_ALIAS, "ssh_options": sshd.ssh_options(), "python": "python3", "timeout": 8.0}
    return run_rehearsal(EXAMPLE, timeout=360, keep=True, claude=claude, progress=lines.append, during=during,
                         hosts={"b": host}, placement={"adversary": "b"}, changes=with_hooks)


def check_the_run(result: RehearsalResult, lines: list[str]) -> list[tuple[str, str]]:
    """What a run across the two machines must show; returns the (agent, action) events."""
    assert result.ok, f"{result.reason}\n" + "\n".join(lines[-50:])
    assert result.leftovers == []
    rows = {r.name: r for r in result.status}
    assert (rows["adversary"].host, rows["builder"].host) == ("b", "")
    assert result.phase["complete"] and result.phase["phase_id"] == "p2" and result.phase["on_complete"] == "started"
    log = subprocess.run(["git", "--git-dir", str(result.sandbox / "origin.git"), "log", "--format=%s", "main"],
                         capture_output=True, text=True, check=True).stdout.splitlines()[::-1]
    assert log[1:] == HISTORY
    # prepared on b: the adversary's scratch HOME is in b's log_dir, not here
    remote_home = result.sandbox.parent / "host-b" / "homes" / "adversary"
    assert (remote_home / ".claude.json").is_file() and not (result.sandbox / "run" / "homes" / "adversary").exists()
    events = result.events
    actions = [(e.get("agent", ""), e["action"]) for e in events]
    assert actions.count(("adversary", "ping")) == 3 and actions.count(("builder", "ping")) == 3
    # every ping on b confirmed by the adversary's own UserPromptSubmit, read back over ssh
    assert [e.get("confirmed") for e in events if (e.get("agent"), e["action"]) == ("adversary", "ping")] == ["hook"] * 3
    assert ("adversary", "advance") in actions and actions.count(("", "sequence-complete")) == 1
    # the ledger: the adversary's transcripts, copied incrementally from b, count exactly what the
    # playbook sent it, phase by phase (and the builder's, read here, as in the one-machine run)
    got, want = loop_rows(result.tokens), expected_rows()
    assert rows_problems({p: got.get(p, {}) for p in ("p1", "p2")}, {p: want[p] for p in ("p1", "p2")}) == []
    return actions


def test_builder_here_adversary_on_b_through_an_sshd_outage_reach_sequence_complete(claude: str, sshd: Sshd) -> None:
    lines: list[str] = []
    seen: dict[str, Any] = {}

    def outage(project: Project) -> Callable[[], None]:
        def run() -> None:
            events = lambda: [(e.get("agent", ""), e["action"]) for e in read_events(project.log_dir)]  # noqa: E731
            deadline = time.monotonic() + 120  # b goes away once the adversary has had its first ping
            while ("adversary", "ping") not in events() and time.monotonic() < deadline:
                time.sleep(0.2)
            sshd.stop()
            stopped_at = time.time()
            seen["stopped"] = len(events())
            deadline = time.monotonic() + 60
            while ("", "host-unreachable") not in events() and time.monotonic() < deadline:
                time.sleep(0.2)
            seen["status"] = {r.name: r.state for r in project.status()}
            # An outage that outlasts a heavy tick (heal runs then): wait for the watchdog to tick
            # that far past the stop, not for a fixed time.
            heavy = seen["heavy"] = project.config.watchdog.heavy_interval + project.config.watchdog.signal_interval
            deadline = time.monotonic() + 90
            while (load_state(project.log_dir).last_tick or 0) < stopped_at + heavy and time.monotonic() < deadline:
                time.sleep(0.2)
            seen["ticked"] = (load_state(project.log_dir).last_tick or 0) - stopped_at
            seen["during"] = events()[seen["stopped"]:]
            sshd.start()
            deadline = time.monotonic() + 60
            while ("", "host-reachable") not in events() and time.monotonic() < deadline:
                time.sleep(0.2)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return lambda: thread.join(timeout=180)

    result = rehearse(claude, sshd, lines, during=outage)
    try:
        actions = check_the_run(result, lines)
        assert seen["status"]["adversary"] == "unreachable" and seen["status"]["builder"] == "running"
        assert seen["ticked"] >= seen["heavy"], seen  # a heavy tick (heal) ran while b was away
        assert ("", "host-unreachable") in seen["during"]
        assert not [a for a in seen["during"] if a[0] == "adversary"]  # nothing done to it blind
        down, up = actions.index(("", "host-unreachable")), actions.index(("", "host-reachable"))
        assert down < up and actions.count(("", "host-unreachable")) == 1
        assert result.events[up]["away_s"] > 0
        assert not [a for a in actions[down:up] if a[0] == "adversary" and a[1] in ("heal", "reboot", "advance", "delivery-failed")]
    finally:
        shutil.rmtree(result.sandbox.parent, ignore_errors=True)
