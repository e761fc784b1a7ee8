"""Messages land at turn boundaries, end to end: the real agent CLIs (Claude Code 2.1.332 and
2.1.197, Codex 0.171.0 and 0.169.0) against the scripted model, with a real `agents watchdog`.

One project per CLI version (`outbox_run`): the scripted model as a `[[service]]`, one agent
(`reviewer`, pinged by claims), a `[loop]` whose handoff repo's bare origin wakes the watchdog on
every push, and the watchdog in its own session. The test pushes claim commits from its own clone,
types into the pane like a person, and runs `agents status` / `agents send` in-process. The
model holds a reply `HOLD_S` seconds (`delay` in the playbook) so a turn is busy for as long as
the test needs. Every wait is on a real condition (a hook event, an event-log line, a saved state)
with a bounded timeout. On one project, in turn:

1. a busy turn and two claims pushed during it: one message listing each commit once, submitted
   after the turn's Stop; the held reply is whole (the model's journal has no dropped reply and the
   transcript has it, before the ping);
2. a line a person typed and did not submit: the claim ping waits (`message-held`, and `status`
   says why) for several ticks while the line stays as typed; once the person submits it, their
   prompt goes alone and the ping follows after that turn;
3. `agents send` to a busy agent with `[watchdog.message_wait] send = QUEUE_AFTER`: after the bounded
   wait the message goes through the CLI's queue key (Codex Tab, Claude Enter) — the event says
   `via = "queue key"` — the held reply is whole, and the CLI accepts the message (its
   UserPromptSubmit closes it in the outbox).

The done-when check of issue 17 (a slowed builder-adversary rehearsal) is in
test_outbox_rehearsal.py.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from typer.testing import CliRunner

from agent_orchestrator.cli.app import app, normalize_argv
from agent_orchestrator.config import load_config
from agent_orchestrator.rehearsal.runner import _remove_cli_temp, free_port
from agent_orchestrator.runtime.clis import load_matrix
from agent_orchestrator.runtime.observation import TmuxError
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.runtime.tmux import TmuxRuntime
from agent_orchestrator.screen.detect import input_content
from agent_orchestrator.screen.patterns import screen_patterns
from agent_orchestrator.transcripts.discovery import transcript_files
from agent_orchestrator.transcripts.events import LogEvent
from agent_orchestrator.transcripts.reader import iter_events
from agent_orchestrator.truth.model import HookEvent
from agent_orchestrator.watchdog.policies.outbox import TYPED
from agent_orchestrator.watchdog.state import Message
from tests.e2e.test_hooks_truth import CLAUDE_KEY, CODEX_KEY, HookRun, _leftovers_with_env, ready
from tests.support.clis import cli_at
from tests.support.truth_timeline import Snapshot, StateTimeline

pytestmark = [pytest.mark.e2e, pytest.mark.tmux]

ROOT = Path(__file__).resolve().parents[2]
MATRIX = load_matrix()
VERSIONS = [("claude", v) for v in MATRIX["claude"].versions] + [("codex", v) for v in MATRIX["codex"].versions]
AGENT = "reviewer"
SIGNAL_INTERVAL = 2  # seconds; pushes and hook events wake the watchdog sooner
HOLD_S = 10  # seconds the model holds the reply to HOLD
QUEUE_AFTER = 3  # seconds a `send` waits for a busy agent before its CLI's queue key is used

HOLD = "Hold your reply, please."
HELD_REPLY = "Held reply, whole: alpha bravo charlie delta echo foxtrot golf hotel india juliet."
PERSON = "A note from a person typed by hand"
QUEUED = "Queued note for after your turn."
PING_RE = re.compile(r"Watchdog: new claim on origin/main")

PLAYBOOK = rf"""
[default]
text = "(outbox rehearsal: no rule matched)"

[[rule]]
id = "kickoff"
last_user = "You are the outbox reviewer"
text = "Ready."

[[rule]]
id = "hold"
last_user_re = 'Hold your reply, please\.\s*$'
delay = {HOLD_S}
text = "{HELD_REPLY}"

[[rule]]
id = "ping"
last_user_re = 'Watchdog: new claim on origin/main'
text = "Ping answered: I will review the claims."

[[rule]]
id = "person"
last_user_re = 'typed by hand\s*$'
text = "Answered the person."

