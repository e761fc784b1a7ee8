"""A private sshd on 127.0.0.1 for tests: the "remote" host `b`, on this machine, touching no system config.

Everything lives in one temp folder: a host key, an sshd_config (ListenAddress 127.0.0.1, a free
port, key authentication only, `AuthorizedKeysFile` and `PidFile` inside the folder, `UsePAM no`,
`StrictModes no` for a temp folder), a client key pair with its public key as the only authorized
key, a known_hosts holding the host key, and an ssh_config for the client (`ssh -F <it>`) that
names the host `ao-test-b`. Sessions get their own HOME (`SetEnv HOME=…`), so the "remote" side
never writes into the real one. Runs as root (sshd then needs its privilege-separation folder,
/run/sshd, which a container may lack: it is created, empty, as systemd would) and as any other
user (sshd then only lets that same user in, which is all the tests need).

`stop()` kills the listener and every connection it forked (a host that went away: the client's
master connection drops), `start()` brings it back on the same port with the same key.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
HOST_ALIAS = "ao-test-b"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unavailable() -> str:
    """Why a private sshd cannot run here ("" when it can)."""
    if SSHD is None:
        return "sshd is not installed (tests/run.sh installs the openssh-server package with apt-get)"
    if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "the OpenSSH client (ssh, ssh-keygen) is not installed"
    return ""


def _children(pid: int) -> list[int]:
    """Every descendant of `pid` (from /proc), deepest first."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out: list[int] = []

    def walk(p: int) -> None:
        for child in parents.get(p, []):
            walk(child)
            out.append(child)

    walk(pid)
    return out


class PortTaken(RuntimeError):
    """sshd could not bind its port: another process took it since `free_port` looked."""


@dataclass
class Sshd:
    """A private sshd in `folder` on 127.0.0.1:`port`; `home` is the HOME its sessions get."""

    folder: Path
    port: int = field(default_factory=free_port)
    user: str = field(default_factory=getpass.getuser)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def home(self) -> Path:
        """The HOME of every session of this sshd."""
        return self.folder / "remote-home"

    @property
    def ssh_config(self) -> Path:
        """The client config (`ssh -F`): host alias, port, key, known_hosts."""
        return self.folder / "ssh_config"

    def ssh_options(self) -> list[str]:
        """What a `[[host]]` passes as `ssh_options`."""
        return ["-F", str(self.ssh_config)]

    def host_table(self, name: str = "b", *, log_dir: Path, tmux_socket: str) -> dict[str, object]:
        """A `[[host]]` table for this sshd."""
        return {"name": name, "ssh": HOST_ALIAS, "ssh_options": self.ssh_options(), "log_dir": str(log_dir),
                "tmux_socket": tmux_socket, "python": "python3", "timeout": 8.0}

    def prepare(self) -> None:
        """Keys, configs and the session HOME (idempotent)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(exist_ok=True)
        for key in ("host_key", "client_key"):
            if not (self.folder / key).exists():
                subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", key, "-f", str(self.folder / key)], check=True)
        shutil.copy(self.folder / "client_key.pub", self.folder / "authorized_keys")
        host_pub = " ".join((self.folder / "host_key.pub").read_text().split()[:2])
        (self.folder / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {host_pub}\n")
        (self.folder / "sshd_config").write_text("\n".join([
            "ListenAddress 127.0.0.1", f"Port {self.port}", f"HostKey {self.folder / 'host_key'}",
            f"AuthorizedKeysFile {self.folder / 'authorized_keys'}", f"PidFile {self.folder / 'sshd.pid'}",
            "StrictModes no", "UsePAM no", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password", f"AllowUsers {self.user}", f"SetEnv HOME={self.home}",
            "MaxSessions 64", "MaxStartups 64:30:128", "LogLevel ERROR", "",
        ]))
        self.ssh_config.write_text("\n".join([
            f"Host {HOST_ALIAS}", "  HostName 127.0.0.1", f"  Port {self.port}", f"  User {self.user}",
            f"  IdentityFile {self.folder / 'client_key'}", "  IdentitiesOnly yes", f"  UserKnownHostsFile {self.folder / 'known_hosts'}",
            "  GlobalKnownHostsFile /dev/null", "  StrictHostKeyChecking yes", "  LogLevel ERROR", "",
        ]))

    def start(self, timeout: float = 30.0) -> None:
        """Start the listener and wait (bounded) until it accepts connections. A port taken
        meanwhile by another process (suites run side by side) moves it to a free one: the client
        config and known_hosts follow, so `ssh -F` finds it there."""
        for _ in range(3):
            try:
                self._start(timeout)
                return
            except PortTaken:
                self.port = free_port()
        self._start(timeout)

    def _start(self, timeout: float) -> None:
        assert SSHD is not None
        self.prepare()
        if os.geteuid() == 0 and not Path("/run/sshd").is_dir():
            Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)  # sshd's privsep folder (systemd makes it)
        log = (self.folder / "sshd.log").open("ab")
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.folder / "sshd_config")], stdout=log, stderr=log,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                said = (self.folder / "sshd.log").read_text()[-500:]
                self.proc = None
                if "Address already in use" in said:
                    raise PortTaken(said)
                raise RuntimeError(f"sshd exited: {said}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as probe:
                    banner = probe.recv(8)  # sshd speaks first; whatever else holds the port does not say this
                if banner.startswith(b"SSH-"):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()  # not left running behind the failure
        raise RuntimeError(f"sshd did not answer on 127.0.0.1:{self.port} within {timeout:g}s")

    def stop(self) -> None:
        """Kill the listener and every connection it serves (the host is gone)."""
        if self.proc is None:
            return
        # Frozen first: a listener still running would accept (and fork for) a new connection
        # between the scan of its children and its own end, and that connection would live on.
        os.kill(self.proc.pid, signal.SIGSTOP)
        pids = [self.proc.pid, *_children(self.proc.pid)]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)
        self.proc = None

    def run(self, *remote: str) -> subprocess.CompletedProcess[str]:
        """Run a command on the host directly (checks, not the code under test)."""
        return subprocess.run(["ssh", *self.ssh_options(), "-o", "BatchMode=yes", HOST_ALIAS, "--", *remote],
                              capture_output=True, text=True, timeout=30, check=False)
