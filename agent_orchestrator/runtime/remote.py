"""The tmux server of a `[[host]]`, driven over SSH: the `Runtime` protocol on another machine.

`RemoteTmuxRuntime` is `TmuxRuntime` with its one low-level call (`_tmux`) sent through the host's
master connection (runtime/ssh.py) as `tmux [-L|-S socket] <args>`, so captures, keys, kills and
the batched capture work unchanged. What differs:

- `observe` is one ssh call that runs `list-panes -a` and reads every launch record of the
  host's `<log_dir>/launch/` (pid and exit records, one `grep` for all of them): the agent pids and
  exit statuses come with the panes, never one call per agent;
- a start writes the launch spec on the host (and, once per process, the pane launcher itself:
  runtime/launcher.py and the modules of ours it imports, under `<log_dir>/.ao/<hash>/`, with a
  bootstrap that puts that folder first on its own `sys.path` only — the agent's environment is
  not touched), then `new-session` runs `<python> <bootstrap> <spec>` there: the host needs
  Python 3.8+, not this package;
- a paste goes through `load-buffer -` from the call's stdin and `paste-buffer` in one call.

Every failure to reach the host is `HostUnreachable` (a `TmuxError`).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from agent_orchestrator.config.schema import HostConfig
from agent_orchestrator.runtime.files import RemoteFiles
from agent_orchestrator.runtime.observation import PaneObservation, TmuxError
from agent_orchestrator.runtime.ssh import SshTransport
from agent_orchestrator.runtime.tmux import _FORMAT, TmuxRuntime, escape_arg, parse_panes, target

PACKAGE = Path(__file__).resolve().parents[1]
HOOK_SCRIPT_SOURCE = (Path(__file__).resolve().parents[1] / "data" / "hooks" / "append-event.sh").read_text(encoding="utf-8")

# list-panes, a marker line, then every launch record as "<file>:<json>" (file names are session
# names plus a suffix: letters, digits, '-' and '_' only, so the first ':' ends the name).
_OBSERVE = r"""
d=$1 t=$2 f=$3; shift 3
"$@" list-panes -a -F "$f" 2>/dev/null
printf '%s\n' "$t"
cd "$d" 2>/dev/null || exit 0
grep -H '' -- *.json.pid *.json.exit 2>/dev/null
exit 0
"""


_BOOTSTRAP = """import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent_orchestrator.runtime.launcher import main
sys.exit(main(sys.argv[1:]))
"""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _ours(module: str) -> Path | None:
    """The source file of one of our modules (`agent_orchestrator.x.y`), or None."""
    parts = module.split(".")
    if parts[0] != "agent_orchestrator":
        return None
    path = PACKAGE.joinpath(*parts[1:])
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


@functools.cache
def launcher_bundle() -> dict[str, str]:
    """The files the pane launcher needs on a host, by path relative to the bundle folder:
    runtime/launcher.py, every module of ours it imports (transitively; they must need only the
    standard library), the packages' (empty) `__init__.py` and the bootstrap `run.py`."""
    files: dict[str, str] = {"run.py": _BOOTSTRAP}
    todo = ["agent_orchestrator.runtime.launcher"]
    while todo:
        module = todo.pop()
        path = _ours(module)
        rel = module.replace(".", "/") + ".py"
        if path is None or rel in files:
            continue
        text = path.read_text(encoding="utf-8")
        files[rel] = text
        parts = module.split(".")
        for i in range(1, len(parts)):
            files.setdefault("/".join(parts[:i]) + "/__init__.py", "")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                todo.append(node.module)
            elif isinstance(node, ast.Import):
                todo += [alias.name for alias in node.names]
    return files


def bundle_digest() -> str:
    """A digest of the launcher bundle: its folder name on a host, so versions never mix."""
    return _digest(json.dumps(launcher_bundle(), sort_keys=True))


@dataclass
class _Result:
    """What `_tmux` returns, shaped like libtmux's `tmux_cmd`."""

    returncode: int
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)


