"""Read-only git plumbing for the handoff and phase policies (DESIGN §6).

The watchdog keeps a clone of the work repo and, each signal tick, fetches it and looks at
`origin/main` only: new commit subjects (claims, reviews), inbox blobs, the phase status file.
Everything here reads what was PUSHED; the working tree and local branches are never consulted.

Every call is one `git -C <path> ...` argument list (never a shell string) with:

* a per-process `timeout` (seconds); on expiry the whole process group gets SIGTERM — git then
  removes its own lock files — and SIGKILL after a short grace. Killing the group, not just git,
  matters: a transport helper (ssh) inherits git's stderr pipe, and `subprocess.run`'s own
  timeout would wait for that pipe to close, i.e. hang as long as ssh does.
* a new session (no controlling terminal), `stdin` from /dev/null and `GIT_TERMINAL_PROMPT=0`, so
  no credential or host-key prompt can block a tick.
* `LC_ALL=C` so git's messages are stable, and the caller's repo-location variables (`GIT_DIR`,
  `GIT_WORK_TREE`, ... e.g. from a hook) dropped so `-C` decides which repo is read.
* `GIT_CEILING_DIRECTORIES` at the repo's parent, so a path that is not a repo fails instead of
  silently reading an enclosing one.

Relies on git >= 2.24 (`--end-of-options`); developed and tested against git 2.39.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Variables that would point git at a different repository than `-C` names
# (the repo-location subset of `git rev-parse --local-env-vars`).
_REPO_ENV = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_IMPLICIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_PREFIX", "GIT_NAMESPACE",
    "GIT_GRAFT_FILE", "GIT_SHALLOW_FILE", "GIT_INTERNAL_SUPER_PREFIX",
)
# One record per commit: sha, committer epoch, subject. The subject goes last and is split off
# with maxsplit, so a \x1f inside it survives; `-z` ends each record with NUL.
_LOG_FORMAT = "--format=%H%x1f%ct%x1f%s"
_SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")  # sha1 or sha256 object names
_KILL_GRACE = 2.0  # seconds between SIGTERM (git cleans its locks) and SIGKILL


class GitError(RuntimeError):
    """A git command failed or timed out; the one-line message names the command and git's stderr."""


@dataclass(frozen=True)
class Commit:
    """One commit: full `sha`, `subject` (first line, undecodable bytes as U+FFFD), `ts` = committer time, epoch seconds."""

    sha: str
    subject: str
    ts: float


@dataclass(frozen=True)
class FetchResult:
    """Outcome of `GitRepo.fetch`: `head` is the tracked branch's sha after a successful fetch
    (None when the remote has no such branch yet, and always None when `ok` is False); `error` is
    the one-line reason when not `ok`."""

    ok: bool
    head: str | None
    error: str = ""


