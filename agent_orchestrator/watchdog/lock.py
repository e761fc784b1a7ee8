"""The project lock: one watchdog per project, and the phase verbs' guard when none runs."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from agent_orchestrator.runtime.folders import SHARED, ensure_dir

# `lock_holder` probes the lock by taking a shared flock for an instant, and a watchdog that was
# just SIGKILLed keeps its flock until a child it was forking (a tmux or git call between fork
# and exec) has exec'd: both hold the lock for microseconds to milliseconds (more on a loaded
# machine). A lock that stays busy this long is held by a live watchdog.
BUSY_GRACE = 0.2  # seconds


class LockHeld(RuntimeError):
    """Another watchdog holds the project's lock; `pid` names it."""

    def __init__(self, path: Path, pid: str) -> None:
        super().__init__(f"another watchdog is running for this project (pid {pid or 'unknown'}, lock {path})")
        self.pid = pid


class ProjectLock:
    """An exclusive flock on `<log_dir>/watchdog.lock` holding the owner's pid.

    The kernel drops a flock when its process dies, so a stale lock from a dead watchdog is taken
    over without any cleanup.
    """

    def __init__(self, log_dir: Path) -> None:
        self.path = Path(log_dir) / "watchdog.lock"
        self.fd: int | None = None

    def acquire(self, wait: float = 0.0) -> None:
        """Take the lock. Raises LockHeld when a live process holds it for `BUSY_GRACE` seconds
        (a passing `lock_holder` probe is not a holder), or for `wait` seconds when longer."""
        ensure_dir(self.path.parent, SHARED)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + max(BUSY_GRACE, wait)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.01)
                    continue
                holder = os.read(fd, 32).decode(errors="replace").strip()
                os.close(fd)
                raise LockHeld(self.path, holder) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self.fd = fd

    def release(self) -> None:
        """Give the lock up (a no-op when not held)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def lock_holder(log_dir: Path) -> int | None:
    """Pid of the live watchdog holding the project's lock (-1 when unreadable), or None."""
    path = Path(log_dir) / "watchdog.lock"
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        text = os.read(fd, 32).decode(errors="replace").strip()
        return int(text) if text.isdigit() else -1
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
