"""`agents phase show|set|advance|reset` and `agents tokens` through typer's CliRunner.

The phase verbs run against a real handoff repo (a bare origin and a clone, real git) and real
loop agents (the fake agent in tmux on a private socket): with no watchdog the verb writes the
state itself and restarts the running loop agents; with a watchdog holding the project lock it
hands the change over as a request that the next tick applies. The tokens verb reads a ledger
written by `tokens.ledger.Ledger` from real-format Claude Code transcript lines.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from agent_orchestrator.cli.app import app, normalize_argv
from agent_orchestrator.config import load_config
from agent_orchestrator.runtime.launcher import agent_pid
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.tokens.ledger import Ledger, read_ledger
from agent_orchestrator.watchdog.driver import Watchdog
from agent_orchestrator.watchdog.events import read_events
from agent_orchestrator.watchdog.state import load_state, save_state
from tests.support.fake_agent import FAKE_BACKEND, fake_agent_block
from tests.support.tmux import screen_has, wait_until, write_config
from tests.support.transcripts import claude_assistant

STATUS = ".agents/status-{}.md"
LOOP_AGENTS = ("builder", "adversary")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout.strip()


def agents(*args: str) -> Result:
    return CliRunner().invoke(app, normalize_argv(list(args)))


def plain(text: str) -> str:
    """Output with runs of whitespace and table rules collapsed to one space (rich pads cells)."""
    return re.sub(r"[\s│┃]+", " ", text)


@pytest.fixture(autouse=True)
def git_identity(own_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (own_home / ".gitconfig").write_text("[user]\n\tname = Test\n\temail = test@example.invalid\n[init]\n\tdefaultBranch = main\n")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A clone of a bare origin with both phases' status files pushed ("In progress.")."""
    origin, clone = tmp_path / "origin.git", tmp_path / "work"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    for pid in ("p1", "p2"):
        (clone / STATUS.format(pid)).parent.mkdir(parents=True, exist_ok=True)
        (clone / STATUS.format(pid)).write_text("In progress.\n")
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", "init")
    git(clone, "push", "-q", "origin", "HEAD:main")
    return clone


@pytest.fixture
def config(tmp_path: Path, socket: str, repo: Path) -> Path:
    (tmp_path / "kickoff.md").write_text("Phase {phase_id} as {role}.\n")
    for pid in ("p1", "p2"):
        (tmp_path / f"plan-{pid}.md").write_text(f"plan {pid}\n")
    loop = f"""
[watchdog]
signal_interval = 1

[loop]
kickoff = "kickoff.md"
repo = {json.dumps(str(repo))}
phases = [
  {{ id = "p1", plan = "plan-p1.md", status = "{STATUS.format('p1')}" }},
  {{ id = "p2", plan = "plan-p2.md", status = "{STATUS.format('p2')}" }},
]
"""
    body = (FAKE_BACKEND + loop
            + fake_agent_block("builder", tmp_path / "builder.ctl", kind="loop", watch="heal")
            + fake_agent_block("adversary", tmp_path / "adversary.ctl", kind="loop", watch="heal")
            + fake_agent_block("second", tmp_path / "second.ctl", prompt="I review too.", watch="heal"))
    return write_config(tmp_path, socket, body)


class Team:
    """The agents of `config` up in tmux."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.project = Project(load_config(path))
        self.project.up(watchdog=False)
        for name in (*LOOP_AGENTS, "second"):
            self.wait_screen(name, "fake>")

    def session(self, name: str) -> str:
        return self.project.config.agent(name).session  # type: ignore[union-attr]

    def pids(self) -> dict[str, int | None]:
        return {n: agent_pid(self.project.spec_dir, self.session(n)) for n in (*LOOP_AGENTS, "second")}

    def wait_screen(self, name: str, text: str) -> None:
        assert wait_until(screen_has(self.project.runtime, self.session(name), text)), f"{name}: no {text!r} on screen"

    def wait_restarted(self, before: dict[str, int | None], phase: str) -> None:
        """The loop agents run new processes with `phase`'s kickoff; `second` is untouched."""
        for name in LOOP_AGENTS:
            assert wait_until(lambda n=name: agent_pid(self.project.spec_dir, self.session(n)) not in (None, before[n]))
            self.wait_screen(name, f"Phase {phase} as {name}")
        assert self.pids()["second"] == before["second"]


