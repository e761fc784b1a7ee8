"""Event truth end to end: the real agent CLIs' hook events, read by the real watchdog, against the
scripted model — on both pinned versions of each CLI.

Each scenario test brings a small project up with `Project.up` (the scripted model as a
`[[service]]`, the agents, and `agents watchdog` in its own session: the real wake channel,
`signal_interval = 5` so a quick reaction can only come from it), drives the agents with
`Project.send` (hook-confirmed delivery, as `agents send` does) and tmux keys, and reads what the
watchdog saved (`<log_dir>/state/watchdog.json`: each agent's `truth` and `hooks`) through a
`StateTimeline` that keeps every write with its mtime. For every transition it prints how long
after the hook event's own timestamp the saved state showed it — figures, never a timed
assertion (speed goals live in bench/hooks_bench.py) — and checks that, once settled, the screen
witness agrees (no conflict, and the screen shows the expected state).

- Claude Code (2.1.332, 2.1.197), agent `worker` (--dangerously-skip-permissions): idle → busy (a
  reply the model holds 8 s) → turn end → idle; a Bash tool running (`tool` set, busy·hook);
  a 500 with CLAUDE_CODE_MAX_RETRIES=1 → StopFailure → api-error·hook; SIGKILL → exited·pane.
  Agent `asker` (2.1.332 `--permission-mode manual`, 2.1.197 without a permission flag): a
  permission prompt → needs-input·hook and a `needs-input` event; answered → the tool runs → idle.
- Codex (0.171.0, 0.169.0): idle → busy → turn end → idle and a tool running. (Codex fires no
  hook for an API error and shows no permission prompt under its never-ask setup.)

And a rehearsal of examples/builder-adversary on Claude Code's current pin with hooks disabled:
it still reaches SEQUENCE-COMPLETE on the screen fallback (deliveries confirmed by the screen).
With hooks (the default) every delivery is confirmed by the CLI's UserPromptSubmit and no
`truth-conflict` is logged: tests/e2e/test_rehearsal.py checks that on its own run.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from agent_orchestrator.config import load_config
from agent_orchestrator.rehearsal.runner import _COPY_IGNORE, _leftovers, _remove_cli_temp, free_port, run_rehearsal
from agent_orchestrator.runtime.clis import load_matrix
from agent_orchestrator.runtime.launcher import agent_pid
from agent_orchestrator.runtime.observation import TmuxError
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.runtime.tmux import TmuxRuntime
from agent_orchestrator.truth.fold import ANSWER_LAG
from agent_orchestrator.truth.model import HookEvent, Truth
from agent_orchestrator.watchdog.events import read_events
from tests.support.clis import cli_at
from tests.support.truth_timeline import Snapshot, StateTimeline, hook_events

pytestmark = [pytest.mark.e2e, pytest.mark.tmux]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "builder-adversary"
MATRIX = load_matrix()
CLAUDE_VERSIONS = MATRIX["claude"].versions  # current, previous
CODEX_VERSIONS = MATRIX["codex"].versions
SIGNAL_INTERVAL = 5  # the default: a reaction well under it is the wake channel's doing
CLAUDE_KEY = "sk-ant-rehearsal-000000000000000000000000"
CODEX_KEY = "sk-rehearsal-codex-0000000000000000"
DELIVERIES = ("ping", "nudge", "wake", "probe")

HOLD = "Hold your reply, please."
TOOL = "Run the slow tool, please."
MARKER = "Make the marker, please."
FAIL = "Fail with a server error, please."

# The model's script. A prompt that failed stays in the CLI's history and is merged into the
# next user message, so the later rules anchor on the end of the prompt.
PLAYBOOK = r"""
[default]
text = "(truth rehearsal: no rule matched)"

[[rule]]
id = "kickoff"
last_user = "You are the truth"
text = "Ready."

[[rule]]
id = "hold"
last_user_re = 'Hold your reply, please\.\s*$'
delay = 8
text = "Held reply, done."

[[rule]]
id = "tool"
last_user_re = 'Run the slow tool, please\.\s*$'
steps = [{bash = "sleep 6; echo slow-tool-ran", description = "Slow tool"}]
text = "Slow tool done."

[[rule]]
id = "marker"
last_user_re = 'Make the marker, please\.\s*$'
steps = [{bash = "sleep 7; touch marker.txt; echo marker-made", description = "Make marker"}]
text = "Marker made."

