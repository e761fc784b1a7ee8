"""The tmux runtime: the only module that talks to tmux (through libtmux's `Server.cmd`).

Every target is exact (`=session:` — on tmux 3.3a the trailing colon matters, see REFERENCE).
Commands are started as argument lists through `agent_orchestrator.runtime.launcher`, so neither config
text nor prompt text ever reaches a shell or tmux's own command parser, and the size limit of a
tmux client message does not cap the length of a kickoff.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import libtmux

from agent_orchestrator.runtime.launcher import agent_pid, exit_record, exit_status, spawn_argv, write_spec
from agent_orchestrator.runtime.observation import PaneObservation, TmuxError

# A tmux client message holds at most 16 KiB of packed arguments (MAX_IMSGSIZE in tmux 3.3a;
# more is refused with "command too long"); one batch of captures stays well under it. About
# 70 bytes a capture: some 170 captures fit in one invocation.
_BATCH_BYTES = 12_000
# Seconds `load-buffer -` may take to read a paste from its stdin (it is local and instant).
LOAD_TIMEOUT = 30.0
# tmux's error for a target that is gone ("can't find pane: %5", "can't find session: x"):
# the one batch failure after which the rest of the batch is worth another try.
_VANISHED = "can't find"

# One tab-separated row per pane; every field the policies need, read in one call per tick.
_FIELDS = (
    "session_name",
    "pane_id",
    "pane_pid",
    "pane_dead",
    "pane_dead_status",
    "pane_current_command",
    "window_activity",
    "session_created",
    "pane_width",
    "pane_height",
    "@ao_project",  # the owning project's config path (runtime/owner.py); last: it may hold a tab
)
_FORMAT = "\t".join("#{" + f + "}" for f in _FIELDS)


def target(session: str) -> str:
    """The exact tmux target of a session's active pane (`=name:`)."""
    return f"={session}:"


def escape_arg(arg: str) -> str:
    """Protect an argument from tmux's command-line parser.

    tmux treats an argument that ends in `;` as a command separator (even after `--`); a trailing
    `\\;` is taken as a literal `;`. Checked on tmux 3.3a.
    """
    return arg[:-1] + "\\;" if arg.endswith(";") else arg


