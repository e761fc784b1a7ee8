"""The tmux runtime of a `[[host]]` over a real sshd (tests/support/sshd.py), with its own tmux server
and log_dir: what a start runs, one ssh call per observation and per batch of captures, pastes,
keys, exit statuses from the launcher's records, and nothing of ours installed on the host."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_orchestrator.config.schema import HostConfig
from agent_orchestrator.runtime.files import RemoteFiles
from agent_orchestrator.runtime.homes import prepare_home
from agent_orchestrator.runtime.observation import TmuxError
from agent_orchestrator.runtime.remote import RemoteTmuxRuntime, launcher_bundle
from agent_orchestrator.runtime.ssh import HostUnreachable, SshTransport
from tests.support.hosts import kill_remote_server, remote_socket
from tests.support.sshd import HOST_ALIAS, Sshd
from tests.support.tmux import wait_until

pytestmark = pytest.mark.tmux

ARGS = ["two words", "it's", 'say "hi"', "$HOME", "a;", "*", ""]


@pytest.fixture
def remote(sshd: Sshd, tmp_path: Path) -> Iterator[RemoteTmuxRuntime]:
    socket = remote_socket()
    host = HostConfig(name="b", ssh=HOST_ALIAS, ssh_options=sshd.ssh_options(), tmux_socket=socket,
                      log_dir=str(tmp_path / "b's \"remote\" logs"), python="python3")
    transport = SshTransport(host, tmp_path / "local" / "ssh")
    yield RemoteTmuxRuntime(host, transport, RemoteFiles(transport, host.python))
    kill_remote_server(socket)
    transport.close()


def _record(path: Path) -> object:
    return json.loads(path.read_text()) if path.exists() and path.read_text().strip() else None


def test_a_start_runs_the_exact_argv_cwd_and_env_through_the_launcher_copied_there(remote: RemoteTmuxRuntime, tmp_path: Path) -> None:
    work = tmp_path / "work dir 'q'"
    work.mkdir()
    out = work / "seen.json"
    script = "import json, os, sys, time; json.dump([sys.argv[1:], os.getcwd(), os.environ['X'], 'agent_orchestrator' in sys.modules], " \
             "open(os.environ['OUT'], 'w')); time.sleep(60)"
    remote.start("t-a", ["python3", "-c", script, *ARGS], cwd=work, env={"X": "v '\"$y", "OUT": str(out)}, owner="/p/agents.toml")
    assert wait_until(lambda: _record(out) is not None, timeout=20)
    assert _record(out) == [ARGS, str(work), "v '\"$y", False]
    # the launcher ran from the bundle in the host's log_dir: no package of ours there
    bundle = Path(str(remote.bundle))
    assert sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*.py")) == sorted(launcher_bundle())
    before = remote.transport.calls
    panes = remote.observe()
    assert remote.transport.calls == before + 1  # panes and every launch record in one ssh call
    pane = panes["t-a"]
    assert (pane.dead, pane.current_command, pane.owner) == (False, "python3", "/p/agents.toml")
    assert remote.agent_pid("t-a") is not None and remote.agent_pid("t-a") != pane.pid  # the agent, the launcher's child
    assert remote.has_session("t-a") and not remote.has_session("t-")  # exact targets, never a prefix


def test_captures_of_many_sessions_are_one_call_and_input_arrives_as_typed(remote: RemoteTmuxRuntime, tmp_path: Path) -> None:
    for name in ("t-x", "t-y", "t-z"):
        remote.start(name, ["cat"], cwd=tmp_path)
    remote.observe()
    text = "hello 'world' \"x\" $HOME; `id` *"
    remote.paste("t-y", text)
    remote.send_key("t-y", "Enter")
    assert wait_until(lambda: remote.capture("t-y").count(text) == 2, timeout=20)  # the echo of the tty and cat's copy
    before = remote.transport.calls
    screens = remote.capture_many(["t-x", "t-y", "t-z"])
    assert remote.transport.calls == before + 1
    assert screens["t-x"] == [] and screens["t-y"] == [text, text] and screens["t-z"] == []
    assert remote.kill("t-x") and not remote.kill("t-x")
    assert "t-x" not in remote.observe()


def test_a_dead_agent_keeps_its_exit_status_and_records(remote: RemoteTmuxRuntime, tmp_path: Path) -> None:
    remote.start("t-d", ["python3", "-c", "import sys; print('last words'); sys.exit(3)"], cwd=tmp_path)
    assert wait_until(lambda: (p := remote.observe().get("t-d")) is not None and p.dead, timeout=20)
    assert remote.observe()["t-d"].dead_status == 3
    record = remote.exit_record("t-d")
    assert record is not None and record["status"] == 3 and record["ended"] >= record["started"]
    assert "last words" in "\n".join(remote.capture_history("t-d", 20))
    remote.restart("t-d", ["python3", "-c", "import time; time.sleep(60)"], cwd=tmp_path, env=None)
    assert wait_until(lambda: not remote.observe()["t-d"].dead, timeout=20)
    assert remote.exit_record("t-d") is None  # the last run's records went with the new start


def test_a_scratch_home_is_prepared_on_the_host(remote: RemoteTmuxRuntime, tmp_path: Path) -> None:
    home = tmp_path / "b's \"remote\" logs" / "homes" / "adversary"
    env = prepare_home(home, cli="claude", agent="adversary", agent_dir=tmp_path / "review", env={"ANTHROPIC_API_KEY": "k" * 30},
                       files=remote.files)
    assert env == {"HOME": str(home)}
    data = json.loads((home / ".claude.json").read_text())
    assert data["hasCompletedOnboarding"] and data["projects"][str(tmp_path / "review")]["hasTrustDialogAccepted"]
    assert data["customApiKeyResponses"]["approved"] == ["k" * 20]
    assert "name = adversary" in (home / ".gitconfig").read_text()
    assert (home / ".claude.json").stat().st_mode & 0o077 == 0


def test_a_host_that_is_gone_is_unreachable_not_empty(remote: RemoteTmuxRuntime, sshd: Sshd, tmp_path: Path) -> None:
    remote.start("t-a", ["cat"], cwd=tmp_path)
    assert "t-a" in remote.observe()
    sshd.stop()
    with pytest.raises(HostUnreachable):
        remote.observe()
    with pytest.raises(TmuxError):  # a HostUnreachable is a TmuxError: every caller's handler applies
        remote.capture("t-a")
    sshd.start()
    assert "t-a" in remote.observe()  # it ran on all along