class RemoteTmuxRuntime(TmuxRuntime):
    """The tmux server on `host` (its `tmux_socket`, or the remote user's default server).

    `transport` carries every call; `files` writes launch specs there. Launch specs and records
    live in `<host.log_dir>/launch/` on the host (`spec_dir` arguments, which name this machine's
    folder, are ignored).
    """

    def __init__(self, host: HostConfig, transport: SshTransport, files: RemoteFiles | None = None) -> None:
        self.host = host
        self.transport = transport
        self.files = files or RemoteFiles(transport, host.python)
        self.socket = host.tmux_socket
        self.spec_dir = None
        self.calls = 0
        self.pane_ids: dict[str, str] = {}
        self.pane_pids: dict[str, int] = {}
        self._agent_pids: dict[str, tuple[int, int]] = {}
        self.log_dir = PurePosixPath(host.log_dir)
        self.launch_dir = self.log_dir / "launch"
        self.bundle = self.log_dir / ".ao" / f"launcher-{bundle_digest()}"
        self.launcher = self.bundle / "run.py"
        self.hook_script = self.log_dir / ".ao" / f"append-event-{_digest(HOOK_SCRIPT_SOURCE)}.sh"
        self._deployed = False
        self._uid: int | None = None
        # Seconds an observation may take (None: the host's timeout); shortened by HostsRuntime
        # while the host is unreachable, so probing it does not hold up every tick.
        self.observe_timeout: float | None = None
        # session -> its launch records as last observed: {".pid": {...}, ".exit": {...}}
        self.records: dict[str, dict[str, dict[str, Any]]] = {}

    # -- low level -------------------------------------------------------------------------
    def tmux_argv(self, *, utf8: bool = True) -> list[str]:
        """`tmux` plus the host's socket option. `utf8` adds `-u`: an ssh session often has no
        UTF-8 locale, and tmux then prints `_` for every tab (and non-ASCII character) of a
        `-F` format — the tab-separated `list-panes` rows would not split (seen on tmux 3.3a)."""
        sock = self.socket
        base = ["tmux", "-u"] if utf8 else ["tmux"]
        return [*base, "-S", sock] if sock and "/" in sock else [*base, "-L", sock] if sock else base

    def _tmux(self, *args: str, stdin: bytes | None = None) -> _Result:
        result = self.transport.run([*self.tmux_argv(), *args], stdin=stdin)
        return _Result(result.returncode, result.text(), [line for line in result.stderr.decode("utf-8", "replace").split("\n") if line])

    def base_argv(self) -> list[str]:
        """ssh with a terminal, then tmux on the host (for `attach`; append the tmux verb with
        `attach_argv`, which quotes it for the remote shell)."""
        return self.transport.argv(self.tmux_argv(utf8=False), tty=True)

    def attach_argv(self, session: str) -> list[str]:
        """`ssh -t <host> tmux attach-session -t =<session>` as one argv."""
        return self.transport.argv([*self.tmux_argv(utf8=False), "attach-session", "-t", f"={session}"], tty=True)

    # -- observation -----------------------------------------------------------------------
    def observe(self) -> dict[str, PaneObservation]:
        """Every session's first pane on the host and every launch record, from ONE ssh call.
        Raises HostUnreachable when the host does not answer ({} when its tmux has no server)."""
        self.calls += 1
        token = f"ao-observe-{secrets.token_hex(8)}"
        result = self.transport.run(["sh", "-c", _OBSERVE, "sh", str(self.launch_dir), token, _FORMAT, *self.tmux_argv()],
                                    timeout=self.observe_timeout)
        lines = result.text()
        cut = lines.index(token) if token in lines else len(lines)
        records: dict[str, dict[str, dict[str, Any]]] = {}
        for line in lines[cut + 1:]:
            name, _, text = line.partition(":")
            session, dot, suffix = name.rpartition(".json.")
            if not dot or suffix not in ("pid", "exit"):
                continue
            try:
                record = json.loads(text)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.setdefault(session, {})["." + suffix] = record
        self.records = records
        return self.remember(parse_panes(lines[:cut], self._lost_status))

    def _lost_status(self, session: str) -> int | None:
        record = self.exit_record(session)
        if record is None:
            return None
        if "signal" in record:
            return 128 + int(record["signal"])
        return int(record["status"]) if "status" in record else None

    def agent_pid(self, session: str) -> int | None:
        """Pid (on the host) of the agent the launcher started, from the last observation."""
        record = self.records.get(session, {}).get(".pid")
        pid = record.get("pid") if record else None
        return int(pid) if isinstance(pid, int) else None

    def exit_record(self, session: str) -> dict[str, Any] | None:
        """The launcher's exit record of the session's last run, from the last observation."""
        return self.records.get(session, {}).get(".exit")

    def uid(self) -> int | None:
        """The effective uid sessions run as on the host (asked once; None when it cannot say)."""
        if self._uid is None:
            try:
                found = self.files.info().get("uid")
            except OSError:  # HostUnreachable too: the start that needs it fails on its own
                return None
            self._uid = found if isinstance(found, int) else -1
        return self._uid if self._uid >= 0 else None

    # -- lifecycle -------------------------------------------------------------------------
    def _write_spec(self, session: str, argv: list[str], cwd: Path, env: dict[str, str] | None,
                    supervise: dict[str, float] | None) -> str:
        """Write the launch spec on the host (stale records of the last run removed, the launcher
        copied there once): one ssh call. Returns the spec's path there."""
        spec = self.launch_dir / f"{session}.json"
        payload = {"argv": argv, "cwd": str(cwd), "env": env or {}, **({"supervise": supervise} if supervise else {})}
        entries: list[dict[str, Any]] = [{"path": f"{spec}{suffix}", "remove": True} for suffix in (".exit", ".pid", ".supervise")]
        entries.append({"path": str(spec), "text": json.dumps(payload), "mode": 0o600})
        self.files.write_entries([*entries, *self._deploy()])
        self._deployed = True
        self.records.pop(session, None)
        return str(spec)

    def ensure_deployed(self) -> None:
        """Copy the launcher and the hook recorder to the host unless this process did already."""
        if not self._deployed:
            self.files.write_entries(self._deploy())
            self._deployed = True

    def _deploy(self) -> list[dict[str, Any]]:
        """Write entries that put the launcher bundle and the hook recorder on the host (files
        already there are left alone: their names carry their digest); none once deployed."""
        if self._deployed:
            return []
        entries: list[dict[str, Any]] = [{"path": str(self.bundle / rel), "text": text, "mode": 0o644, "only_missing": True}
                                         for rel, text in launcher_bundle().items()]
        entries.append({"path": str(self.hook_script), "text": HOOK_SCRIPT_SOURCE, "mode": 0o755, "only_missing": True})
        return entries

    def start(self, session: str, argv: list[str], *, cwd: Path, env: dict[str, str] | None = None, width: int = 200,
              height: int = 50, spec_dir: Path | None = None, owner: str | None = None,
              supervise: dict[str, float] | None = None) -> None:
        """Create `session` on the host running `argv` in `cwd` (a path there) through the pane
        launcher, as `TmuxRuntime.start` does here. Raises TmuxError (HostUnreachable)."""
        if self.has_session(session):
            raise TmuxError(f"session {session!r} exists already on host {self.host.name}")
        self.pane_ids.pop(session, None)
        spec = self._write_spec(session, argv, cwd, env, supervise)
        self.new_session(session, [self.host.python, str(self.launcher), spec], cwd=str(cwd), width=width, height=height, owner=owner)

    def restart(self, session: str, argv: list[str], *, cwd: Path, env: dict[str, str] | None, spec_dir: Path | None = None,
                supervise: dict[str, float] | None = None) -> None:
        """Start `argv` afresh in the session's pane on the host (dead or alive)."""
        spec = self._write_spec(session, argv, cwd, env, supervise)
        self.cmd("respawn-pane", "-k", "-t", self.pane(session), "--", self.host.python, str(self.launcher), spec)

    def kill_server(self) -> None:
        """Stop the host's (private) tmux server. Refuses the remote user's default server."""
        if not self.socket:
            raise TmuxError(f"refusing to kill the default tmux server of host {self.host.name}")
        self.calls += 1
        self._tmux("kill-server")

    # -- input -----------------------------------------------------------------------------
    def paste(self, session: str, text: str) -> None:
        """Bracketed-paste `text` into the pane: `load-buffer -` from this call's stdin, then
        `paste-buffer -p -d`, in one tmux invocation (no file on either machine)."""
        buffer = f"ao-{secrets.token_hex(6)}"
        self.calls += 1
        result = self._tmux("load-buffer", "-b", buffer, "-", ";", "paste-buffer", "-p", "-d", "-b", buffer, "-t",
                            escape_arg(self.pane(session)), stdin=text.encode("utf-8"))
        if result.returncode != 0:
            raise TmuxError(f"tmux paste-buffer on host {self.host.name}: {' '.join(result.stderr).strip() or 'failed'}")


__all__ = ["RemoteTmuxRuntime", "target"]
