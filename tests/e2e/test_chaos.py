"""Chaos, short form (issue 12): examples/builder-adversary with the real Claude Code CLI against
the scripted model while the watchdog is SIGKILLed again and again, its state file corrupted, a
reviewer killed mid-review and agents.toml edited under it. The invariants hold every time
(`tests.support.chaos.check_run`): SEQUENCE-COMPLETE, the playbook's git story, each claim and
review ping received exactly once (the agents' transcripts), the reporter once, the ledger's
phase totals = `tokens --scan`, the watchdog back after every kill by its launcher alone, no
temp file left. bench/chaos.py runs the long form (≥ 100 kills) and prints figures.

Every wait is bounded and on a real condition (the event log, the lock holder, the model's
journal); the only timing is the killer's seeded random life of a watchdog (AO_CHAOS_SEED).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_orchestrator.rehearsal.runner import RehearsalResult, run_rehearsal
from agent_orchestrator.runtime.launcher import supervision
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.runtime.tmux import TmuxRuntime
from tests.support.chaos import (
    ChaosError,
    Killer,
    check_run,
    event_after,
    journal,
    kill_agent,
    kill_watchdog,
    percentile,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "builder-adversary"
SEED = int(os.environ.get("AO_CHAOS_SEED", "12"))
STEP_TIMEOUT = 120.0  # seconds one scripted step may wait for the run to get where it acts

pytestmark = [pytest.mark.e2e, pytest.mark.tmux]


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A TMPDIR of the test's own for the rehearsal (its tmux server, watchdog and agents
    inherit it), so a temp file a kill leaks is seen."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    yield tmp


class Script:
    """Scripted faults in a thread beside the rehearsal: `steps` run in order, each waiting for
    its moment; `done` names the steps carried out, `error` the first that could not be."""

    def __init__(self, steps: list[tuple[str, Callable[[], None]]]) -> None:
        self.steps = steps
        self.done: list[str] = []
        self.error = ""
        self.thread = threading.Thread(target=self._run, name="chaos-script", daemon=True)

    def _run(self) -> None:
        for name, step in self.steps:
            try:
                step()
            except (ChaosError, AssertionError, OSError) as exc:
                self.error = f"{name}: {type(exc).__name__}: {exc}"
                return
            self.done.append(name)

    def start(self) -> Script:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.thread.join(timeout=STEP_TIMEOUT * 2)


def rehearse(claude: str, during: Callable[[Project], Callable[[], None]]) -> tuple[RehearsalResult, list[str]]:
    lines: list[str] = []
    result = run_rehearsal(EXAMPLE, timeout=480, keep=True, claude=claude, progress=lines.append, during=during)
    return result, lines


def failure(result: RehearsalResult, lines: list[str]) -> str:
    return f"{result.reason}\n" + "\n".join(lines[-60:])


def cleanup(result: RehearsalResult) -> None:
    """Remove the sandbox (AO_CHAOS_KEEP=1 keeps it, and says where)."""
    if os.environ.get("AO_CHAOS_KEEP"):
        print(f"kept: {result.sandbox}")
        return
    shutil.rmtree(result.sandbox.parent, ignore_errors=True)


def leaked(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.glob("ao-paste-*"))


def test_a_watchdog_sigkilled_10_to_20_times_keeps_every_invariant(claude: str, private_tmp: Path) -> None:
    held: dict[str, Any] = {}

    def during(project: Project) -> Callable[[], None]:
        killer = Killer(project.log_dir, project.config.defaults.tmux_socket, seed=SEED, max_kills=20).start()

        def stop() -> None:
            held["report"] = killer.stop()
            held["supervise"] = supervision(project.spec_dir, project.config.watchdog_session)

        return stop

    result, lines = rehearse(claude, during)
    try:
        report = held["report"]
        back = [k.back_s for k in report.kills if k.back_s is not None]
        print(f"\nseed {SEED}: {len(report.kills)} kills {report.by_reason()}; back p50 {percentile(back, .5):.2f} s "
              f"p95 {percentile(back, .95):.2f} s; first tick p50 {percentile(report.recovered(), .5):.2f} s")
        assert result.ok, failure(result, lines)
        assert report.errors == []
        assert 10 <= len(report.kills) <= 20, report.kills
        assert set(report.by_reason()) - {"timer"}, "no kill at a riskiest moment"
        check = check_run(result.sandbox, result.events, result.tokens, kills=len(report.kills), supervise=held["supervise"])
        assert check.problems == [], check.problems
        assert leaked(private_tmp) == []
    finally:
        cleanup(result)


def test_corrupt_state_files_and_a_reviewer_killed_mid_review(claude: str, private_tmp: Path) -> None:
    """A reviewer killed in the middle of its review is healed and told the claim again; a state
    file of garbage after the phase advance and one of the wrong shape after SEQUENCE-COMPLETE
    are set aside and the state rebuilt — no ping twice, the reporter once."""
    held: dict[str, Any] = {}

    def during(project: Project) -> Callable[[], None]:
        log_dir = project.log_dir
        adversary = project.config.agent("adversary")
        assert adversary is not None
        seen: dict[str, Any] = {}

        def kill_the_reviewer() -> None:
            # the review turn has begun (its first tool call was served) and its verdict is not pushed
            entry = wait_for("the adversary's review turn", lambda: next(
                (j for j in journal(log_dir) if str(j.get("rule", "")).startswith("adversary-") and j.get("rule") != "adversary-waits"
                 and j.get("step") == 0 and j.get("kind") == "tool"), None), STEP_TIMEOUT)
            seen["killed_at"] = float(entry["ts"])
            if kill_agent(project.spec_dir, adversary.session or "") is None:
                raise ChaosError("the adversary's CLI was not running")

        def healed_and_told() -> None:
            wait_for("the adversary healed", lambda: event_after(log_dir, "heal", seen["killed_at"], "adversary"), STEP_TIMEOUT)
            wait_for("the claim re-announced", lambda: event_after(log_dir, "reannounce", seen["killed_at"], "adversary"), STEP_TIMEOUT)

        def garbage_after_the_advance() -> None:
            advance = wait_for("the phase advance", lambda: event_after(log_dir, "phase-advance", 0), STEP_TIMEOUT)
            kill_watchdog(log_dir, corrupt="garbage")
            wait_for("state-corrupt (garbage)", lambda: event_after(log_dir, "state-corrupt", advance["ts"]), STEP_TIMEOUT)

        def wrong_shape_after_completion() -> None:
            complete = wait_for("SEQUENCE-COMPLETE", lambda: event_after(log_dir, "sequence-complete", 0), STEP_TIMEOUT)
            kill_watchdog(log_dir, corrupt="wrong-shape")
            wait_for("state-corrupt (wrong shape)", lambda: event_after(log_dir, "state-corrupt", complete["ts"]), STEP_TIMEOUT)

        script = Script([("kill the reviewer mid-review", kill_the_reviewer), ("healed and told again", healed_and_told),
                         ("garbage state after the advance", garbage_after_the_advance),
                         ("wrong-shaped state after completion", wrong_shape_after_completion)]).start()

        def stop() -> None:
            script.stop()
            held["script"] = script
            held["supervise"] = supervision(project.spec_dir, project.config.watchdog_session)

        return stop

    result, lines = rehearse(claude, during)
    try:
        script = held["script"]
        assert script.error == "" and len(script.done) == 4, (script.done, script.error, failure(result, lines))
        assert result.ok, failure(result, lines)
        check = check_run(result.sandbox, result.events, result.tokens, kills=2, supervise=held["supervise"],
                          reannounced={"adversary": 1})
        assert check.problems == [], check.problems
        log_dir = result.sandbox / "run"
        assert sorted(p.name for p in (log_dir / "state").glob("*.corrupt")) == ["watchdog.json.corrupt"]
        rebuilt = [e["reason"] for e in result.events if e["action"] == "state-rebuilt"]
        assert len(rebuilt) == 2 and "phase p2 (2/2)" in rebuilt[0] and "sequence complete" in rebuilt[1], rebuilt
        assert leaked(private_tmp) == []
    finally:
        cleanup(result)


def test_identity_edits_and_a_truncated_config_wait_for_down_and_up_even_across_a_restart(claude: str, private_tmp: Path) -> None:
    """A session_prefix edit and a truncated agents.toml that still validates without [loop] are
    deferred — by the running watchdog and by the one its launcher restarts while the edit
    stands — said in events and `status`, and undone by the revert: no second team, no phantom
    "run" phase in the ledger."""
    held: dict[str, Any] = {}

    def during(project: Project) -> Callable[[], None]:
        log_dir = project.log_dir
        path = project.config.path
        original = path.read_text(encoding="utf-8")
        prefix = project.config.defaults.session_prefix
        statuses: list[str] = []

        def deferred_across_a_restart(edited: str, why: str) -> None:
            wait_for("a watchdog-start", lambda: event_after(log_dir, "watchdog-start", 0), STEP_TIMEOUT)
            began = time.time()
            path.write_text(edited, encoding="utf-8")
            first = wait_for(f"config-deferred ({why})", lambda: event_after(log_dir, "config-deferred", began), STEP_TIMEOUT)
            assert why in first["reason"], first
            killed_at = time.time()
            kill_watchdog(log_dir)
            again = wait_for(f"config-deferred by the restarted watchdog ({why})",
                             lambda: event_after(log_dir, "config-deferred", killed_at), STEP_TIMEOUT)
            assert "started on the last good config" in again["reason"], again
            shown = subprocess.run([sys.executable, "-m", "agent_orchestrator", "status", "--config", str(path)],
                                   capture_output=True, text=True, check=False, timeout=STEP_TIMEOUT)
            statuses.append(shown.stdout + shown.stderr)
            second = [s for s in TmuxRuntime(project.config.defaults.tmux_socket).observe() if s.startswith(prefix + "x")]
            if second:
                raise ChaosError(f"sessions of a second team: {second}")
            path.write_text(original, encoding="utf-8")
            wait_for("config-valid after the revert", lambda: event_after(log_dir, "config-valid", killed_at), STEP_TIMEOUT)

        edited_prefix = original.replace(f'session_prefix = "{prefix}"', f'session_prefix = "{prefix}x"', 1)
        assert edited_prefix != original
        truncated = original[:original.index("[loop]")]
        script = Script([("session_prefix edit", lambda: deferred_across_a_restart(edited_prefix, "session_prefix changed")),
                         ("truncated without [loop]", lambda: deferred_across_a_restart(truncated, "[loop] removed mid-sequence"))]).start()

        def stop() -> None:
            script.stop()
            held["script"], held["statuses"] = script, statuses
            held["supervise"] = supervision(project.spec_dir, project.config.watchdog_session)

        return stop

    result, lines = rehearse(claude, during)
    try:
        script = held["script"]
        assert script.error == "" and len(script.done) == 2, (script.done, script.error, failure(result, lines))
        assert all("deferred" in s for s in held["statuses"]), held["statuses"]
        assert result.ok, failure(result, lines)
        check = check_run(result.sandbox, result.events, result.tokens, kills=2, supervise=held["supervise"])
        assert check.problems == [], check.problems
        assert [r["phase_id"] for r in result.tokens] == ["p1:G1", "p1", "p2:G2", "p2"]
    finally:
        cleanup(result)