def events(path: Path, action: str) -> list[dict]:
    return [e for e in read_events(load_config(path).defaults.log_dir) if e["action"] == action]


def state_of(path: Path):
    return load_state(load_config(path).defaults.log_dir)


# -- phase show -------------------------------------------------------------------------------

def test_phase_show_table_and_json_without_a_watchdog(config: Path, repo: Path, tmp_path: Path) -> None:
    shown = agents("phase", "show", "--json", "--config", str(config))
    assert shown.exit_code == 0, shown.output
    info = json.loads(shown.stdout)
    assert info == {"phase_id": "p1", "index": 0, "total": 2, "plan": str(tmp_path / "plan-p1.md"),
                    "status_file": STATUS.format("p1"), "done": False, "started": None, "in_phase_s": None,
                    "complete": False, "on_complete": ""}
    table = agents("phase", "show", "--config", str(config))
    assert table.exit_code == 0, table.output
    text = plain(table.stdout)
    for row in ("phase p1 (1/2)", f"status file {STATUS.format('p1')}", "done no", "sequence complete no"):
        assert row in text, text

    (repo / STATUS.format("p1")).write_text("Every gate passed.\n\n## DONE\n")
    git(repo, "commit", "-q", "-am", "p1 done")
    git(repo, "push", "-q", "origin", "HEAD:main")  # updates the clone's origin/main, as a fetch would
    assert json.loads(agents("phase", "show", "--json", "--config", str(config)).stdout)["done"] is True
    assert "done yes" in plain(agents("phase", "show", "--config", str(config)).stdout)
    assert not (Path(load_config(config).defaults.log_dir) / "state" / "watchdog.json").exists()  # show wrote nothing


def test_phase_show_without_loop_phases_is_a_usage_error(tmp_path: Path, socket: str) -> None:
    path = write_config(tmp_path, socket, FAKE_BACKEND + fake_agent_block("a", tmp_path / "a.ctl"))
    result = agents("phase", "show", "--config", str(path))
    assert result.exit_code == 2 and "no [loop] phases are configured" in result.stderr


# -- phase set / advance / reset, no watchdog -------------------------------------------------

@pytest.mark.tmux
def test_phase_set_refuses_without_yes_while_loop_agents_are_up_then_restarts_them(config: Path) -> None:
    team = Team(config)
    before = team.pids()
    refused = agents("phase", "set", "p2", "--config", str(config))
    assert refused.exit_code == 2
    said = plain(refused.output)
    assert "restarts the running loop agents (builder, adversary)" in said and "--yes" in said
    assert "second" not in said  # a persistent agent is not restarted by the phase machine
    assert state_of(config).phase.index == 0 and team.pids() == before and events(config, "phase-set") == []

    done = agents("phase", "set", "p2", "--yes", "--config", str(config))
    assert done.exit_code == 0, done.output
    assert "move to p2 (phase 2 of 2)" in plain(done.stdout) and "written to the state (no watchdog running)" in plain(done.stdout)
    assert "restarted" in done.stdout
    team.wait_restarted(before, "p2")
    state = state_of(config)
    assert state.phase.index == 1 and not state.phase.complete and state.phase.started is not None
    [event] = events(config, "phase-set")
    assert event["phase"] == "p2" and event["index"] == 1
    assert json.loads(agents("phase", "show", "--json", "--config", str(config)).stdout)["phase_id"] == "p2"


def test_phase_advance_moves_on_and_refuses_past_the_last_phase(config: Path) -> None:
    moved = agents("phase", "advance", "--config", str(config))  # no agents up: no --yes needed
    assert moved.exit_code == 0, moved.output
    assert state_of(config).phase.index == 1
    past = agents("phase", "advance", "--yes", "--config", str(config))
    assert past.exit_code == 2
    assert "phase p2 is the last one; nothing to advance to" in past.stderr
    assert state_of(config).phase.index == 1 and len(events(config, "phase-set")) == 1
    unknown = agents("phase", "set", "p9", "--config", str(config))
    assert unknown.exit_code == 2 and "unknown phase 'p9' (phases: p1, p2)" in unknown.stderr