[[rule]]
id = "queued"
last_user_re = 'Queued note for after your turn\.\s*$'
text = "Queued note answered."
"""

runner = CliRunner()


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", "-c", "user.name=Outbox Test", "-c", "user.email=outbox@example.invalid", *args],
                          cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _config(cli: str, version: str, binary: str, socket: str, prefix: str, port: int) -> dict[str, Any]:
    config: dict[str, Any] = {
        "defaults": {"session_prefix": prefix, "log_dir": "run", "backend": cli, "watch": "none", "tmux_socket": socket},
        "watchdog": {"signal_interval": SIGNAL_INTERVAL, "heavy_interval": 30, "start_secs": 2,
                     "message_wait": {"send": QUEUE_AFTER}},  # pings keep the default (600 s): they wait for the turn's end
        "service": [{"name": "model", "ready_re": "listening on",
                     "cmd": ["{python}", "-m", "agent_orchestrator.rehearsal", "serve", "--playbook", "playbook.toml",
                             "--port", str(port), "--journal", "run/model-journal.jsonl"]}],
        "loop": {"kickoff": "kickoff.md", "repo": "work", "phases": [{"id": "p1", "plan": "plan.md", "status": ".agents/status-p1.md"}],
                 "handoff": {"claim_pings": AGENT, "wake": "post-receive"}},
        "agent": [{"name": AGENT, "dir": AGENT, "prompt": "You are the outbox reviewer. Say you are ready."}],
    }
    if cli == "claude":
        env = {"ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}", "ANTHROPIC_API_KEY": CLAUDE_KEY, "DISABLE_AUTOUPDATER": "1",
               "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "IS_SANDBOX": "1", "CLAUDE_CODE_MAX_RETRIES": "1"}
        config["backend"] = {"claude": {"bin": binary, "screen_version": version, "home": "scratch", "env": env, "startup_timeout": 90}}
    else:
        env = {"OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1", "OPENAI_API_KEY": CODEX_KEY, "CODEX_MODEL": "gpt-5-codex"}
        config["backend"] = {"codex": {"bin": binary, "screen_version": version, "home": "scratch", "env": env}}
    return config


class OutboxRun(HookRun):
    """A `HookRun` (events, hooks, journal, diagnose, bounded waits) with the test's own clone of
    the handoff origin (`dev`) and the `agents` verbs run in-process."""

    @property
    def dev(self) -> Path:
        return self.root / "dev"

    def push(self, subject: str) -> str:
        """Commit `subject` (an empty commit) in the test's clone and push it; its sha."""
        _git(self.dev, "commit", "-q", "--allow-empty", "-m", subject)
        _git(self.dev, "push", "-q", "origin", "main")
        return _git(self.dev, "rev-parse", "HEAD")

    def agents(self, *args: str) -> str:
        result = runner.invoke(app, normalize_argv([*args, "--config", str(self.root / "agents.toml")]))
        assert result.exit_code == 0, (args, result.output)
        return result.output

    def outbox(self) -> tuple[Message, ...]:
        last = self.timeline.latest()
        return last.agent(AGENT).outbox if last is not None else ()

    def prompts(self, after: float, pattern: str | re.Pattern[str] = "") -> list[HookEvent]:
        """The agent's UserPromptSubmit events after `after` whose prompt matches `pattern`."""
        return [e for e in self.hooks(AGENT) if e.event == "UserPromptSubmit" and e.ts >= after
                and re.search(pattern, str(e.data.get("prompt") or ""))]

    def turn_end(self, submitted: HookEvent, timeout: float = 60.0) -> HookEvent:
        """The Stop that ended the turn `submitted` began."""
        return self.hook_event(AGENT, "Stop", submitted.ts, timeout=timeout)

    def held_reply_intact(self, since: float, then: str) -> None:
        """The turn that began with HOLD (at or after `since`, epoch) ended with the reply the model
        held, whole, before the next prompt — which holds `then`: the transcript, read until it
        has the next prompt, and the model's journal (a reply cut off by a steered turn is a
        "disconnected" line there)."""
        agent = self.project.config.agent(AGENT)
        assert agent is not None

        def turn() -> tuple[list[LogEvent], LogEvent] | None:
            events = [e for _, path in transcript_files(self.project.config, agent) for e in iter_events(path)]
            began = [i for i, e in enumerate(events) if e.kind == "user" and e.text.strip().endswith(HOLD)
                     and e.ts is not None and e.ts.timestamp() >= since - 1.0]
            if not began:
                return None
            rest = events[began[-1] + 1:]
            nxt = next((i for i, e in enumerate(rest) if e.kind == "user"), None)
            return None if nxt is None else (rest[:nxt], rest[nxt])

        replies, nxt = self.wait(f"the held turn and the prompt after it in {AGENT}'s transcript", turn, 30)
        assert then in nxt.text, (nxt.text, [(e.kind, e.text[:60]) for e in replies])  # nothing else came in between
        assert [e.text for e in replies if e.kind == "assistant"] == [HELD_REPLY], [(e.kind, e.text[:80]) for e in replies]
        held = [j for j in self.journal() if j.get("rule") == "hold" and j["ts"] >= since - 1.0]
        assert [j["kind"] for j in held] == ["text"], (held, self.diagnose())


