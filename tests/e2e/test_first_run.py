"""First run end to end: the real Claude Code CLI (2.1.332 and 2.1.197) started by `Project.up`
in a HOME that never answered a first-run dialog, against the scripted model.

The HOME is what `runtime.homes.prepare_home` writes (onboarding done, bypass accepted, the API
key approved, the folder trusted) minus one answer:

- untrusted: no `projects.<dir>` entry, so the trust dialog shows (2.1.332: `❯ No, exit` first,
  unnumbered, a wrapping list; 2.1.197: `❯ 1. Yes, I trust this folder` first);
- key-unapproved: no `customApiKeyResponses`, so "Do you want to use this API key?" shows with
  the cursor on `No (recommended)`; choosing No leaves the session `Not logged in`, and no
  prompt ever reaches the model.

Each case runs twice: with the kickoff as an argument (the watchdog's dialogs policy answers the
dialog) and pasted (`runtime.startup.wait_ready` answers it before the paste, the watchdog not
yet running). Passing means the kickoff reached the model (the rehearsal server's journal) and
the answer was recorded in `.claude.json` (the trust, or the approved key).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent_orchestrator.config import load_config
from agent_orchestrator.rehearsal.runner import _leftovers, free_port
from agent_orchestrator.runtime.clis import find_cli
from agent_orchestrator.runtime.homes import prepare_home
from agent_orchestrator.runtime.observation import TmuxError
from agent_orchestrator.runtime.project import Project
from agent_orchestrator.runtime.tmux import TmuxRuntime
from agent_orchestrator.watchdog.events import read_events

pytestmark = [pytest.mark.e2e, pytest.mark.tmux]

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-ant-rehearsal-000000000000000000000000"
KICKOFF = "You are the first-run worker. Say hello, then wait."
VERSIONS = ("2.1.332", "2.1.197")


def claude_at(version: str) -> str:
    """The real Claude Code CLI at `version`: the matrix's pinned copy (`runtime.clis.find_cli`
    with AO_CLAUDE_VERSION), else — TEMPORARY, until the `claude` fixture can pick a version —
    the copy scripts/ensure-cli.sh installs under .cache/cli. Skips when neither is there."""
    found = find_cli("claude", env={**os.environ, "AO_CLAUDE_VERSION": version})
    if found is None:  # TEMPORARY hard-coded fallback (see the docstring)
        path = ROOT / ".cache" / "cli" / f"claude-code@{version}" / "node_modules" / ".bin" / "claude"
        found = str(path) if os.access(path, os.X_OK) else None
    if found is None:
        pytest.skip(f"Claude Code {version} is not installed (scripts/ensure-claude.sh --version {version})")
    return found


PLAYBOOK = """
[default]
text = "(first-run rehearsal: no rule matched)\\n\\nWAITING-UNTIL: 2099-01-01T00:00:00Z"

[[rule]]
id = "kickoff"
last_user = "first-run worker"
text = "Hello from the first-run worker.\\n\\nWAITING-UNTIL: 2099-01-01T00:00:00Z"
"""

CONFIG = """
[defaults]
session_prefix = "{prefix}"
log_dir = "run"
backend = "claude"
watch = "heal"
tmux_socket = "{socket}"

[watchdog]
signal_interval = 1
heavy_interval = 3
start_secs = 2