@pytest.mark.tmux
def test_phase_reset_forgets_completion_and_restarts_loop_agents(config: Path) -> None:
    team = Team(config)
    log_dir = Path(load_config(config).defaults.log_dir)
    state = load_state(log_dir)  # as a watchdog leaves it after SEQUENCE-COMPLETE and on_complete
    state = replace(state, phase=replace(state.phase, index=1, complete=True, completed_at=1.0, on_complete="started",
                                         on_complete_phases=2), handoff=replace(state.handoff, gate="G3"))
    save_state(log_dir, state)
    before = team.pids()
    assert agents("phase", "reset", "--config", str(config)).exit_code == 2
    assert state_of(config).phase.complete

    reset = agents("phase", "reset", "--yes", "--config", str(config))
    assert reset.exit_code == 0, reset.output
    assert "on_complete may run again" in plain(reset.stdout)
    team.wait_restarted(before, "p1")
    ph = state_of(config).phase
    assert (ph.index, ph.complete, ph.completed_at, ph.on_complete, ph.on_complete_phases) == (0, False, None, "", 0)
    assert state_of(config).handoff.gate is None
    shown = json.loads(agents("phase", "show", "--json", "--config", str(config)).stdout)
    assert (shown["phase_id"], shown["complete"], shown["on_complete"]) == ("p1", False, "")


# -- phase set with a running watchdog --------------------------------------------------------

@pytest.mark.tmux
def test_phase_set_is_handed_to_the_running_watchdog_and_applied_on_its_next_tick(config: Path) -> None:
    team = Team(config)
    dog = Watchdog(config)
    dog.tick()
    before = team.pids()
    dog.lock.acquire()
    try:
        result = agents("phase", "set", "p2", "--yes", "--config", str(config))
        assert result.exit_code == 0, result.output
        assert "handed to the running watchdog; it restarts the loop agents on its next tick" in plain(result.stdout)
        assert state_of(config).phase.index == 0 and team.pids() == before  # nothing moved yet
        assert list((dog.log_dir / "state" / "requests").glob("*.json"))
        dog.tick()
    finally:
        dog.lock.release()
    [event] = events(config, "phase-set")
    assert event["index"] == 1 and "phase set by hand" in event["reason"]
    assert sorted(e["agent"] for e in events(config, "advance")) == ["adversary", "builder"]
    team.wait_restarted(before, "p2")
    assert state_of(config).phase.index == 1
    assert not list((dog.log_dir / "state" / "requests").glob("*.json"))
    dog.tick()  # the request was consumed: no second restart
    assert len(events(config, "advance")) == 2 and len(events(config, "phase-set")) == 1


# -- tokens -----------------------------------------------------------------------------------

RESPONSES = itertools.count(1)