@contextmanager
def outbox_run(cli: str, version: str) -> Iterator[OutboxRun]:
    """A one-agent project of `cli` at `version` up in a sandbox (watchdog included); torn down
    after, checking that nothing is left behind."""
    binary = cli_at(cli, version)
    root = Path(tempfile.mkdtemp(prefix=f"ao-outbox-{cli}-{version}-"))
    token = secrets.token_hex(3)
    runtime = TmuxRuntime(f"ao-outbox-{token}")
    project = None
    timeline = None
    left: list[str] = []
    try:
        _git(root, "init", "-q", "--bare", "-b", "main", "origin.git")
        _git(root, "clone", "-q", "origin.git", "dev")
        (root / "dev" / ".agents").mkdir()
        (root / "dev" / ".agents" / "status-p1.md").write_text("# p1\n", encoding="utf-8")
        _git(root / "dev", "add", ".")
        _git(root / "dev", "commit", "-q", "-m", "Initial commit")
        _git(root / "dev", "push", "-q", "origin", "main")
        _git(root, "clone", "-q", "origin.git", "work")
        (root / AGENT).mkdir()
        _git(root / AGENT, "init", "-q")
        (root / "kickoff.md").write_text("Phase {phase_id}: {plan}\n", encoding="utf-8")
        (root / "plan.md").write_text("Review what is claimed.\n", encoding="utf-8")
        (root / "playbook.toml").write_text(PLAYBOOK, encoding="utf-8")
        config = _config(cli, version, binary, runtime.socket or "", f"o{token}-", free_port())
        (root / "agents.toml").write_text(tomli_w.dumps(config), encoding="utf-8")
        project = Project(load_config(root / "agents.toml"), runtime)
        timeline = StateTimeline(project.log_dir).start()
        outcomes = project.up(watchdog=True)
        assert not [o for o in outcomes if o.failed], outcomes
        run = OutboxRun(project, root, f"{'Claude Code' if cli == 'claude' else 'Codex'} {version}", timeline)
        yield run
        began = min((e["ts"] for e in run.events()), default=0.0)
        print(f"\n-- {run.label}: watchdog events (s after its start)")
        for e in run.events():
            details = {k: v for k, v in e.items() if k in ("via", "waited_s", "merged", "confirmed")}
            print(f"{e['ts'] - began:6.1f} {e.get('agent') or '-'} {e['action']}: {e['reason']} {details or ''}")
        errors = [e for e in run.events() if e["action"] in ("tick-error", "policy-error", "delivery-failed", "action-error")]
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


# -- the scenarios -------------------------------------------------------------------------------


def pings_during_a_busy_turn_wait_and_merge(run: OutboxRun) -> dict[str, float]:
    sent = run.send(AGENT, HOLD)
    submitted = run.hook_event(AGENT, "UserPromptSubmit", sent)
    first = run.push("claim(G1): parser")
    run.wait("the first claim in the outbox", lambda: any(first[:8] in i for m in run.outbox() for i in m.items), 30)
    second = run.push("claim(G2): lexer")
    run.wait("both claims in one waiting message",
             lambda: [len(m.items) for m in run.outbox()] == [2] and run.outbox()[0].state == "queued", 30)
    merged_at = time.time()
    stop = run.turn_end(submitted)
    assert merged_at < stop.ts, f"the held turn ended ({stop.ts:.2f}) before both pings were queued ({merged_at:.2f}): raise HOLD_S"
    event = run.wait("the ping delivered", lambda: run.events("ping", AGENT, after=sent), 60)[0]
    (ping,) = run.prompts(sent, PING_RE)
    text = str(ping.data.get("prompt"))
    assert text.count(first[:8]) == 1 and text.count(second[:8]) == 1, text  # one message, each commit once
    assert ping.ts > stop.ts, (ping.ts, stop.ts)  # after the turn ended, not into it
    assert (event["merged"], event["confirmed"], event.get("via")) == (2, "hook", None), event
    run.held_reply_intact(sent, then="Watchdog: new claim")
    run.turn_end(ping)  # the ping's own turn
    return {"ping after Stop (s)": ping.ts - stop.ts, "ping waited (s)": float(event.get("waited_s", 0.0))}


