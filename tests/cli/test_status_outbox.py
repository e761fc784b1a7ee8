"""`status` shows each agent's outbox: a `queued` column, a note when the next message waits for a
person (text typed in the input box), the messages in `status --json`, and one line per message in
`status --why NAME` (kind, age, state, attempts, why it waits). The saved state is written as the
watchdog writes it; the demo agents need no tmux session for this."""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_orchestrator.cli.app import app, normalize_argv
from agent_orchestrator.truth.hook_events import prompt_digest
from agent_orchestrator.watchdog.policies.outbox import TYPED
from agent_orchestrator.watchdog.state import AgentState, Message, WatchdogState, save_state
from agent_orchestrator.watchdog.view import queued
from tests.support.tmux import write_config

runner = CliRunner()
NOW = 1_800_000_000.0


def msg(text: str, kind: str = "ping", created: float = NOW - 30, **kw: object) -> Message:
    return Message(f"id-{text[:5]}", kind, text, kw.pop("reason", f"{kind} reason"), created, prompt_digest(text),  # type: ignore[arg-type]
                   kw.pop("topic", kind), **kw)  # type: ignore[arg-type]


TYPING = msg("Watchdog: claim(G1)", reason="claim: G1", held=TYPED)
BEHIND = msg("please rebase", "send", created=NOW - 5, reason="agents send")
MERGED = msg("Watchdog: two claims", reason="claim: G2", items=("aaaa claim(G1)", "bbbb claim(G2)"), held="the agent is busy")


def agents(*args: str) -> str:
    result = runner.invoke(app, normalize_argv(list(args)))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def config(tmp_path: Path, socket: str) -> Path:
    path = write_config(tmp_path, socket, '[[agent]]\nname = "alice"\n\n[[agent]]\nname = "bob"\n\n[[agent]]\nname = "carol"\n')
    # As the watchdog saved it a moment ago (`status` reads ages against the clock).
    shift = time.time() - NOW
    moved = {name: AgentState(outbox=tuple(replace(m, created=m.created + shift) for m in box))
             for name, box in {"alice": (TYPING, BEHIND), "bob": (MERGED,), "carol": ()}.items()}
    save_state(tmp_path / "run", WatchdogState(agents=moved))
    return path


@pytest.mark.parametrize("message,index,now,waiting,person", [
    pytest.param(TYPING, 0, NOW, TYPED, True, id="a-person-typing"),
    pytest.param(MERGED, 0, NOW, "the agent is busy", False, id="busy-turn"),
    pytest.param(msg("x", held="the agent is needs-input"), 0, NOW, "the agent is needs-input", True, id="a-question-on-screen"),
    pytest.param(BEHIND, 1, NOW, "behind the message before it (one at a time)", False, id="second-in-line"),
    pytest.param(msg("x", next_try=NOW + 20, attempts=2, last_error="no UserPromptSubmit"), 0, NOW,
                 "retry in 20s (last try: no UserPromptSubmit)", False, id="retry-due-later"),
    pytest.param(msg("x", state="sending"), 0, NOW, "being handed to the agent now", False, id="sending"),
    pytest.param(msg("x", state="in-cli", sent_at=NOW - 12), 0, NOW, "in the CLI's own queue since 12s ago: done when the CLI accepts it",
                 False, id="in-the-clis-queue"),
    pytest.param(msg("x"), 0, NOW, "goes at the next tick", False, id="due"),
])
def test_why_each_message_waits(message: Message, index: int, now: float, waiting: str, person: bool) -> None:
    box = (msg("first"), message) if index else (message,)
    q = queued(AgentState(outbox=box), now)[index]
    assert (q.waiting, q.person, q.kind, q.state, q.age_s) == (waiting, person, message.kind, message.state, now - message.created)


def test_status_shows_the_queued_column_and_a_note_for_a_person(config: Path) -> None:
    table = agents("status", "--config", str(config))
    header = next(line for line in table.splitlines() if line.lstrip().startswith("name"))
    assert "queued" in header.split()
    cells = {line.split()[0]: line.split() for line in table.splitlines() if line.split() and line.split()[0] in ("alice", "bob", "carol")}
    assert "held" in cells["alice"] and "2" in cells["alice"]  # `2 held`: the next one waits for a person
    assert "1" in cells["bob"] and "held" not in cells["bob"]
    assert "alice: 2 messages queued, waiting: unsubmitted text in the input box (`agents status --why alice` lists them)" in table
    assert "bob:" not in table  # a busy turn ends by itself: no note


def test_status_json_carries_each_agents_messages(config: Path) -> None:
    rows = {r["name"]: r for r in json.loads(agents("status", "--json", "--config", str(config)))["agents"]}
    alice = rows["alice"]["queued"]
    assert [(q["kind"], q["state"], q["attempts"], q["waiting"], q["person"]) for q in alice] == [
        ("ping", "queued", 0, TYPED, True), ("send", "queued", 0, "behind the message before it (one at a time)", False)]
    assert 29 <= alice[0]["age_s"] < 120 and alice[0]["reason"] == "claim: G1"
    assert rows["bob"]["queued"][0]["merged"] == 2
    assert rows["carol"]["queued"] == []
    assert "queued" not in rows["watchdog"]


def test_status_why_lists_every_queued_message(config: Path) -> None:
    why = agents("status", "--why", "alice", "--config", str(config)).splitlines()
    start = why.index("  outbox: 2 messages waiting")
    first, second = why[start + 1], why[start + 2]
    assert re.fullmatch(rf"    1\. ping \(claim: G1\): queued for \d+s, 0 failed attempts — {TYPED}", first), first
    assert re.fullmatch(r"    2\. send \(agents send\): queued for \d+s, 0 failed attempts — behind the message before it \(one at a time\)",
                        second), second
    assert "  outbox: empty" in agents("status", "--why", "carol", "--config", str(config))
    assert "ping (claim: G2, 2 merged): queued" in agents("status", "--why", "bob", "--config", str(config))