def transcript(path: Path, session: str, responses: list[tuple[int, int, int, int]], at: float | None = None) -> None:
    """Append to a Claude Code transcript: each (input, output, cache_read, cache_write) response
    written as three streaming lines sharing message id and request id, as Claude Code does
    (stamped `at`, epoch seconds, when given)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        for inp, out, read, write in responses:
            n = next(RESPONSES)
            mid, rid = f"msg_{n:04d}", f"req_{n:04d}"
            for snapshot in (1, out // 2, out):
                line = claude_assistant(mid, rid, out=snapshot, inp=inp, read=read, write=write, session=session)
                if at is not None:
                    stamp = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
                    line = json.dumps({**json.loads(line), "timestamp": stamp})
                fh.write(line + "\n")


def test_tokens_without_a_ledger_is_a_friendly_message(config: Path) -> None:
    result = agents("tokens", "--config", str(config))
    assert result.exit_code == 0, result.output
    text = plain(result.stdout)
    assert "no token records yet in" in text and "token-log.jsonl" in text and "log_tokens = true" in text
    as_json = agents("tokens", "--json", "--config", str(config))
    assert as_json.exit_code == 0 and json.loads(as_json.stdout) == []


def test_tokens_json_and_table_from_ledger_records(config: Path, tmp_path: Path) -> None:
    log_dir = Path(load_config(config).defaults.log_dir)
    files = {"builder": tmp_path / "t" / "b.jsonl", "adversary": tmp_path / "t" / "a.jsonl"}
    ledger = Ledger(log_dir, ["builder", "adversary"], lambda name: [("claude", files[name])])
    t0 = 1_790_000_000.0  # before the transcripts' files were written
    ledger.poll(t0, "p1", "G1")  # G1 claimed (no claim commit known: it opens at this tick)
    transcript(files["builder"], "sb", [(10, 1000, 2000, 30)], at=t0 + 1)
    transcript(files["adversary"], "sa", [(5, 400, 0, 0)], at=t0 + 60)
    ledger.poll(t0 + 60, "p1", "G1")
    ledger.open_gate(t0 + 90, "p1", "G2")  # G2 claimed: G1 ends
    ledger.close_gate(t0 + 90, "p1", "G1")
    transcript(files["builder"], "sb", [(1, 100, 0, 0)], at=t0 + 120)
    ledger.poll(t0 + 120, "p1", "G2")
    ledger.close_phase(t0 + 3600, "p1")
    transcript(files["builder"], "sb", [(2, 50, 0, 0)], at=t0 + 3650)
    ledger.poll(t0 + 3700, "p2", None)  # p2 is still open: not a record yet

    result = agents("tokens", "--json", "--config", str(config))
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert records == read_ledger(log_dir)
    assert [(r["phase_id"], r["gate"]) for r in records] == [("p1:G1", "G1"), ("p1:G2", "G2"), ("p1", None)]
    gate, _, phase = records
    assert gate["agents"]["builder"] == {"input": 10, "output": 1000, "cache_read": 2000, "cache_write": 30, "total": 3040}
    assert gate["agents"]["adversary"]["total"] == 405 and gate["total"]["total"] == 3445
    assert gate["duration_s"] == 90
    assert phase["total"]["total"] == 3445 + 101 and phase["duration_s"] == 3600

    table = agents("tokens", "--config", str(config))
    assert table.exit_code == 0, table.output
    text = plain(table.stdout)
    assert "phase / gate" in text and "builder" in text and "adversary" in text
    assert "p1:G1 3,040 405 3,445" in text and "p1 3,141 405 3,546" in text
    assert "p2" not in text

    live = agents("tokens", "--live", "--json", "--config", str(config))
    assert [(r["phase_id"], r["ended"]) for r in json.loads(live.stdout)][-1] == ("p2", None)


def test_tokens_scan_sums_transcript_files(tmp_path: Path) -> None:
    folder = tmp_path / "projects"
    transcript(folder / "-work-app" / "sess-a.jsonl", "sess-a", [(10, 100, 1000, 20), (3, 7, 0, 0)])
    transcript(folder / "-work-lib" / "sess-b.jsonl", "sess-b", [(1, 2, 3, 4)])
    (folder / "notes.jsonl").write_text('{"something": "else"}\n')
    result = agents("tokens", "--scan", str(folder), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["sessions"] == {
        "sess-a": {"input": 13, "output": 107, "cache_read": 1000, "cache_write": 20, "total": 1140},
        "sess-b": {"input": 1, "output": 2, "cache_read": 3, "cache_write": 4, "total": 10},
    }
    assert data["total"] == {"input": 14, "output": 109, "cache_read": 1003, "cache_write": 24, "total": 1150}
    table = plain(agents("tokens", "--scan", str(folder)).stdout)
    assert "sess-a 13 107 1,000 20 1,140" in table and "total 14 109 1,003 24 1,150" in table
    missing = agents("tokens", "--scan", str(tmp_path / "nope"), "--json")
    assert missing.exit_code == 2
    assert missing.stderr.strip() == f"no such transcript file or folder: {tmp_path / 'nope'}"  # said once
