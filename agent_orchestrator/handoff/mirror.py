"""The watchdog's own view of the handoff repo: a bare mirror under `<log_dir>/git/handoff.git`.

The watchdog (and the watchers) never fetch in an agent's working clone: a fetch there would
run that clone's hooks inside the watchdog and fight the agent's own git commands for its locks
and its FETCH_HEAD (seen: the builder's `git pull --rebase origin main` failing with "Cannot
rebase onto multiple branches" because the watchdog's fetch rewrote FETCH_HEAD between its two
steps). The mirror is a bare repository whose `origin` is the work clone's `origin` URL, with
hooks switched off (`core.hooksPath=/dev/null`); `GitRepo(mirror)` reads `origin/main` there
exactly as it would in the clone.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from agent_orchestrator.handoff.gitrepo import GitError
from agent_orchestrator.runtime.folders import PRIVATE, ensure_dir

_ENV_DROP = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR")


def mirror_path(log_dir: Path) -> Path:
    """Where the watchdog's mirror of the handoff repo lives."""
    return Path(log_dir) / "git" / "handoff.git"


def _git(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in _ENV_DROP}
    env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(f"git {' '.join(args[:3])}: {exc}") from None


def origin_url(repo: Path, timeout: float = 10.0) -> str:
    """The work clone's `origin` URL, a relative local path made absolute. Raises GitError."""
    done = _git(["-C", str(repo), "config", "--get", "remote.origin.url"], timeout)
    url = done.stdout.strip()
    if done.returncode != 0 or not url:
        raise GitError(f"{repo}: no origin remote (git config remote.origin.url)")
    if "://" not in url and ":" not in url.split("/", 1)[0] and not os.path.isabs(url):
        url = str((Path(repo) / url).resolve())  # a local path given relative to the clone
    return url


def ensure_mirror(repo: Path, log_dir: Path, timeout: float = 30.0) -> Path:
    """The mirror of `repo`'s origin under `log_dir` (created on first use; its origin URL kept in
    step with the clone's). Raises GitError when the clone has no origin or git fails."""
    path = mirror_path(log_dir)
    url = origin_url(repo, timeout)
    if not (path / "HEAD").exists():
        ensure_dir(path.parent, PRIVATE)  # <log_dir>/git: private whatever the umask (git init follows the umask)
        for args in (["init", "--quiet", "--bare", str(path)],
                     ["-C", str(path), "config", "core.hooksPath", "/dev/null"],
                     ["-C", str(path), "remote", "add", "origin", url],
                     ["-C", str(path), "config", "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*"]):
            done = _git(args, timeout)
            if done.returncode != 0:
                raise GitError(f"git {' '.join(args[-3:])}: {done.stderr.strip() or 'failed'}")
        return path
    current = _git(["-C", str(path), "config", "--get", "remote.origin.url"], timeout).stdout.strip()
    if current != url:
        _git(["-C", str(path), "remote", "set-url", "origin", url], timeout)
    return path
