"""A new user's first hour, as a script: init → edit → validate → up → a typo → status and down still
work → fix → `status --watch` for 3 s → a notification arrives → down.

Everything is real: the `agents` verbs (typer's CliRunner), tmux on a private socket, the watchdog
process `up` starts there, git (a bare origin and the two clones the starter config names), an
HTTP receiver on 127.0.0.1 and a notify command. The agents run on the demo backend; the test plays
the builder's last push (the phase's status file with `## DONE`), which completes the one-phase
sequence: the watchdog's `sequence-complete` event is the notification the user gets.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_orchestrator.cli.app import app, normalize_argv
from agent_orchestrator.runtime.tmux import TmuxRuntime
from agent_orchestrator.watchdog.events import read_events
from tests.support.tmux import screen_has, wait_until

pytestmark = pytest.mark.tmux
runner = CliRunner()


def agents(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, normalize_argv(list(args)))
    assert result.exit_code == code, (args, result.output)
    return result.output


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(autouse=True)
def git_identity(own_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (own_home / ".gitconfig").write_text("[user]\n\tname = Test\n\temail = test@example.invalid\n[init]\n\tdefaultBranch = main\n")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


class Receiver:
    """An ntfy-like endpoint on 127.0.0.1: keeps every POSTed JSON body."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server calls it by this name
                bodies.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0)))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/my-team"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_new_user_walk(tmp_path: Path, socket: str) -> None:
    project = tmp_path / "myproj"
    receiver = Receiver()
    tmux = TmuxRuntime(socket)
    config = str(project / "agents.toml")
    try:
        # init: a starter project
        out = agents("init", str(project))
        assert "wrote" in out and "agents.toml" in out

        # edit: the demo backend (no agent CLI on this machine), a private tmux server, quick ticks,
        # the loop's clones, and [notify] to a local endpoint and a command
        origin = tmp_path / "origin.git"
        subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
        for clone in ("work", "review"):
            subprocess.run(["git", "clone", "-q", str(origin), str(project / clone)], check=True, capture_output=True)
        (project / "work" / "README.md").write_text("wc clone\n")
        git(project / "work", "add", "README.md")
        git(project / "work", "commit", "-q", "-m", "init")
        git(project / "work", "push", "-q", "origin", "HEAD:main")
        (project / "notify.py").write_text("import sys\nopen('notified.jsonl', 'a').write(sys.stdin.read() + '\\n')\n")
        text = (project / "agents.toml").read_text()
        text = re.sub(r'backend = "claude" .*', f'backend = "demo"\ntmux_socket = "{socket}"', text)
        text = text.replace("signal_interval = 5", "signal_interval = 1").replace("heavy_interval = 30", "heavy_interval = 2")
        text += f'\n[notify]\nurl = "{receiver.url}"\ncmd = ["{sys.executable}", "notify.py"]\non = ["sequence-complete", "needs-human"]\n'
        (project / "agents.toml").write_text(text)

        # validate
        assert agents("validate", "--config", config).startswith(f"ok: {config}: prefix 'myproj-")

        # up
        out = agents("up", "--config", config)
        assert out.count("started") == 3  # builder, adversary, the watchdog
        prefix = re.search(r'session_prefix = "([^"]+)"', text).group(1)
        assert wait_until(screen_has(tmux, f"{prefix}builder", "demo>"))

        # a typo
        (project / "agents.toml").write_text(text.replace('name = "adversary"', 'name = "adversary"\nwach = "heal+stall"'))
        error = f'{config}: agent[1].wach: unknown key; did you mean "watch"?'
        assert agents("validate", "--config", config, code=2).splitlines() == [error]

        # status and down still work, on the last good config, with one warning line
        out = agents("status", "--config", config)
        assert f"warning: {error}; using the last good config" in out and "builder" in out and "running" in out
        out = agents("down", "adversary", "--config", config)
        assert "stopped" in out and f"{prefix}adversary" not in tmux.observe()

        # fix it: everything validates again, the adversary comes back supervised
        (project / "agents.toml").write_text(text)
        agents("validate", "--config", config)
        assert "started" in agents("up", "adversary", "--config", config)

        # status --watch for 3 seconds, once the watchdog has started (slow on a loaded machine) and logged it
        assert wait_until(lambda: any(e.get("action") == "watchdog-start" for e in read_events(project / ".agents")), timeout=60)
        out = agents("status", "--watch", "--for", "3", "--config", config)
        for seen in ("builder", "adversary", "phase p1 (1/1)", "watchdog running", "last events"):
            assert seen in out, (seen, out)

        # the builder's last push completes the sequence: the user is notified
        (project / "work" / ".agents").mkdir()
        (project / "work" / ".agents" / "status-p1.md").write_text("# p1\n\nAll gates passed.\n\n## DONE\n")
        git(project / "work", "add", ".agents/status-p1.md")
        git(project / "work", "commit", "-q", "-m", "status(p1): done")
        git(project / "work", "push", "-q", "origin", "HEAD:main")
        log_dir = project / ".agents"
        assert wait_until(lambda: len(receiver.bodies) == 1 and (project / "notified.jsonl").exists(), timeout=60), \
            list(read_events(log_dir))[-10:]
        body = receiver.bodies[0]
        assert (body["kind"], body["project"], body["session_prefix"]) == ("sequence-complete", config, prefix)
        assert json.loads((project / "notified.jsonl").read_text().splitlines()[0])["kind"] == "sequence-complete"
        assert json.loads(agents("phase", "show", "--json", "--config", config))["complete"] is True

        # down: nothing left
        agents("down", "--config", config)
        assert tmux.observe() == {}
    finally:
        receiver.close()
