"""The SSH transport: every command for a `[[host]]` runs as an argv through one master connection.

Each call is `ssh <ssh_options> -o ControlMaster=auto -o ControlPath=<path> -o ControlPersist=…
-- <destination> <remote command>`: the first call opens the master connection (OpenSSH
backgrounds it), every later call rides on it (a few ms of channel set-up instead of a TCP + key
exchange), and the master outlives its last client by `CONTROL_PERSIST` seconds. The control
socket lives under `<log_dir>/ssh/` (local log_dir); a path too long for a Unix socket falls back to
a private folder in the system temp dir (`control_path`).

The remote command is one string, because sshd hands it to the remote user's login shell: it is
always `shlex.join(argv)` of an argument list, so config text (paths, names, kickoffs) reaches the
remote program as the same arguments, never as shell syntax. Checked on OpenSSH 9.2p1 (client and
server) with a POSIX login shell (bash, dash, zsh) on the remote side.

Exit status 255 is ssh's own failure (no connection, authentication refused, master gone), and
a call that takes longer than the host's `timeout` is cut off: both raise `HostUnreachable`.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from agent_orchestrator.config.schema import HostConfig
from agent_orchestrator.runtime.folders import PRIVATE, ensure_dir
from agent_orchestrator.runtime.observation import TmuxError

CONTROL_PERSIST = 300  # seconds the master connection stays up after its last client
# sun_path holds 108 bytes, and ssh first binds "<ControlPath>.<16 random characters>".
SOCKET_PATH_MAX = 90
KEEPALIVE = 10  # seconds between the master's keepalives; 3 unanswered ones drop a dead connection


class HostUnreachable(TmuxError):
    """A host did not answer: ssh could not connect (exit 255) or the call outlived the timeout.

    `host` is the `[[host]]` name, `reason` ssh's own last words (or the timeout)."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"host {host} unreachable: {reason}")
        self.host = host
        self.reason = reason


@dataclass(frozen=True)
class SshResult:
    """One remote command's exit status and output (bytes; the caller decodes)."""

    returncode: int
    stdout: bytes
    stderr: bytes

    def text(self) -> list[str]:
        """stdout as lines (UTF-8, undecodable bytes replaced), trailing empty lines dropped."""
        lines = self.stdout.decode("utf-8", "replace").split("\n")
        while lines and lines[-1] == "":
            lines.pop()
        return lines

    def error(self) -> str:
        """stderr as one line ("" when silent)."""
        return " ".join(self.stderr.decode("utf-8", "replace").split())


def config_word(text: str) -> str:
    r"""`text` as one word of an ssh option value (`-o Key=<word>`): ssh splits option values on
    blanks and honours quotes and backslashes there (OpenSSH's argv_split), and expands `%`
    tokens in paths; so it is double-quoted, with backslashes and double quotes escaped and `%`
    doubled.

    >>> print(config_word('/run dir/say "hi" 5%'))
    "/run dir/say \"hi\" 5%%"
    """
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def control_path(control_dir: Path, host: str) -> Path:
    """Where the master connection's socket for `host` lives: `<control_dir>/<host>`, or — when
    that path is too long for a Unix socket — `<tmp>/ao-ssh-<uid>/<hash of it>` (a 0700 folder)."""
    path = Path(control_dir) / host
    if len(os.fsencode(str(path))) <= SOCKET_PATH_MAX:
        return path
    digest = hashlib.sha256(os.fsencode(str(path))).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / f"ao-ssh-{os.getuid()}" / digest


def private_folder(folder: Path) -> Path:
    """Make `folder` (0700) unless it exists, and check that it is this user's and that nobody
    else can write into it: whoever can put a socket at the control path gets every command
    (and its stdin) meant for the host. Raises TmuxError naming the folder when it is not."""
    ensure_dir(folder, PRIVATE)
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise TmuxError(f"{folder}: the ssh control folder must be a folder of uid {os.getuid()} that nobody else can write to "
                        f"(it is uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):o})")
    return folder


class SshTransport:
    """Runs argv lists on one `[[host]]` through a persistent master connection.

    `control_dir` is the local folder for the control socket (`<log_dir>/ssh`). `calls` counts
    ssh processes started (for benchmarks). Thread-safe: calls share nothing but the master.
    """

    def __init__(self, host: HostConfig, control_dir: Path) -> None:
        self.host = host
        self.name = host.name
        self.timeout = float(host.timeout)
        self.control = control_path(control_dir, host.name)
        self.calls = 0

    def options(self, *, master: bool = True) -> list[str]:
        """The ssh options every call carries (the user's `ssh_options` first: theirs win)."""
        opts = [*self.host.ssh_options, "-o", f"ControlPath={config_word(str(self.control))}"]
        if master:
            opts += ["-o", "ControlMaster=auto", "-o", f"ControlPersist={CONTROL_PERSIST}"]
        return [*opts, "-o", f"ConnectTimeout={max(1, round(self.timeout))}", "-o", f"ServerAliveInterval={KEEPALIVE}",
                "-o", "ServerAliveCountMax=3"]

    def argv(self, remote: list[str], *, tty: bool = False) -> list[str]:
        """The local argv that runs `remote` (an argument list) on the host; with `tty` a terminal
        is allocated (`attach`), else none and no password prompt can block (BatchMode)."""
        private_folder(self.control.parent)
        mode = ["-t"] if tty else ["-T", "-o", "BatchMode=yes"]
        return ["ssh", *self.options(), *mode, "--", self.host.ssh, shlex.join(remote)]

    def run(self, remote: list[str], *, stdin: bytes | None = None, timeout: float | None = None) -> SshResult:
        """Run `remote` on the host and wait for it (at most `timeout` seconds, default the
        host's). Raises HostUnreachable when ssh fails (255) or the time runs out."""
        argv = self.argv(remote)
        limit = self.timeout if timeout is None else timeout
        self.calls += 1
        try:
            done = subprocess.run(argv, input=stdin if stdin is not None else b"", capture_output=True, timeout=limit, check=False)
        except subprocess.TimeoutExpired:
            self.close()  # a master stuck on a dead link would hold up every later call: start afresh
            raise HostUnreachable(self.name, f"no answer within {limit:g}s") from None
        except OSError as exc:
            raise HostUnreachable(self.name, f"cannot run ssh: {exc.strerror}") from None
        result = SshResult(done.returncode, done.stdout, done.stderr)
        if done.returncode == 255:
            raise HostUnreachable(self.name, result.error() or "ssh failed (exit 255)")
        return result

    def close(self) -> bool:
        """Stop the master connection (`ssh -O exit`); True when one was running."""
        if not self.control.exists():
            return False
        try:
            done = subprocess.run(["ssh", *self.options(master=False), "-O", "exit", "--", self.host.ssh],
                                  capture_output=True, timeout=5, check=False)
        except (subprocess.TimeoutExpired, OSError):
            return False
        deadline = time.monotonic() + 2
        while self.control.exists() and time.monotonic() < deadline:  # the master removes it on its way out
            time.sleep(0.05)
        return done.returncode == 0