[[rule]]
id = "fail"
last_user_re = 'Fail with a server error, please\.\s*$'
error = {status = 500}
"""


@dataclass
class Figure:
    """One measured transition: the hook event (or "SIGKILL"), the verdict the watchdog saved and
    how long after the event's own timestamp (ms); `screen` is what the screen witness said once
    settled."""

    agent: str
    event: str
    verdict: str
    ms: float
    screen: str = ""
    witnesses: str = ""


@dataclass
class HookRun:
    """One project up in its sandbox, with the watchdog's saved states being sampled."""

    project: Project
    root: Path
    label: str
    timeline: StateTimeline
    figures: list[Figure] = field(default_factory=list)

    @property
    def log_dir(self) -> Path:
        return self.project.log_dir

    def events(self, action: str | None = None, agent: str | None = None, after: float = 0.0) -> list[dict[str, Any]]:
        return [e for e in read_events(self.log_dir) if (action is None or e["action"] == action)
                and (agent is None or e.get("agent") == agent) and e["ts"] >= after]

    def hooks(self, agent: str) -> list[HookEvent]:
        return hook_events(self.log_dir, agent)

    def screen(self, agent: str) -> list[str]:
        try:
            return self.project.runtime.capture(self.project.config.agent(agent).session or "")  # type: ignore[union-attr]
        except TmuxError as exc:
            return [f"(no screen: {exc})"]

    def journal(self) -> list[dict[str, Any]]:
        path = self.log_dir / "model-journal.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def diagnose(self) -> str:
        out = ["-- events"]
        out += [f"{e['ts']:.2f} {e.get('agent') or '-'} {e['action']}: {e['reason']}" for e in read_events(self.log_dir)]
        out.append("-- journal")
        out += [f"{j['ts']:.2f} {j.get('kind')} {j.get('status')} rule={j.get('rule')} {(j.get('last_user') or '')[-60:]!r}"
                for j in self.journal()]
        for agent in self.project.config.agents:
            out.append(f"-- hooks of {agent.name}")
            out += [f"{e.ts:.2f} {e.event} {e.data.get('tool_name') or e.data.get('error') or ''}" for e in self.hooks(agent.name)]
            last = self.timeline.latest()
            if last is not None:
                st = last.agent(agent.name)
                out.append(f"-- last saved truth of {agent.name} (at {last.at:.2f}): {st.truth}")
                out.append(f"   hooks: turn={st.hooks.turn} tool={st.hooks.tool} needs_input={st.hooks.needs_input!r} "
                           f"api_error={st.hooks.api_error!r} last={st.hooks.last_event}")
            out.append(f"-- screen of {agent.name}")
            out += [line.rstrip() for line in self.screen(agent.name)]
        return "\n".join(out)

    def wait(self, what: str, check: Callable[[], Any], timeout: float, poll: float = 0.05) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            got = check()
            if got:
                return got
            if time.monotonic() > deadline:
                pytest.fail(f"[{self.label}] timed out after {timeout:g}s waiting for {what}\n{self.diagnose()}")
            time.sleep(poll)

    # -- driving ---------------------------------------------------------------------------
    def send(self, agent: str, text: str) -> float:
        """Deliver `text` as `agents send` does; returns the epoch just before. The CLI's own
        UserPromptSubmit must confirm it."""
        before = time.time()
        result = self.project.send(agent, text)
        assert result.ok and result.confirmed_by == "hook", (result, self.diagnose())
        return before

    def hook_event(self, agent: str, event: str, after: float, timeout: float = 60.0) -> HookEvent:
        return self.wait(f"{agent}'s {event} hook (after {after:.2f})",
                         lambda: next((e for e in self.hooks(agent) if e.event == event and e.ts >= after), None), timeout)

    # -- measuring -------------------------------------------------------------------------
    def reflects(self, agent: str, event: HookEvent, verdict: Callable[[Truth], bool], what: str,
                 timeout: float = 30.0) -> Snapshot:
        """The first saved state that has folded `event` in and whose truth satisfies `verdict`;
        its delay after the event's own timestamp is recorded as a figure."""
        def folded(s: Snapshot) -> bool:
            st = s.agent(agent)
            return st.hooks.last_event_at is not None and st.hooks.last_event_at >= event.ts and st.truth is not None

        snap = self.timeline.wait(lambda s: folded(s) and verdict(s.agent(agent).truth), timeout, after=event.ts)  # type: ignore[arg-type]
        if snap is None:
            pytest.fail(f"[{self.label}] the watchdog's state never showed {what} after {agent}'s {event.event}\n{self.diagnose()}")
        truth = snap.agent(agent).truth
        assert truth is not None
        witnesses = f"status {truth.status or '-'}, screen {truth.screen or '-'}"
        first = self.timeline.first(folded, after=event.ts)
        if first is not None and first is not snap:  # the event was folded in earlier, under another verdict
            before = first.agent(agent).truth
            witnesses += (f"; first saved {before.label} at {(first.at - event.ts) * 1000:.0f} ms "  # type: ignore[union-attr]
                          f"(status {before.status or '-'}, screen {before.screen or '-'})")  # type: ignore[union-attr]
        self.figures.append(Figure(agent, event.event, truth.label, (snap.at - event.ts) * 1000, witnesses=witnesses))
        return snap

    def settled(self, agent: str, screens: tuple[str, ...], state: str, timeout: float = 20.0, after: float = 0.0) -> Snapshot:
        """Wait for a saved truth in `state` whose screen witness says one of `screens` with no
        conflict between the witnesses; notes the screen on the last figure of `agent`."""
        def check(s: Snapshot) -> bool:
            truth = s.agent(agent).truth
            return truth is not None and truth.state == state and truth.screen in screens and not truth.conflict

        snap = self.timeline.wait(check, timeout, after=after)
        if snap is None:
            pytest.fail(f"[{self.label}] the screen witness never agreed with {agent} {state} (screen in {screens})\n"
                        f"{self.diagnose()}")
        mine = [f for f in self.figures if f.agent == agent]
        if mine:
            mine[-1].screen = snap.agent(agent).truth.screen  # type: ignore[union-attr]
        return snap

    def report(self) -> None:
        print(f"\n-- {self.label}: hook event → the watchdog's saved state (signal_interval {SIGNAL_INTERVAL} s, "
              "wake channel on)")
        print(f"{'agent':<8} {'event':<18} {'verdict saved':<18} {'after the event':>16}  {'other witnesses then':<30} "
              "screen once settled")
        for f in self.figures:
            print(f"{f.agent:<8} {f.event:<18} {f.verdict:<18} {f.ms:13.0f} ms  {f.witnesses:<30} {f.screen or '-'}")


