"""End to end: a Codex agent started and supervised through the orchestrator.

tests/codex_e2e/agents.toml → `Project.up` (the scripted model server as a `[[service]]`, the
Codex CLI TUI at the selected pin of the tested matrix in its own tmux session with the kickoff as
its last argument, and the watchdog in its session) → the scripted model has Codex run one `exec_command` that makes a file
and commits it, then answers with text. Checked: the commit in the agent's repo (made under the
agent's scratch HOME identity); the watchdog sees the agent running as node/codex, reads its
screen as done_idle and does not heal it; the screen classifies as done_idle; the rollout is
found by `discovery.transcript_files` and the readers (and the watchdog's ledger) count exactly
the usage the playbook sent; nothing is left behind after the private tmux server is killed.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from agent_orchestrator.config import load_config
from agent_orchestrator.rehearsal.runner import _leftovers, free_port, sandbox_config
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.runtime.tmux import TmuxRuntime
from agent_orchestrator.screen.detect import PaneState, classify, find_dialog
from agent_orchestrator.screen.patterns import CODEX, PROCESS_NAMES
from agent_orchestrator.tokens import TranscriptScanner, Usage, scan_paths
from agent_orchestrator.transcripts.discovery import transcript_files
from agent_orchestrator.watchdog.events import read_events
from agent_orchestrator.watchdog.state import load_state

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = Path(__file__).resolve().parent / "codex_e2e"
AGENT = "coder"
SUBJECT = "claim(C1): made.txt"
TURN_TIMEOUT = 60.0  # seconds from `up` to the commit and a done_idle screen

pytestmark = [pytest.mark.e2e, pytest.mark.tmux]


def playbook_usage() -> Usage:
    """What the playbook's rule sends in all: its usage × its responses (one per step + the text),
    mapped as Codex records it (OpenAI counts cached input inside input_tokens)."""
    with (EXAMPLE / "playbook.toml").open("rb") as fh:
        (rule,) = tomllib.load(fh)["rule"]
    n, u = len(rule["steps"]) + 1, rule["usage"]
    return Usage(input=n * (u["input"] + u.get("cache_creation", 0)), output=n * u["output"], cache_read=n * u["cache_read"])


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def leftovers(sandbox: Path, runtime: TmuxRuntime) -> list[str]:
    """runner._leftovers (tmux sessions; processes whose argv or cwd is in the sandbox) plus
    processes whose environment names the sandbox (HOME/CODEX_HOME: a detached Codex daemon)."""
    found = _leftovers(sandbox, runtime)
    needle = str(sandbox).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            environ = (proc / "environ").read_bytes()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:120]
        except OSError:
            continue
        if needle in environ and not any(f"process {proc.name}:" in f for f in found):
            found.append(f"process {proc.name} (environment in the sandbox): {cmdline}")
    return found


def test_codex_agent_runs_a_command_and_commits_under_the_watchdog(codex: str, tmp_path: Path) -> None:
    sandbox = tmp_path
    work = sandbox / EXAMPLE.name
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("run", "work"))
    subprocess.run(["bash", "setup.sh"], cwd=work, check=True, capture_output=True)
    repo = work / "work"
    token = secrets.token_hex(3)
    socket_name, prefix = f"ao-codex-e2e-{token}", f"cx{token}-"
    sandbox_config(work / "agents.toml", socket_name=socket_name, prefix=prefix, port=free_port(), bins={"codex": codex})
    config = load_config(work / "agents.toml")
    agent = next(a for a in config.agents if a.name == AGENT)
    session = agent.session or ""
    runtime = TmuxRuntime(socket_name)
    project = Project(config, runtime)
    log_dir = project.log_dir
    trail: list[str] = []

    def screen() -> list[str]:
        try:
            return runtime.capture(session)
        except Exception:  # noqa: BLE001 - diagnostics only
            return []

    def diagnostics() -> str:
        events = [f"{e.get('agent') or '-'} {e['action']}: {e['reason']}" for e in read_events(log_dir)]
        journal = log_dir / "model-journal.jsonl"
        return ("\n--- progress\n" + "\n".join(trail) + "\n--- watchdog events\n" + "\n".join(events)
                + "\n--- model journal\n" + (journal.read_text() if journal.exists() else "(none)")
                + "\n--- agent screen\n" + "\n".join(line.rstrip() for line in screen()).strip())

    try:
        outcomes = project.up(progress=trail.append)
        assert not [o for o in outcomes if o.failed], f"up failed: {outcomes}" + diagnostics()
        started = time.monotonic()

        def committed() -> bool:
            return git(repo, "log", "-1", "--format=%s") == SUBJECT

        def watchdog_done() -> bool:
            facts = load_state(log_dir).agent(AGENT).facts
            return facts is not None and facts.state == PaneState.DONE_IDLE

        def finished() -> bool:
            dialog = find_dialog(screen(), CODEX)
            if dialog is not None:  # a startup dialog blocks the kickoff: say which, loudly
                pytest.fail(f"the Codex TUI is blocked by its {dialog.name!r} dialog (match {dialog.match_re!r}); "
                            "the scratch HOME (homes.prepare_home) or the codex preset's dialogs must answer it"
                            + diagnostics())
            journal = log_dir / "model-journal.jsonl"
            lines = journal.read_text().split("\n") if journal.exists() else [""]  # the last may be torn
            toolless = [e for e in map(json.loads, lines[:-1]) if e["kind"] == "side" and e["last_user"] == agent.prompt]
            if toolless:  # the kickoff went out with no tools: the scripted exec_command cannot run
                pytest.fail(f"Codex sent the kickoff with no tools offered (model {toolless[0]['model']!r}); the "
                            "rehearsal needs a model whose requests offer exec_command (CODEX_MODEL = \"gpt-5-codex\")"
                            + diagnostics())
            return committed() and watchdog_done()

        if not wait_for(finished, TURN_TIMEOUT):
            pytest.fail(f"no commit {SUBJECT!r} with the watchdog reading done_idle within {TURN_TIMEOUT:g}s "
                        f"(committed: {committed()}, watchdog facts: {load_state(log_dir).agent(AGENT).facts})"
                        + diagnostics())
        # Give the watchdog two more heavy ticks (heal runs there) after the turn is over.
        turn_done = time.time()
        interval = config.watchdog.heavy_interval
        assert wait_for(lambda: (load_state(log_dir).last_tick or 0.0) > turn_done + 2 * interval,
                        10 + 4 * interval), "the watchdog stopped ticking" + diagnostics()

        # The commit: made by the agent through exec_command, under its scratch HOME's identity.
        assert (repo / "made.txt").read_text() == "hi\n"
        assert git(repo, "log", "--format=%s").splitlines() == [SUBJECT, "Initial commit"]
        assert git(repo, "log", "-1", "--format=%an <%ae>") == f"{AGENT} <{AGENT}@rehearsal.invalid>"
        entries = [json.loads(line) for line in (log_dir / "model-journal.jsonl").read_text().splitlines()]
        turn = [(e["rule"], e["kind"], e["step"]) for e in entries if e["path"] == "/v1/responses" and e["kind"] != "side"]
        assert turn == [("make-and-commit", "tool", 0), ("make-and-commit", "text", 1)], diagnostics()

        # Supervision: running as node/codex, read as done_idle, never healed or otherwise touched.
        row = next(r for r in project.status() if r.name == AGENT)
        assert row.state == "running", f"status says {row.state}" + diagnostics()
        assert row.command in PROCESS_NAMES["codex"], f"pane runs {row.command!r}" + diagnostics()
        state = load_state(log_dir).agent(AGENT)
        assert state.facts is not None and state.facts.state == PaneState.DONE_IDLE, diagnostics()
        assert state.facts.dialog is None and not state.facts.active
        assert not state.needs_human and state.restarts == (), diagnostics()
        # Any event about the agent (heal, reboot, dialog-answered, a redelivery…) is an intervention.
        touched = [e for e in read_events(log_dir) if e.get("agent") == AGENT]
        assert touched == [], f"the watchdog acted on the healthy agent: {touched}" + diagnostics()
        assert [e["action"] for e in read_events(log_dir) if e["action"] == "tick-error"] == [], diagnostics()

        # The screen, read here with the built-in Codex patterns.
        pane = runtime.observe()[session]
        got = classify(screen(), CODEX, current_command=pane.current_command, process_names=PROCESS_NAMES["codex"])
        assert got == PaneState.DONE_IDLE, f"classified {got}" + diagnostics()

        # Tokens: the rollout is found for this agent; readers and the watchdog's ledger agree with the playbook.
        files = transcript_files(config, agent)
        assert [kind for kind, _ in files] == ["codex"], f"transcripts found: {files}"
        rollout = files[0][1]
        assert rollout.name.startswith("rollout-") and (log_dir / "homes" / AGENT / ".codex" / "sessions") in rollout.parents
        expected = playbook_usage()
        assert expected.total == 11580
        assert list(scan_paths([rollout]).values()) == [expected]
        assert TranscriptScanner().read_codex(rollout) == (expected, str(repo.resolve()))
        ledger = json.loads((log_dir / "state" / "tokens.json").read_text())
        counted = ledger["scanner"]["files"][str(rollout)]["counted"]
        assert Usage.from_dict(counted) == expected, f"the watchdog's ledger counted {counted}"
        assert time.monotonic() - started < TURN_TIMEOUT + 30
    finally:
        project.down()
        runtime.kill_server()
        left: list[str] = []
        deadline = time.monotonic() + 10
        while (left := leftovers(sandbox, runtime)) and time.monotonic() < deadline:
            time.sleep(0.2)
    assert left == [], f"left behind: {left}"