class GitRepo:
    """Read the pushed state of a clone: `<remote>/<branch>` (default `origin/main`) after fetching.

    `timeout` bounds each git process, in seconds. Methods other than `fetch` raise GitError when
    git itself fails (not a repository, corrupt objects, timeout); "absent" answers (no such
    branch yet, no such file) are None or empty, not errors. `rev` arguments default to the
    tracking ref `refs/remotes/<remote>/<branch>` and accept any revision git understands.

    With `probe`, `fetch` first asks the remote for the branch's head (`git ls-remote`, one
    process) and fetches only when it differs from the tracking ref — see `fetch`.

    Git processes spawned per call — the watchdog fetches every tick, so this is the budget:
    fetch 2 (1 when it fails; with `probe`: 2 — ls-remote, rev-parse — while the remote's head
    is unchanged, 4 when it moved), remote_head 1, head 1, commits_between 0-2 (0 for a
    baseline or an unchanged head; a third only when `merge-base` fails, to tell a vanished
    `old` from a real error),
    show 1, blob_ids 1 (any number of paths), log 1, last_commit_ts 1.
    """

    def __init__(self, path: Path, *, remote: str = "origin", branch: str = "main", timeout: float = 30.0,
                 probe: bool = False) -> None:
        self.path = Path(path)
        self.remote = remote
        self.branch = branch
        self.timeout = timeout
        self.probe = probe
        self.fetches = 0  # `git fetch` runs (for tests and benchmarks)
        self.skipped = 0  # fetches `probe` found unneeded
        self.tracking_ref = f"refs/remotes/{remote}/{branch}"
        env = {k: v for k, v in os.environ.items() if k not in _REPO_ENV}
        env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C", GIT_OPTIONAL_LOCKS="0")
        env["GIT_CEILING_DIRECTORIES"] = str(self.path.absolute().parent)
        self._env = env

    def __repr__(self) -> str:
        return f"GitRepo({str(self.path)!r}, tracking={self.tracking_ref!r})"

    # -- the one place that runs git -------------------------------------------------------

    def _run(self, args: list[str], *, input: bytes | None = None, ok_codes: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[bytes]:
        """Run `git -C <path> *args`; return the finished process when its exit code is in `ok_codes`.

        Raises GitError on any other exit code, on a timeout, or when git cannot be started.
        """
        cmd = ["git", "-C", str(self.path), *args]
        shown = "git " + " ".join(args)
        try:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self._env, start_new_session=True,
            )
        except OSError as exc:
            raise GitError(f"{shown}: cannot run git: {exc}") from None
        try:
            out, err = proc.communicate(input, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise GitError(f"{shown}: timed out after {self.timeout:g}s") from None
        if proc.returncode not in ok_codes:
            raise GitError(f"{shown}: exit {proc.returncode}: {_one_line(err) or 'no message'}")
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)

    # -- public API ------------------------------------------------------------------------

    def fetch(self) -> FetchResult:
        """`git fetch --quiet <remote>`, then the tracking ref's sha. Never raises.

        Any failure — timeout, unknown remote, unreachable URL, path not a repo — comes back as
        `FetchResult(ok=False, head=None, error=...)`; the caller keeps its last known head. Two
        processes (fetch, rev-parse); one when the fetch fails. Submodules are not fetched: the
        handoff only reads the superproject.

        With `probe`: `remote_head()` first, and no fetch at all when it equals the tracking ref
        (read afresh each time, so another process fetching the same mirror cannot make it
        lie). Measured on a local and a `file://` origin (BENCHMARKS.md, bench/handoff_bench.py):
        `ls-remote` + `rev-parse` cost about half a fetch of nothing + its `rev-parse`, and the
        mirror's refs and FETCH_HEAD are not rewritten. A failing `ls-remote` is the fetch's failure (no second try, so an
        unreachable remote costs one timeout per tick, not two).
        """
        try:
            if self.probe:
                remote = self.remote_head()
                if remote == self.head():
                    self.skipped += 1
                    return FetchResult(ok=True, head=remote)
            self.fetches += 1
            self._run(["fetch", "--quiet", "--no-recurse-submodules", "--end-of-options", self.remote])
            return FetchResult(ok=True, head=self.head())
        except GitError as exc:
            return FetchResult(ok=False, head=None, error=str(exc))

    def remote_head(self) -> str | None:
        """The branch's sha on the remote now (`git ls-remote <remote> refs/heads/<branch>`), None
        when the remote has no such branch. One process (plus the transport's own: upload-pack
        for a local or file:// remote, ssh for an ssh one). Raises GitError.
        """
        ref = f"refs/heads/{self.branch}"
        out = self._run(["ls-remote", "--end-of-options", self.remote, ref]).stdout.decode("ascii", errors="replace")
        for line in out.splitlines():
            sha, _, name = line.partition("\t")
            if name == ref and _SHA.fullmatch(sha):  # the pattern matches by tail: check the whole name
                return sha
        return None

    def head(self) -> str | None:
        """The tracking ref's commit sha as last fetched, or None when it does not exist yet. One process.

        Raises GitError when the path is not a repository.
        """
        proc = self._run(["rev-parse", "--verify", "--quiet", "--end-of-options", self.tracking_ref + "^{commit}"], ok_codes=(0, 1))
        sha = proc.stdout.decode("ascii", errors="replace").strip()
        return sha if proc.returncode == 0 and sha else None

    def commits_between(self, old: str | None, new: str) -> tuple[list[Commit], bool]:
        """Commits reachable from `new` but not from `old`, oldest first, and whether history was rewritten.

        * `old` None (first sight) → `([], False)`: the current head is the baseline, nothing is
          re-announced. Same for `old == new`. Neither spawns a process.
        * `old` not an ancestor of `new` (force-push, rebase, or `old` no longer in the object
          store) → `(fresh, True)`: the caller re-baselines on `new` instead of re-pinging history;
          `fresh` are the commits after the common ancestor whose subjects the old history did
          not have (work pushed together with the rewrite — a rebased old claim keeps its subject
          and is left out); [] when `old` is gone. Two more processes on a rewrite only.
        * otherwise `(commits, False)` — merges and both sides of them included.

        Two processes (`merge-base --is-ancestor`, `log`). Raises GitError if `new` is unknown or
        the repo is broken.
        """
        if old is None or old == new:
            return [], False
        proc = self._run(["merge-base", "--is-ancestor", "--end-of-options", old, new], ok_codes=(0, 1, 128))
        if proc.returncode == 1:
            return self._fresh_after_rewrite(old, new), True
        if proc.returncode == 128:
            # 128 is also "bad revision": a vanished `old` (gc'd after a force-push) is a rewrite,
            # anything else (unknown `new`, not a repo) is a real error.
            query = f"{old}^{{commit}}\n{new}^{{commit}}\n".encode()
            known = self._run(["cat-file", "--batch-check"], input=query).stdout.split(b"\n")
            if len(known) >= 2 and known[0].endswith(b" missing") and not known[1].endswith(b" missing"):
                return [], True
            raise GitError(f"git merge-base --is-ancestor {old} {new}: exit 128: {_one_line(proc.stderr) or 'no message'}")
        return self._log(["--reverse"], [f"{old}..{new}"]), False

    def _fresh_after_rewrite(self, old: str, new: str) -> list[Commit]:
        base = self._run(["merge-base", "--end-of-options", old, new], ok_codes=(0, 1)).stdout.decode().strip()
        if not base:
            return []
        before = {c.subject for c in self._log([], [f"{base}..{old}"])}
        return [c for c in self._log(["--reverse"], [f"{base}..{new}"]) if c.subject not in before]

    def show(self, rel_path: str, rev: str | None = None) -> str | None:
        """Text of the file `rel_path` (relative to the repo root) at `rev`, default the tracking ref.

        None when the file, or `rev` itself, does not exist there, or when the path names a
        directory. Undecodable bytes become U+FFFD. One process (`cat-file --batch`, which, unlike
        `git show rev:path`, tells "absent" apart from a broken repo without parsing messages).
        """
        name = self._object_name(rel_path, rev)
        if name is None:
            return None
        out = self._run(["cat-file", "--batch"], input=name.encode() + b"\n").stdout
        header, _, rest = out.partition(b"\n")
        fields = header.split(b" ")
        if len(fields) != 3 or fields[1] != b"blob":
            return None  # "<name> missing", or a tree/submodule
        size = int(fields[2])
        return rest[:size].decode("utf-8", errors="replace")

    def blob_ids(self, rel_paths: list[str], rev: str | None = None) -> dict[str, str | None]:
        """Blob sha of each path at `rev` (default the tracking ref); None where absent or not a file.

        A blob id changes exactly when the file's pushed content changes, so comparing ids is a
        cheap "did this inbox change?". One process for all paths (`cat-file --batch-check`, one
        answer line per query line; unlike `ls-tree` it needs no pathspec quoting and answers
        "missing" when `rev` does not exist yet).
        """
        names = {p: self._object_name(p, rev) for p in rel_paths}
        queries = [n for n in names.values() if n is not None]
        result: dict[str, str | None] = dict.fromkeys(rel_paths)
        if not queries:
            return result
        out = self._run(["cat-file", "--batch-check"], input="".join(q + "\n" for q in queries).encode()).stdout
        answers = iter(out.decode("utf-8", errors="replace").splitlines())
        for path, name in names.items():
            if name is None:
                continue
            fields = next(answers, "").split(" ")
            result[path] = fields[0] if len(fields) == 3 and fields[1] == "blob" else None
        return result

    def log(self, rev: str | None = None, limit: int = 200) -> list[Commit]:
        """Up to `limit` commits reachable from `rev` (default the tracking ref), newest first.

        Empty when `rev` does not exist (nothing pushed yet). One process.
        """
        return self._log([f"--max-count={int(limit)}", "--ignore-missing"], [rev or self.tracking_ref])

    def last_commit_ts(self, rev: str | None = None) -> float | None:
        """Committer time (epoch seconds) of `rev` (default the tracking ref), None when missing. One process."""
        commits = self.log(rev, limit=1)
        return commits[0].ts if commits else None

    # -- helpers ---------------------------------------------------------------------------

    def _log(self, options: list[str], revs: list[str]) -> list[Commit]:
        # --no-show-signature: a user's log.showSignature would mix gpg output into stdout.
        args = ["log", "-z", _LOG_FORMAT, "--no-show-signature", *options, "--end-of-options", *revs, "--"]
        out = self._run(args).stdout
        commits = []
        for record in out.split(b"\x00"):
            parts = record.decode("utf-8", errors="replace").split("\x1f", 2)
            if len(parts) == 3 and _SHA.fullmatch(parts[0]) and parts[1].isdigit():
                commits.append(Commit(sha=parts[0], subject=parts[2], ts=float(parts[1])))
        return commits

    def _object_name(self, rel_path: str, rev: str | None) -> str | None:
        """`<rev>:<path>` for cat-file, or None for a path no tree can hold (batch input is line-based)."""
        path = rel_path.strip()
        while path.startswith("./"):
            path = path[2:]
        if not path or "\n" in path or "\r" in path or path.startswith("/"):
            return None
        return f"{rev or self.tracking_ref}:{path}"


def _one_line(stderr: bytes) -> str:
    """git's stderr as one line: non-empty lines joined with "; ", capped at 300 characters."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", errors="replace").splitlines() if ln.strip()]
    text = "; ".join(lines)
    return text if len(text) <= 300 else text[:297] + "..."


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop a timed-out git and its helpers: SIGTERM to the group (git removes its .lock files), then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, _KILL_GRACE), (signal.SIGKILL, _KILL_GRACE)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.communicate(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
    # A helper that left the group still holds our pipes: stop reading rather than hang the tick.
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    proc.wait()
