"""The project's control folders, created with explicit modes whatever the umask.

`Path.mkdir(mode, parents=True)` masks `mode` with the umask and gives missing parents 0o777
minus the umask: under umask 000 a project's control folders came out 0777, so any user of the
machine could drop a CLI request, a hook event or a launch spec into them. Here every folder
that is created gets its mode set (`chmod`, which the umask does not touch); folders that
already exist keep theirs (the user's choice).

Modes: `<log_dir>` itself is SHARED (0o755: logs, events and the token ledger may be read by
others on the machine); what lives under it and steers the watchdog — `state/` (with
`requests/`), `hooks/`, `launch/`, `wake/`, the git mirror `git/` — is PRIVATE (0o700).
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE = 0o700
SHARED = 0o755
# The control folders under <log_dir> (relative paths), all PRIVATE.
CONTROL = ("state", "state/requests", "hooks", "launch", "wake", "git")


def ensure_dir(path: Path, mode: int = PRIVATE) -> Path:
    """Create `path` and any missing parent with `mode` exactly (not masked by the umask);
    an existing folder is left as it is. Returns `path`. Raises OSError when a folder cannot be
    made (a file in the way, no permission)."""
    path = Path(path)
    missing = []
    here = path
    while not here.exists() and here.parent != here:
        missing.append(here)
        here = here.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, mode)
        except FileExistsError:
            continue  # made meanwhile by another process: its mode stands
        os.chmod(folder, mode)
    if not path.is_dir():
        raise NotADirectoryError(f"{path}: not a folder")
    return path


def ensure_control_dirs(log_dir: Path) -> None:
    """`<log_dir>` (SHARED) and its control folders (PRIVATE, `CONTROL`). Raises OSError."""
    ensure_dir(Path(log_dir), SHARED)
    for rel in CONTROL:
        ensure_dir(Path(log_dir) / rel, PRIVATE)
