"""The SSH transport against a real sshd on 127.0.0.1 (tests/support/sshd.py): argv in, the same
argv out on the host, one master connection, and a host that is gone or silent is `HostUnreachable`."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from agent_orchestrator.config.schema import HostConfig
from agent_orchestrator.runtime.observation import TmuxError
from agent_orchestrator.runtime.ssh import SOCKET_PATH_MAX, HostUnreachable, SshTransport, control_path
from tests.support.sshd import HOST_ALIAS, Sshd

# What a shell would split, expand, glob or end a command at; newlines and quotes of both kinds.
TRICKY = ["plain", "two words", "it's", 'say "hi"', "$HOME", "`id`", "$(id)", "a;b", "x && y", "*", "~", "back\\slash",
          "line\nbreak", "", "--", "-n"]


def host(sshd: Sshd, **over: object) -> HostConfig:
    return HostConfig(**{"name": "b", "ssh": HOST_ALIAS, "ssh_options": sshd.ssh_options(), "log_dir": "/tmp/unused", **over})  # type: ignore[arg-type]


def masters(control: Path) -> list[int]:
    """Pids of ssh master processes serving `control` (their title names the socket)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if cmdline.startswith(b"ssh: " + str(control).encode()) and b"[mux]" in cmdline:
                out.append(int(entry.name))
    return out


def test_arguments_reach_the_host_unchanged_through_one_master_connection(sshd: Sshd, tmp_path: Path) -> None:
    transport = SshTransport(host(sshd), tmp_path / "run dir 'x'" / "ssh")
    try:
        done = transport.run(["python3", "-c", "import json, sys; print(json.dumps(sys.argv[1:]))", *TRICKY])
        assert done.returncode == 0, done.error()
        import json

        assert json.loads(done.stdout) == TRICKY
        assert transport.control == tmp_path / "run dir 'x'" / "ssh" / "b"
        assert transport.control.is_socket()
        assert len(masters(transport.control)) == 1
        for _ in range(3):
            assert transport.run(["true"]).returncode == 0
        assert len(masters(transport.control)) == 1  # every call rides on the same master
        assert transport.calls == 4
        # stdin reaches the remote program, byte for byte
        assert transport.run(["cat"], stdin=b"\x00bytes\nand 'quotes'\n").stdout == b"\x00bytes\nand 'quotes'\n"
        # the remote program's own failure is its exit status, not "unreachable"
        assert transport.run(["sh", "-c", "exit 3"]).returncode == 3
    finally:
        assert transport.close()
    assert not transport.control.exists() and masters(transport.control) == []


def test_a_stopped_host_is_unreachable_at_once_and_reachable_again(sshd: Sshd, tmp_path: Path) -> None:
    transport = SshTransport(host(sshd, timeout=120.0), tmp_path / "ssh")
    assert transport.run(["true"]).returncode == 0
    sshd.stop()
    started = time.monotonic()
    with pytest.raises(HostUnreachable) as info:
        transport.run(["true"])
    assert time.monotonic() - started < 60  # refused: said at once, not after the host's timeout
    assert info.value.host == "b" and "Connection refused" in info.value.reason
    sshd.start()
    assert transport.run(["echo", "back"]).stdout == b"back\n"
    transport.close()


def test_a_host_that_accepts_but_never_answers_is_cut_off_at_its_timeout(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])  # never says a word
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    config = tmp_path / "ssh_config"
    config.write_text(f"Host silent\n  HostName 127.0.0.1\n  Port {listener.getsockname()[1]}\n  BatchMode yes\n"
                      f"  UserKnownHostsFile {tmp_path / 'known'}\n  StrictHostKeyChecking yes\n")
    transport = SshTransport(HostConfig(name="s", ssh="silent", ssh_options=["-F", str(config)], log_dir="/x", timeout=1.5),
                             tmp_path / "ssh")
    try:
        started = time.monotonic()
        with pytest.raises(HostUnreachable) as info:
            transport.run(["true"])
        assert time.monotonic() - started < 60  # cut off at its 1.5 s, not left hanging
        assert info.value.host == "s"
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        listener.close()


def test_a_control_path_too_long_for_a_socket_moves_to_a_private_temp_folder(tmp_path: Path) -> None:
    short = control_path(tmp_path / "ssh", "b")
    assert short == tmp_path / "ssh" / "b"
    deep = tmp_path / ("x" * 60) / ("y" * 60) / "ssh"
    moved = control_path(deep, "b")
    assert moved != deep / "b" and len(os.fsencode(str(moved))) <= SOCKET_PATH_MAX
    assert moved == control_path(deep, "b")  # stable: the same master is found again
    assert moved.parent.name == f"ao-ssh-{os.getuid()}"


def test_attach_gets_a_terminal_and_a_quoted_remote_command(sshd: Sshd, tmp_path: Path) -> None:
    transport = SshTransport(host(sshd), tmp_path / "ssh")
    argv = transport.argv(["tmux", "-L", "my sock", "attach-session", "-t", "=t-bob"], tty=True)
    assert argv[0] == "ssh" and "-t" in argv and "BatchMode=yes" not in argv
    assert argv[-2:] == [HOST_ALIAS, "tmux -L 'my sock' attach-session -t =t-bob"]
    # and that string is what the host's shell runs: the same argv again
    echo = transport.argv(["printf", "%s|", "my sock", "=t-bob"])
    assert subprocess.run(echo, capture_output=True, timeout=30, check=False).stdout == b"my sock|=t-bob|"
    transport.close()


def test_a_control_folder_others_can_write_to_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ssh"
    folder.mkdir()
    folder.chmod(0o777)  # anyone could plant a socket there and be sent the host's commands
    transport = SshTransport(HostConfig(name="b", ssh="b", log_dir="/x"), folder)
    with pytest.raises(TmuxError, match="nobody else can write"):
        transport.argv(["true"])
    folder.chmod(0o700)
    assert transport.argv(["true"])[-2:] == ["b", "true"]
    fresh = SshTransport(HostConfig(name="b", ssh="b", log_dir="/x"), tmp_path / "new" / "ssh")
    fresh.argv(["true"])
    assert (tmp_path / "new" / "ssh").stat().st_mode & 0o777 == 0o700


def test_the_test_host_moves_off_a_port_taken_meanwhile(tmp_path: Path) -> None:
    from tests.support.sshd import unavailable

    if unavailable():
        pytest.skip(unavailable())
    with socket.socket() as squatter:  # accepts connections but is no sshd
        squatter.bind(("127.0.0.1", 0))
        squatter.listen(1)
        server = Sshd(tmp_path / "sshd", port=squatter.getsockname()[1])
        server.start()
        try:
            assert server.port != squatter.getsockname()[1]
            assert server.run("echo", "here").stdout == "here\n"
        finally:
            server.stop()