def _leftovers_with_env(root: Path, runtime: TmuxRuntime) -> list[str]:
    """runner._leftovers plus processes whose environment names the sandbox (a detached Codex)."""
    found = _leftovers(root, runtime)
    needle = str(root).encode()
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


def _config(cli: str, version: str, binary: str, socket: str, prefix: str, port: int) -> dict[str, Any]:
    config: dict[str, Any] = {
        "defaults": {"session_prefix": prefix, "log_dir": "run", "backend": cli, "watch": "none", "tmux_socket": socket},
        # watch = "none": nothing heals, nudges or restarts the agents under test; the witness
        # (hooks, status file, screen) runs for every agent all the same.
        "watchdog": {"signal_interval": SIGNAL_INTERVAL, "heavy_interval": 30, "start_secs": 2},
        "service": [{"name": "model", "ready_re": "listening on",
                     "cmd": ["{python}", "-m", "agent_orchestrator.rehearsal", "serve", "--playbook", "playbook.toml",
                             "--port", str(port), "--journal", "run/model-journal.jsonl"]}],
    }
    if cli == "claude":
        env = {"ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}", "ANTHROPIC_API_KEY": CLAUDE_KEY, "DISABLE_AUTOUPDATER": "1",
               "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "IS_SANDBOX": "1", "CLAUDE_CODE_MAX_RETRIES": "1"}
        base = {"bin": binary, "screen_version": version, "home": "scratch", "env": env, "startup_timeout": 90}
        # 2.1.332 asks before a tool only in `--permission-mode manual`; 2.1.197 whenever
        # --dangerously-skip-permissions is not given.
        ask = ["--permission-mode", "manual"] if version != "2.1.197" else []
        config["backend"] = {"claude": base, "claude-ask": {**base, "extends": "claude", "flags": ask}}
        config["agent"] = [
            {"name": "worker", "dir": "worker", "prompt": "You are the truth worker. Say you are ready."},
            {"name": "asker", "dir": "asker", "backend": "claude-ask", "prompt": "You are the truth asker. Say you are ready."},
        ]
    else:
        env = {"OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1", "OPENAI_API_KEY": CODEX_KEY, "CODEX_MODEL": "gpt-5-codex"}
        config["backend"] = {"codex": {"bin": binary, "screen_version": version, "home": "scratch", "env": env}}
        config["agent"] = [{"name": "coder", "dir": "coder", "prompt": "You are the truth coder. Say you are ready."}]
    return config


@contextmanager
def hook_run(cli: str, version: str) -> Iterator[HookRun]:
    """A project of `cli` at `version` up in a sandbox (watchdog included); torn down after,
    checking that nothing is left behind."""
    binary = cli_at(cli, version)
    root = Path(tempfile.mkdtemp(prefix=f"ao-hooks-{cli}-{version}-"))
    token = secrets.token_hex(3)
    runtime = TmuxRuntime(f"ao-hooks-{token}")
    project = None
    timeline = None
    left: list[str] = []
    try:
        config = _config(cli, version, binary, runtime.socket or "", f"h{token}-", free_port())
        for agent in config["agent"]:
            work = root / agent["dir"]
            work.mkdir()
            subprocess.run(["git", "init", "-q", str(work)], check=True)
        (root / "playbook.toml").write_text(PLAYBOOK, encoding="utf-8")
        (root / "agents.toml").write_text(tomli_w.dumps(config), encoding="utf-8")
        project = Project(load_config(root / "agents.toml"), runtime)
        timeline = StateTimeline(project.log_dir).start()
        outcomes = project.up(watchdog=True)
        assert not [o for o in outcomes if o.failed], outcomes
        run = HookRun(project, root, f"{'Claude Code' if cli == 'claude' else 'Codex'} {version}", timeline)
        yield run
        run.report()
        began = min((e["ts"] for e in run.events()), default=0.0)
        print(f"-- {run.label}: watchdog events (s after its start)")
        for e in run.events():
            print(f"{e['ts'] - began:6.1f} {e.get('agent') or '-'} {e['action']}: {e['reason']}")
        errors = [e for e in run.events() if e["action"] in ("tick-error", "policy-error", "delivery-failed")]
        assert not errors, errors
    finally:
        if timeline is not None:
            timeline.stop()
        if project is not None:
            try:
                project.down()
            except TmuxError:
                pass
        runtime.kill_server()
        deadline = time.monotonic() + 15
        while (left := _leftovers_with_env(root, runtime)) and time.monotonic() < deadline:
            time.sleep(0.2)
        _remove_cli_temp(root)
        shutil.rmtree(root, ignore_errors=True)
    assert left == [], f"left behind: {left}"


def ready(run: HookRun, agent: str, timeout: float = 120.0) -> None:
    """The agent's kickoff turn ended, as its hooks told the watchdog: idle·hook."""
    def check() -> bool:
        last = run.timeline.latest()
        truth = last.agent(agent).truth if last is not None else None
        return truth is not None and truth.state == "idle" and truth.source == "hook" and \
            any(e.event == "Stop" for e in run.hooks(agent))

    run.wait(f"{agent}'s kickoff turn to end (idle·hook)", check, timeout, poll=0.2)


def busy_then_idle(run: HookRun, agent: str) -> None:
    """idle → busy (the model holds its reply 8 s: longer than a tick interval, so a later tick
    sees the busy screen if the first one came before the redraw) → turn end → idle."""
    sent = run.send(agent, HOLD)
    submitted = run.hook_event(agent, "UserPromptSubmit", sent)
    busy = run.reflects(agent, submitted, lambda t: t.state == "busy" and t.source == "hook", "busy·hook")
    assert busy.agent(agent).hooks.turn == "busy" and not busy.agent(agent).hooks.tool
    run.settled(agent, ("busy",), "busy", timeout=SIGNAL_INTERVAL + 5, after=submitted.ts)
    stop = run.hook_event(agent, "Stop", submitted.ts, timeout=30)
    run.reflects(agent, stop, lambda t: t.state == "idle" and t.source == "hook", "idle·hook")
    run.settled(agent, ("idle",), "idle", timeout=SIGNAL_INTERVAL * 3, after=stop.ts)


def tool_running(run: HookRun, agent: str) -> None:
    """A Bash tool call (`sleep 6`): busy·hook with the tool named, then the turn ends."""
    sent = run.send(agent, TOOL)
    pre = run.hook_event(agent, "PreToolUse", sent, timeout=30)
    snap = run.reflects(agent, pre, lambda t: t.state == "busy" and t.source == "hook" and "tool" in t.detail, "busy·hook (tool)")
    assert snap.agent(agent).hooks.tool == "Bash", snap.agent(agent).hooks
    assert snap.agent(agent).truth.detail == "tool Bash running"  # type: ignore[union-attr]
    run.settled(agent, ("busy",), "busy", timeout=SIGNAL_INTERVAL + 4, after=pre.ts)
    post = run.hook_event(agent, "PostToolUse", pre.ts, timeout=30)
    tool_done(run, agent, post)
    stop = run.hook_event(agent, "Stop", post.ts, timeout=30)
    run.reflects(agent, stop, lambda t: t.state == "idle" and t.source == "hook", "idle·hook")
    run.settled(agent, ("idle",), "idle", timeout=SIGNAL_INTERVAL * 3, after=stop.ts)


def tool_done(run: HookRun, agent: str, post: HookEvent) -> None:
    """After PostToolUse the turn goes on (busy·hook, no tool) — unless the reply that follows
    ends it within the same tick (60–90 ms seen on a loaded machine): then the first state that
    folded PostToolUse already folded Stop too, and is idle·hook."""
    snap = run.reflects(agent, post, lambda t: t.source == "hook" and t.state in ("busy", "idle") and "tool" not in t.detail,
                        "busy·hook (tool done)")
    folded = snap.agent(agent)
    if folded.hooks.last_event == "PostToolUse":
        assert folded.truth is not None and folded.truth.state == "busy", folded.truth
    else:
        assert folded.hooks.last_event == "Stop" and folded.truth is not None and folded.truth.state == "idle", (folded.hooks, folded.truth)


def answer_dialog(run: HookRun, agent: str, question: str = "Do you want to proceed?") -> float:
    """Press Enter on the agent's dialog (its cursor on the first option) until the dialog is
    gone; returns the epoch of the Enter that took. A CLI may drop a key sent the moment its
    dialog is drawn, so the dialog gets a moment first and the key is repeated if it was lost."""
    session = run.project.config.agent(agent).session or ""  # type: ignore[union-attr]
    time.sleep(1.5)
    for _ in range(3):
        pressed = time.time()
        run.project.runtime.send_key(session, "Enter")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if not any(question in line for line in run.screen(agent)):
                return pressed
            time.sleep(0.1)
    pytest.fail(f"[{run.label}] {agent}'s dialog took no Enter\n{run.diagnose()}")


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", CLAUDE_VERSIONS)
def test_claude_transitions_reach_the_watchdog_through_hooks(version: str) -> None:
    with hook_run("claude", version) as run:
        ready(run, "worker")
        busy_then_idle(run, "worker")
        tool_running(run, "worker")

        # An API error ends the turn: a 500, not retried (CLAUDE_CODE_MAX_RETRIES=1) → StopFailure.
        sent = run.send("worker", FAIL)
        failure = run.hook_event("worker", "StopFailure", sent, timeout=60)
        assert failure.data.get("error") == "server_error", failure
        snap = run.reflects("worker", failure, lambda t: t.state == "api-error" and t.source == "hook", "api-error·hook")
        assert snap.agent("worker").hooks.api_error == "server_error"
        # The screen shows the final error (or, between redraws, a resting input box): no conflict.
        run.settled("worker", ("api-error", "idle"), "api-error", timeout=SIGNAL_INTERVAL * 3, after=failure.ts)
        assert not [e for e in run.hooks("worker") if e.event == "Stop" and e.ts >= sent]  # StopFailure instead of Stop

        # A permission prompt: PreToolUse, then PermissionRequest → needs-input·hook, a needs-input event.
        ready(run, "asker")
        sent = run.send("asker", MARKER)
        asked = run.hook_event("asker", "PermissionRequest", sent, timeout=30)
        snap = run.reflects("asker", asked, lambda t: t.state == "needs-input" and t.source == "hook", "needs-input·hook")
        assert snap.agent("asker").truth.detail == "permission: Bash", snap.agent("asker").truth  # type: ignore[union-attr]
        run.wait("a needs-input event for the asker", lambda: run.events("needs-input", "asker", after=sent), 15)
        run.settled("asker", ("dialog",), "needs-input", timeout=SIGNAL_INTERVAL * 2, after=asked.ts)
        # Answered (the cursor is on "1. Yes"): the tool runs, then the turn ends.
        answered = answer_dialog(run, "asker")
        post = run.hook_event("asker", "PostToolUse", answered, timeout=30)
        # No hook fires between the answer and PostToolUse: a screen captured ANSWER_LAG after the
        # last hook event that shows the turn working (and a status file that no longer waits) says
        # the prompt was answered.
        during = [s.agent("asker") for s in run.timeline.snapshots() if answered < s.at < post.ts]
        later = [st.truth for st in during if st.facts is not None and st.hooks.last_event_at is not None
                 and st.facts.captured_at > answered and st.facts.captured_at - st.hooks.last_event_at >= ANSWER_LAG]
        seen = sorted({f"{t.label} (status {t.status or '-'}, screen {t.screen or '-'})" for t in later if t is not None})
        print(f"\n-- {run.label}: the asker's truth while the approved tool ran: {seen or ['(no tick)']}")
        assert later and all(t is not None and t.label == "busy·hook" and "permission answered" in t.detail for t in later), \
            (later, run.diagnose())
        tool_done(run, "asker", post)
        stop = run.hook_event("asker", "Stop", post.ts, timeout=30)
        run.reflects("asker", stop, lambda t: t.state == "idle" and t.source == "hook", "idle·hook")
        run.settled("asker", ("idle",), "idle", timeout=SIGNAL_INTERVAL * 3, after=stop.ts)
        assert (run.root / "asker" / "marker.txt").is_file()

        # A killed CLI: no hook fires; the pane tells (on the next tick: nothing wakes the watchdog).
        session = run.project.config.agent("worker").session or ""  # type: ignore[union-attr]
        pid = agent_pid(run.project.spec_dir, session)
        assert pid is not None
        killed = time.time()
        os.kill(pid, signal.SIGKILL)
        gone = run.timeline.wait(lambda s: s.agent("worker").truth is not None and s.agent("worker").truth.state == "exited",  # type: ignore[union-attr]
                                 SIGNAL_INTERVAL * 3, after=killed)
        assert gone is not None, run.diagnose()
        assert gone.agent("worker").truth.label == "exited·pane", gone.agent("worker").truth  # type: ignore[union-attr]
        run.figures.append(Figure("worker", "SIGKILL (no hook)", "exited·pane", (gone.at - killed) * 1000, "(pane dead)"))

        conflicts = run.events("truth-conflict")
        assert conflicts == [], conflicts


@pytest.mark.parametrize("version", CODEX_VERSIONS)
def test_codex_transitions_reach_the_watchdog_through_hooks(version: str) -> None:
    with hook_run("codex", version) as run:
        ready(run, "coder")
        busy_then_idle(run, "coder")
        tool_running(run, "coder")
        conflicts = run.events("truth-conflict")
        assert conflicts == [], conflicts


# -- rehearsals of examples/builder-adversary ---------------------------------------------------


def _rehearse(example: Path, claude: str) -> tuple[Any, list[str]]:
    lines: list[str] = []
    result = run_rehearsal(example, timeout=300, keep=True, claude=claude, progress=lines.append)
    return result, lines


# The same example with hooks on (every delivery confirmed by UserPromptSubmit, no truth-conflict)
# is checked by tests/e2e/test_rehearsal.py, on the same rehearsal run that checks its ledger.
def test_builder_adversary_without_hooks_completes_on_the_screen(tmp_path: Path) -> None:
    claude = cli_at("claude", MATRIX["claude"].current)
    example = tmp_path / EXAMPLE.name
    shutil.copytree(EXAMPLE, example, ignore=_COPY_IGNORE)
    raw = tomllib.loads((example / "agents.toml").read_text(encoding="utf-8"))
    raw["backend"]["claude"]["hooks"] = False
    (example / "agents.toml").write_text(tomli_w.dumps(raw), encoding="utf-8")
    result, lines = _rehearse(example, claude)
    try:
        assert result.ok, f"{result.reason}\n" + "\n".join(lines[-40:])
        assert result.reason.startswith("SEQUENCE-COMPLETE"), result.reason
        assert not list((result.sandbox / "run" / "hooks").glob("*")), "hooks were wired although hooks = false"
        deliveries = [e for e in result.events if e["action"] in DELIVERIES]
        assert deliveries and {e.get("confirmed") for e in deliveries} == {"screen"}, deliveries
        print(f"\n-- builder-adversary, hooks off: {result.reason} in {result.elapsed:.0f}s; {len(deliveries)} deliveries, "
              f"all confirmed by the screen; truth-conflict events: {sum(e['action'] == 'truth-conflict' for e in result.events)}")
    finally:
        _remove_cli_temp(result.sandbox.parent)
        shutil.rmtree(result.sandbox.parent, ignore_errors=True)