class TmuxRuntime:
    """A tmux server: the user's default one, or a private one named by `socket`.

    `socket` is a socket name (tmux -L) or, when it contains a '/', a socket path (tmux -S).
    Nothing here starts a server except `start`: observing a server that is not running returns
    no panes.
    """

    def __init__(self, socket: str | None = None, spec_dir: Path | None = None) -> None:
        self.socket = socket
        self.spec_dir = spec_dir
        # Resolved once: libtmux otherwise searches PATH on every command (~0.5 ms, twice a tick).
        # None (no tmux on PATH) leaves libtmux to raise its not-found error per command, as before.
        tmux_bin = shutil.which("tmux")
        if socket and "/" in socket:
            self.server = libtmux.Server(socket_path=socket, tmux_bin=tmux_bin)
        elif socket:
            self.server = libtmux.Server(socket_name=socket, tmux_bin=tmux_bin)
        else:
            self.server = libtmux.Server(tmux_bin=tmux_bin)
        self.calls = 0  # tmux invocations, for benchmarks
        # session -> pane id of the pane `observe` reports, so input and captures go to that
        # pane even when someone split the window (`=name:` would mean the active pane).
        self.pane_ids: dict[str, str] = {}
        # session -> pid of that pane's process (the launcher), as last observed.
        self.pane_pids: dict[str, int] = {}
        # session -> (pane pid, agent pid): the launcher's `.pid` record, read once per pane
        # process (see `agent_pid`).
        self._agent_pids: dict[str, tuple[int, int]] = {}

    # -- low level -------------------------------------------------------------------------
    def _tmux(self, *args: str) -> Any:
        """Run one tmux invocation as given (no escaping); an object with `returncode`, `stdout`
        and `stderr` (lists of lines). The one place a command reaches the server: the remote
        runtime (runtime/remote.py) sends the same argv over ssh."""
        return self.server.cmd(*args)

    def pane(self, session: str) -> str:
        """Target of the session's agent pane: its pane id when observed, else `=session:`."""
        return self.pane_ids.get(session) or target(session)

    def cmd(self, *args: str, check: bool = True) -> list[str]:
        """Run one tmux command; return its stdout lines. Raises TmuxError when `check` and it fails."""
        self.calls += 1
        result = self._tmux(*[escape_arg(a) for a in args])
        if check and result.returncode != 0:
            raise TmuxError(f"tmux {args[0]}: {' '.join(result.stderr).strip() or 'failed'}")
        return list(result.stdout)

    def base_argv(self) -> list[str]:
        """`tmux` plus the socket option, for handing the terminal over (attach)."""
        if self.socket and "/" in self.socket:
            return ["tmux", "-S", self.socket]
        if self.socket:
            return ["tmux", "-L", self.socket]
        return ["tmux"]

    # -- observation -----------------------------------------------------------------------
    def observe(self) -> dict[str, PaneObservation]:
        """Every session's first pane, by session name, from one `list-panes -a` call.

        Returns {} when no server is running (it does not start one). With a `spec_dir`, a dead
        pane whose exit status tmux lost gets the one the launcher recorded.
        """
        self.calls += 1
        result = self._tmux("list-panes", "-a", "-F", _FORMAT)
        if result.returncode != 0:
            return {}
        spec_dir = self.spec_dir
        lost = (lambda name: exit_status(spec_dir, name)) if spec_dir is not None else None  # tmux 3.3a loses it; see launcher.py
        return self.remember(parse_panes(result.stdout, lost))

    def remember(self, panes: dict[str, PaneObservation]) -> dict[str, PaneObservation]:
        """Keep each observed session's pane id and pid (input and captures go to that pane)."""
        self.pane_ids = {name: pane.pane_id for name, pane in panes.items()}
        self.pane_pids = {name: pane.pid for name, pane in panes.items() if pane.pid}
        return panes

    def unreachable(self) -> dict[str, str]:
        """Machines the last observation could not reach: none, one server is one machine."""
        return {}

    def has_session(self, session: str) -> bool:
        """True when a session of exactly this name exists."""
        self.calls += 1
        return self._tmux("has-session", "-t", f"={session}").returncode == 0

    def capture(self, session: str, lines: int | None = None) -> list[str]:
        """The visible screen of the session's pane (with `lines`: only the bottom `lines` rows).

        Trailing blank rows are kept out. Raises TmuxError when the session does not exist.
        """
        out = self.cmd("capture-pane", "-p", "-t", self.pane(session))
        while out and not out[-1].strip():
            out.pop()
        return out[-lines:] if lines else out

    def capture_many(self, sessions: Iterable[str]) -> dict[str, list[str]]:
        """The visible screens of several sessions' panes (as `capture` gives them) from ONE tmux
        invocation; a session whose pane cannot be captured is left out of the result.

        The captures go in one command list, each followed by `display-message -p <token> <i>`
        with a random per-call token, and stdout is split on those lines: a screen counts only
        once the marker after it has been printed. tmux abandons the rest of a command list at
        the first failing command, so when a session vanished after `observe` the screens
        before it are kept, it is left out, and the sessions after it go in a further batch —
        one more invocation per vanished session, on that rare tick only. Any other failure (the
        server is gone) ends the call with what was captured. More captures than fit in one
        client message (about 170) take one invocation per batch.
        """
        pending = list(dict.fromkeys(sessions))
        screens: dict[str, list[str]] = {}
        while pending:
            token = f"ao-capture-{secrets.token_hex(8)}"
            args: list[str] = []
            size = 0
            batch: list[str] = []
            for session in pending:
                part = ["capture-pane", "-p", "-t", escape_arg(self.pane(session)),
                        ";", "display-message", "-p", f"{token} {len(batch)}"]
                cost = sum(len(a.encode()) + 1 for a in part) + 2
                if batch and size + cost > _BATCH_BYTES:
                    break
                args += [";", *part] if batch else part
                size += cost
                batch.append(session)
            self.calls += 1
            # The ";" separators are ours (escape_arg went over the one argument that is not).
            result = self._tmux(*args)
            done = _split_batch(result.stdout, token)
            for session, rows in zip(batch, done, strict=False):
                screens[session] = _trim(rows)
            if len(done) == len(batch):
                pending = pending[len(batch):]
                continue
            if _VANISHED not in " ".join(result.stderr):
                break  # the server went away, or tmux failed otherwise: the rest stay out
            pending = pending[len(done) + 1:]  # the one at len(done) is gone
        return screens

    def capture_history(self, session: str, lines: int) -> list[str]:
        """The last `lines` non-blank-run rows of scrollback + screen.

        Runs of blank rows are folded into one (a dead pane's last words can sit in the history
        above a screen of blank rows) and trailing blank rows are dropped.
        """
        out = self.cmd("capture-pane", "-p", "-S", f"-{lines + 500}", "-t", self.pane(session))
        folded: list[str] = []
        for row in out:
            if row.strip() or (folded and folded[-1].strip()):
                folded.append(row)
        while folded and not folded[-1].strip():
            folded.pop()
        return folded[-lines:]

    # -- lifecycle -------------------------------------------------------------------------
    def start(
        self,
        session: str,
        argv: list[str],
        *,
        cwd: Path,
        env: dict[str, str] | None = None,
        width: int = 200,
        height: int = 50,
        spec_dir: Path,
        owner: str | None = None,
        supervise: dict[str, float] | None = None,
    ) -> None:
        """Create session `session` running `argv` in `cwd` with `env` added.

        The pane keeps its dead process on screen with its exit status (remain-on-exit), so an
        agent that dies stays observable. The argv and env go to a private spec file under
        `spec_dir` that `agent_orchestrator.runtime.launcher` reads and execs. `owner` (a project's
        config path) becomes the session's `@ao_project` option in the same invocation, so the
        session is never seen untagged (runtime/owner.py). `supervise` (a restart policy, see
        `launcher._supervise`) makes the launcher run the command again when it dies. Raises
        TmuxError when the session exists already or tmux fails.
        """
        if self.has_session(session):
            raise TmuxError(f"session {session!r} exists already")
        self.pane_ids.pop(session, None)
        spec = write_spec(spec_dir, session, argv, cwd, env or {}, supervise)
        self.new_session(session, spawn_argv(spec), cwd=str(cwd), width=width, height=height, owner=owner)

    def new_session(self, session: str, command: list[str], *, cwd: str, width: int, height: int, owner: str | None) -> None:
        """`new-session` running `command` (the pane launcher's argv) with remain-on-exit and the
        owner tag set in the same invocation. Raises TmuxError when tmux fails."""
        # One invocation, two commands: tmux runs a command list before it reaps any child, so
        # remain-on-exit is in force even for a command that exits at once (which would
        # otherwise take its window, and its exit status, with it). The ";" is ours, not
        # config text, so it bypasses escape_arg on purpose.
        self.calls += 1
        # On a private server, focus-events on keeps Claude Code from flashing a hint about it
        # into its footer (two screen changes that restart idle clocks); the user's own server's
        # global options are left alone.
        private = [";", "set-option", "-g", "focus-events", "on"] if self.socket else []
        tag = [";", "set-option", "-t", target(session), "@ao_project", escape_arg(owner)] if owner else []  # runtime/owner.py
        result = self._tmux(
            "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height), "-c", cwd,
            "--", *command, ";", "set-option", "-w", "-t", target(session), "remain-on-exit", "on", *private, *tag,
        )
        if result.returncode != 0:
            raise TmuxError(f"tmux new-session: {' '.join(result.stderr).strip() or 'failed'}")

    def respawn(self, session: str, spec: Path) -> None:
        """Replace the session's pane process with the spec's command (kills what runs there)."""
        self.cmd("respawn-pane", "-k", "-t", self.pane(session), "--", *spawn_argv(spec))

    def restart(self, session: str, argv: list[str], *, cwd: Path, env: dict[str, str] | None, spec_dir: Path,
                supervise: dict[str, float] | None = None) -> None:
        """Start `argv` afresh in an existing session's pane (dead or alive); `supervise` as in `start`."""
        self.respawn(session, write_spec(spec_dir, session, argv, cwd, env or {}, supervise))

    def kill_server(self) -> None:
        """Stop this (private) server and remove its socket file, which tmux 3.3a leaves behind.

        Refuses the user's default server: only a `socket` named here is ever shut down.
        """
        if not self.socket:
            raise TmuxError("refusing to kill the default tmux server")
        self.calls += 1
        self._tmux("kill-server")
        path = Path(self.socket) if "/" in self.socket else Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}" / self.socket
        path.unlink(missing_ok=True)

    def kill(self, session: str) -> bool:
        """Kill the session if it exists; True when one was killed."""
        self.pane_ids.pop(session, None)
        self.calls += 1
        return self._tmux("kill-session", "-t", f"={session}").returncode == 0

    # -- input -----------------------------------------------------------------------------
    def paste(self, session: str, text: str) -> None:
        """Paste `text` into the pane as a bracketed paste (no submit key).

        The text goes to a uniquely named buffer through `load-buffer -` (tmux reads it from
        stdin: no temp file, so a watchdog killed mid-paste leaves none behind), never through
        send-keys (which eats trailing `;`, strips newlines on newer tmux and lets `/` or `@`
        open completion menus). Raises TmuxError when tmux refuses either step.
        """
        buffer = f"ao-{secrets.token_hex(6)}"
        self.calls += 1
        try:
            loaded = subprocess.run([*self.base_argv(), "load-buffer", "-b", buffer, "-"], input=text.encode("utf-8"),
                                    capture_output=True, check=False, timeout=LOAD_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TmuxError(f"tmux load-buffer: {exc}") from None
        if loaded.returncode != 0:
            raise TmuxError(f"tmux load-buffer: {loaded.stderr.decode(errors='replace').strip() or 'failed'}")
        self.cmd("paste-buffer", "-p", "-d", "-b", buffer, "-t", self.pane(session))

    def send_key(self, session: str, *keys: str) -> None:
        """Send tmux key names (e.g. "Enter", "Down", "C-c") to the pane."""
        self.cmd("send-keys", "-t", self.pane(session), *keys)

    # -- launch records --------------------------------------------------------------------
    def agent_pid(self, session: str) -> int | None:
        """Pid of the agent the launcher started in the session (its `.pid` record), or None.

        Read once per pane process: the launcher is the pane's process and the agent its child,
        so the record can change only when the pane's pid does (a respawn starts a new launcher,
        and `write_spec` removes the old record before it). Keyed by the pane pid `observe` last
        saw; a session not observed yet, or whose launcher has not written the record yet, is
        read from the file every time.
        """
        if self.spec_dir is None:
            return None
        pane_pid = self.pane_pids.get(session)
        cached = self._agent_pids.get(session)
        if pane_pid is not None and cached is not None and cached[0] == pane_pid:
            return cached[1]
        pid = agent_pid(self.spec_dir, session)
        if pane_pid is not None and pid is not None:
            self._agent_pids[session] = (pane_pid, pid)
        else:
            self._agent_pids.pop(session, None)
        return pid

    def exit_record(self, session: str) -> dict[str, Any] | None:
        """The launcher's exit record of the session's last run (see `launcher.exit_record`)."""
        return exit_record(self.spec_dir, session) if self.spec_dir is not None else None


def parse_panes(rows: Iterable[str], lost_status: Callable[[str], int | None] | None = None) -> dict[str, PaneObservation]:
    """Every session's first pane from `list-panes -a -F <_FORMAT>` output rows; a dead pane whose
    exit status tmux did not keep gets `lost_status(session)` (the launcher's record)."""
    panes: dict[str, PaneObservation] = {}
    for line in rows:
        parts = line.split("\t", len(_FIELDS) - 1)
        if len(parts) != len(_FIELDS):
            continue
        name, pane_id, pid, dead, status, command, activity, created, width, height, owner = parts
        if name in panes:
            continue
        dead_status = int(status) if dead == "1" and status.lstrip("-").isdigit() else None
        if dead == "1" and dead_status is None and lost_status is not None:
            dead_status = lost_status(name)
        panes[name] = PaneObservation(
            session=name,
            pane_id=pane_id,
            pid=int(pid or 0),
            dead=dead == "1",
            dead_status=dead_status,
            current_command=command,
            window_activity=float(activity or 0),
            created=float(created or 0),
            width=int(width or 0),
            height=int(height or 0),
            owner=owner,
        )
    return panes


def _split_batch(stdout: list[str], token: str) -> list[list[str]]:
    """The screens of a capture batch's stdout, in order: the rows before each `<token> <i>`
    marker line; rows after the last marker (a capture whose marker never came) are dropped."""
    done: list[list[str]] = []
    rows: list[str] = []
    for line in stdout:
        if line == f"{token} {len(done)}":
            done.append(rows)
            rows = []
        else:
            rows.append(line)
    return done


def _trim(rows: list[str]) -> list[str]:
    """`rows` without trailing blank rows."""
    end = len(rows)
    while end and not rows[end - 1].strip():
        end -= 1
    return rows[:end]