# A HOME of our own making (not "scratch": that one would be prepared with every answer given).
[backend.claude]
bin = "{bin}"
screen_version = "{version}"
prompt_delivery = "{delivery}"
startup_timeout = 90
env = {{ HOME = "{home}", ANTHROPIC_BASE_URL = "http://127.0.0.1:{port}", ANTHROPIC_API_KEY = "{key}", DISABLE_AUTOUPDATER = "1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = "1", IS_SANDBOX = "1" }}

[[service]]
name = "model"
cmd = ["{{python}}", "-m", "agent_orchestrator.rehearsal", "serve", "--playbook", "playbook.toml", "--port", "{port}", "--journal", "run/model-journal.jsonl"]
ready_re = "listening on"

[[agent]]
name = "worker"
kind = "persistent"
dir = "work"
prompt = "{kickoff}"
"""


@dataclass
class FirstRun:
    project: Project
    root: Path
    home: Path
    work: Path

    @property
    def log_dir(self) -> Path:
        return self.project.log_dir

    def journal(self) -> list[dict[str, Any]]:
        path = self.log_dir / "model-journal.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def events(self) -> list[dict[str, Any]]:
        return list(read_events(self.log_dir))

    def claude_json(self) -> dict[str, Any]:
        return json.loads((self.home / ".claude.json").read_text(encoding="utf-8"))

    def screen(self) -> list[str]:
        try:
            return self.project.runtime.capture(self.project.config.agent("worker").session or "")  # type: ignore[union-attr]
        except TmuxError as exc:
            return [f"(no screen: {exc})"]

    def wait(self, what: str, check: Callable[[], Any], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            got = check()
            if got:
                return got
            if time.monotonic() > deadline:
                events = "\n".join(f"{e['ts']:.1f} {e.get('agent') or '-'} {e['action']}: {e['reason']}" for e in self.events())
                journal = "\n".join(f"{j.get('kind')} rule={j.get('rule')} {(j.get('last_user') or '')[:60]!r}" for j in self.journal())
                pytest.fail(f"timed out after {timeout:g}s waiting for {what}\n-- events\n{events}\n-- journal\n{journal}\n"
                            f"-- screen\n" + "\n".join(self.screen()))
            time.sleep(0.5)


@contextmanager
def first_run(version: str, delivery: str, forget: str) -> Iterator[FirstRun]:
    """One worker in a sandbox whose HOME lacks the answer `forget` ("trust" or "api_key")."""
    root = Path(tempfile.mkdtemp(prefix=f"ao-first-run-{version}-"))
    token = secrets.token_hex(3)
    runtime = TmuxRuntime(f"ao-first-{token}")
    project = None
    left: list[str] = []
    try:
        home, work = root / "home", root / "work"
        work.mkdir()
        prepare_home(home, cli="claude", agent="worker", agent_dir=work, env={"ANTHROPIC_API_KEY": KEY})
        state_file = home / ".claude.json"
        state = json.loads(state_file.read_text(encoding="utf-8"))
        if forget == "trust":
            state.pop("projects")  # this folder was never trusted
        else:
            state.pop("customApiKeyResponses")  # the key was never approved (nor rejected)
        state_file.write_text(json.dumps(state, indent=1), encoding="utf-8")
        (root / "playbook.toml").write_text(textwrap.dedent(PLAYBOOK), encoding="utf-8")
        (root / "agents.toml").write_text(CONFIG.format(
            prefix=f"fr{token}-", socket=runtime.socket or "", bin=claude_at(version), version=version, delivery=delivery,
            home=home, port=free_port(), key=KEY, kickoff=KICKOFF), encoding="utf-8")
        project = Project(load_config(root / "agents.toml"), runtime)
        outcomes = project.up(watchdog=True)
        failed = [o for o in outcomes if o.failed]
        assert not failed, failed
        run = FirstRun(project, root, home, work)
        yield run
        began = min((e["ts"] for e in run.events()), default=0.0)
        print(f"\n-- first run of Claude Code {version} ({delivery}, {forget} not answered): events")
        for e in run.events():
            print(f"{e['ts'] - began:6.1f} {e.get('agent') or '-'} {e['action']}: {e['reason']}")
    finally:
        if project is not None:
            try:
                project.down()
            except TmuxError:
                pass
        runtime.kill_server()
        deadline = time.monotonic() + 15
        while (left := _leftovers(root, runtime)) and time.monotonic() < deadline:
            time.sleep(0.2)
        shutil.rmtree(root, ignore_errors=True)
    assert left == [], f"left behind: {left}"


def kickoff_reached_the_model(run: FirstRun) -> bool:
    return any(j.get("rule") == "kickoff" for j in run.journal())


@pytest.mark.parametrize("delivery", ["arg", "paste"])
@pytest.mark.parametrize("version", VERSIONS)
def test_an_untrusted_folder_reaches_the_kickoff(version: str, delivery: str) -> None:
    with first_run(version, delivery, forget="trust") as run:
        run.wait("the kickoff at the model", lambda: kickoff_reached_the_model(run), 120)
        projects = run.claude_json().get("projects", {})
        assert projects.get(str(run.work.resolve()), {}).get("hasTrustDialogAccepted") is True, projects
        answered = [e["reason"] for e in run.events() if e["action"] == "dialog-answered"]
        if delivery == "arg":  # the watchdog answered it, one key per fresh screen
            assert answered[-1:] == ["dialog trust: choose 'Yes, I trust this folder'"], answered
            # 2.1.332 starts on `No, exit`: Down first (again if the CLI redraws the dialog afresh)
            moves = answered[:-1]
            assert set(moves) == ({"dialog trust: Down toward 'Yes, I trust this folder'"} if version == "2.1.332" else set()), answered
        else:  # answered before the paste, by startup.wait_ready: nothing was left for the watchdog
            assert answered == [], answered
        assert not [e for e in run.events() if e["action"] == "needs-input"]
        run.wait("the reply on screen", lambda: "Hello from the first-run worker." in "\n".join(run.project.logs("worker", 80)), 30)


@pytest.mark.parametrize("delivery", ["arg", "paste"])
@pytest.mark.parametrize("version", VERSIONS)
def test_an_unapproved_api_key_is_approved_and_the_kickoff_reaches_the_model(version: str, delivery: str) -> None:
    with first_run(version, delivery, forget="api_key") as run:
        run.wait("the kickoff at the model", lambda: kickoff_reached_the_model(run), 120)
        responses = run.claude_json().get("customApiKeyResponses", {})
        assert responses.get("approved") == [KEY[-20:]] and not responses.get("rejected"), responses
        answered = [e["reason"] for e in run.events() if e["action"] == "dialog-answered"]
        if delivery == "arg":  # the cursor starts on `No (recommended)`
            assert answered[-1:] == ["dialog api_key: choose 'Yes'"] and answered[:-1], answered
            assert set(answered[:-1]) == {"dialog api_key: Up toward 'Yes'"}, answered
        else:
            assert answered == [], answered
        run.wait("the reply on screen", lambda: "Hello from the first-run worker." in "\n".join(run.project.logs("worker", 80)), 30)
        assert not any("Not logged in" in line for line in run.screen())