def a_half_typed_line_is_never_pasted_over(run: OutboxRun) -> dict[str, float]:
    agent = run.project.config.agent(AGENT)
    assert agent is not None
    session = agent.session or ""
    typed = time.time()
    run.project.runtime.cmd("send-keys", "-t", run.project.runtime.pane(session), "-l", PERSON)

    def typing(s: Snapshot) -> bool:
        st = s.agent(AGENT)
        return st.truth is not None and st.truth.state == "unsubmitted" and st.facts is not None and PERSON[:20] in st.facts.input

    if run.timeline.wait(typing, 30, after=typed) is None:
        pytest.fail(f"[{run.label}] the watchdog never saw the typed line (unsubmitted·screen)\n{run.diagnose()}")
    pushed = time.time()
    claim = run.push("claim(G3): tokens")
    held = run.wait("the ping held for the typed line", lambda: run.events("message-held", AGENT, after=pushed), 30)[0]
    assert TYPED in held["reason"], held
    table = run.agents("status")
    assert f"{AGENT}: 1 message queued, waiting: {TYPED}" in table, table
    assert TYPED in run.agents("status", "--why", AGENT)
    queued = json.loads(run.agents("status", "--json"))["agents"]
    assert [q["waiting"] for r in queued if r["name"] == AGENT for q in r["queued"]] == [TYPED]
    # Two more ticks: the line in the box is still the person's, nothing was pasted, the ping waits.
    later = run.timeline.wait(lambda s: (s.state.last_tick or 0) >= held["ts"] + 2 * SIGNAL_INTERVAL, 30, after=held["ts"])
    assert later is not None, run.diagnose()
    assert [m.held for m in later.agent(AGENT).outbox] == [TYPED]
    box = input_content(run.project.runtime.capture(session), screen_patterns(run.project.config.backend_of(agent)))
    assert " ".join((box or "").split()) == PERSON, (box, run.diagnose())
    assert run.prompts(typed) == [], "something was submitted while the person was typing"
    # The person submits their line: it goes alone, and the ping follows after that turn.
    run.project.runtime.send_key(session, "Enter")
    mine = run.hook_event(AGENT, "UserPromptSubmit", typed, timeout=30)
    assert " ".join(str(mine.data.get("prompt")).split()) == PERSON, mine.data
    stop = run.turn_end(mine)
    run.wait("the ping after the person's turn", lambda: run.prompts(pushed, PING_RE), 60)
    (ping,) = run.prompts(pushed, PING_RE)
    assert ping.ts > stop.ts and claim[:8] in str(ping.data.get("prompt"))
    run.turn_end(ping)
    return {"held for (s)": ping.ts - held["ts"]}


def the_bounded_wait_falls_back_to_the_queue_key(run: OutboxRun) -> dict[str, float]:
    sent = run.send(AGENT, HOLD)
    submitted = run.hook_event(AGENT, "UserPromptSubmit", sent)
    asked = time.time()
    assert "queued for reviewer" in run.agents("send", AGENT, QUEUED)
    handed = run.wait("the send handed to the CLI's queue",
                      lambda: [e for e in run.events("send", AGENT, after=asked) if e.get("via") == "queue key"], 30)[0]
    assert handed["waited_s"] >= QUEUE_AFTER and "handed to its CLI's queue" in handed["reason"], handed
    stop = run.turn_end(submitted)
    assert handed["ts"] < stop.ts, "the turn ended before the bounded wait was over: raise HOLD_S"
    accepted = run.wait("the CLI accepting the queued message", lambda: run.prompts(asked, re.escape(QUEUED)), 60)[0]
    closed = run.wait("the outbox closing it on the CLI's UserPromptSubmit",
                      lambda: [e for e in run.events("send", AGENT, after=asked) if e.get("confirmed") == "hook"], 30)[0]
    assert "accepted from the CLI's queue" in closed["reason"], closed
    run.held_reply_intact(sent, then=QUEUED)
    # Claude Code 2.1.332 fires UserPromptSubmit when it queues the message (during the turn) and
    # runs it after; Codex and Claude Code 2.1.197 fire it when the queued message starts its turn.
    run.hook_event(AGENT, "Stop", max(stop.ts, accepted.ts) + 0.001)
    run.wait("an empty outbox", lambda: run.outbox() == (), 30)
    return {"queue key after (s)": handed["waited_s"], "CLI accepted it, vs the Stop (s)": accepted.ts - stop.ts}


@pytest.mark.parametrize("cli,version", VERSIONS, ids=[f"{c}-{v}" for c, v in VERSIONS])
def test_messages_land_at_turn_boundaries(cli: str, version: str) -> None:
    with outbox_run(cli, version) as run:
        ready(run, AGENT)
        figures = pings_during_a_busy_turn_wait_and_merge(run)
        figures |= a_half_typed_line_is_never_pasted_over(run)
        figures |= the_bounded_wait_falls_back_to_the_queue_key(run)
        print(f"\n-- {run.label}: " + "; ".join(f"{k} {v:.1f}" for k, v in figures.items()))
