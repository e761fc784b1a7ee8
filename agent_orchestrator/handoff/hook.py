"""The post-receive wake: a git hook in the handoff repo's origin that wakes the watchdog on a push.

Opt-in with `[loop.handoff] wake = "post-receive"`. `up` calls `install_post_receive(config)`,
`down` calls `remove_post_receive(config)`. The hook only overwrites `<log_dir>/wake/post-receive`
with the pushed ref lines; the watchdog's wake channel (watchdog/wake.py) watches that folder,
so the tick that reads the push runs at once instead of at the next `signal_interval`. The
interval stays the backstop: a push the hook missed is still seen at the next tick.

Where it can go: the origin must be a local bare repository — the work clone's `origin` URL a
plain path or a `file://` URL (git runs receive-pack, and so the hook, on this machine for
both), whose hooks folder is its own `hooks/` (a `core.hooksPath` elsewhere may be shared by
other repositories: refused). Anything else (ssh, https) is left alone, with a note: pushes
are then noticed at the next tick.

Never over a hook of yours: our hook carries a marker line; a `post-receive` without it is
never replaced, moved or edited. git (2.39) runs one `post-receive` per repository, and
chaining ours behind yours would mean rewriting or renaming yours, so we refuse instead, with
a one-line note that says what to add to your hook yourself, and the watchdog polls. Two
projects sharing one origin share our hook: it lists every project's wake file.

The hook is a shell script — that is what a git hook is — and the one place where a path from
config text reaches a shell: each wake file path is quoted with `shlex.quote` when the script is
written (and kept as JSON in a comment, which is what we read back). It runs only shell
builtins, writes nothing outside the wake files, sends nothing to the pusher and always exits 0:
it cannot fail or hold up a push. (A push has already updated the refs when post-receive runs; its
exit status is ignored by git anyway.)
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from agent_orchestrator.config.schema import Config
from agent_orchestrator.handoff.gitrepo import _REPO_ENV, GitError
from agent_orchestrator.handoff.mirror import origin_url

HOOK = "post-receive"
MARKER = "# agent-orchestrator post-receive wake hook"
_ENTRY = "# ao-wake: "  # one line per project: the wake file, as a JSON string


@dataclass(frozen=True)
class HookResult:
    """What install/remove did: `action` is one of installed, present, removed, absent, skipped
    (not configured / not applicable), refused (a hook of yours is there, or hooks live
    elsewhere) or failed; `detail` is the one-line note; `hook` the hook file when known."""

    action: str
    detail: str = ""
    hook: Path | None = None

    @property
    def polling(self) -> bool:
        """True when pushes are noticed at the next tick only (no hook of ours is in place)."""
        return self.action not in ("installed", "present")

    def line(self) -> str:
        """`post-receive hook: <action>: <detail>` for `up` / `down` to print."""
        return f"post-receive hook: {self.action}" + (f": {self.detail}" if self.detail else "")


def wake_file(log_dir: Path) -> Path:
    """The file the hook writes: `<log_dir>/wake/post-receive` (watchdog/wake.py's `wake_dir`)."""
    return Path(log_dir).absolute() / "wake" / HOOK


def _git(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in _REPO_ENV}
    env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C")
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(f"git {' '.join(args[:3])}: {exc}") from None


def local_path(url: str) -> Path | None:
    """The filesystem path an origin URL names when git reaches it on this machine: an absolute
    path or a `file://` URL (as `origin_url` gives them); None for ssh, https, scp-style and
    every other transport.

    >>> local_path("/srv/git/handoff.git"), local_path("file:///srv/git/handoff.git")
    (PosixPath('/srv/git/handoff.git'), PosixPath('/srv/git/handoff.git'))
    >>> local_path("git@example.com:team/handoff.git") is None, local_path("https://example.com/x.git") is None
    (True, True)
    """
    if url.startswith("file://"):
        rest = url[len("file://"):]
        return Path(rest) if rest.startswith("/") else None  # file://host/path: not ours to write
    if "://" in url or not os.path.isabs(url):
        return None
    return Path(url)


def local_origin(repo: Path, timeout: float = 10.0) -> tuple[Path | None, str]:
    """The work clone's origin as a local bare repository, or (None, why not)."""
    try:
        url = origin_url(repo, timeout)
    except GitError as exc:
        return None, str(exc)
    path = local_path(url)
    if path is None:
        return None, f"origin {url} is not a local path: pushes are noticed at the next tick"
    done = _git(["-C", str(path), "rev-parse", "--is-bare-repository"], timeout)
    if done.returncode != 0 or done.stdout.strip() != "true":
        return None, f"origin {path} is not a bare repository: pushes are noticed at the next tick"
    return path, ""


def hooks_dir(origin: Path, timeout: float = 10.0) -> tuple[Path | None, str]:
    """The origin's own `hooks/` folder when git runs its hooks from there, else (None, why not)."""
    done = _git(["-C", str(origin), "rev-parse", "--git-path", "hooks"], timeout)
    if done.returncode != 0:
        return None, f"git rev-parse --git-path hooks in {origin}: {done.stderr.strip() or 'failed'}"
    where = Path(done.stdout.strip())
    where = where if where.is_absolute() else origin / where
    own = origin / "hooks"
    if os.path.realpath(where) != os.path.realpath(own):
        return None, (f"git runs {origin}'s hooks from {where} (core.hooksPath), which other repositories may share; "
                      "not installing there: pushes are noticed at the next tick")
    return own, ""


def parse_hook(text: str) -> list[str] | None:
    """The wake files our hook lists, or None when `text` is not our hook."""
    lines = text.splitlines()
    if MARKER not in lines[:3]:
        return None
    entries = []
    for line in lines:
        if line.startswith(_ENTRY):
            try:
                value = json.loads(line[len(_ENTRY):])
            except ValueError:
                continue
            if isinstance(value, str) and value:
                entries.append(value)
    return entries


def hook_script(wake_files: list[str]) -> str:
    """Our post-receive hook for `wake_files` (absolute paths). Each path is shell-quoted with
    `shlex.quote` here — the only place a path from config text is put into shell text."""
    entries = "".join(f"{_ENTRY}{json.dumps(w)}\n" for w in wake_files)
    quoted = " ".join(shlex.quote(w) for w in wake_files)
    return f"""#!/bin/sh
{MARKER}
# Written by `agents up` (agent_orchestrator/handoff/hook.py) for [loop.handoff] wake = "post-receive";
# removed by `agents down`. Do not edit: it is rewritten. It overwrites each project's wake file below
# with the pushed ref lines, which wakes that project's watchdog at once. Shell builtins only; it
# never writes to the pusher and always exits 0. The paths were quoted with shlex.quote.
{entries}refs=''
while IFS= read -r line; do
    refs="$refs$line
"
done
for wake in {quoted}; do
    [ -p "$wake" ] && continue
    {{ printf '%s' "$refs" > "$wake"; }} 2>/dev/null
done
exit 0
"""


def _write_hook(path: Path, text: str, *, replace: bool) -> None:
    """Write the hook atomically (temp file in the hooks folder, mode 0755). With `replace`
    False it is created only if no file is there (a hard link never clobbers), so a hook the
    user put there a moment ago survives; FileExistsError then."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".ao-post-receive-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o755)
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _target(config: Config) -> tuple[Path | None, str, str]:
    """(our hook file, this project's wake file, why not) for a config with a `[loop].repo`."""
    loop = config.loop
    if loop is None or loop.repo is None:
        return None, "", "no [loop].repo"
    timeout = min(loop.handoff.fetch_timeout, 30.0)
    origin, why = local_origin(Path(loop.repo), timeout)
    if origin is None:
        return None, "", why
    hooks, why = hooks_dir(origin, timeout)
    if hooks is None:
        return None, "", why
    return hooks / HOOK, str(wake_file(Path(config.defaults.log_dir))), ""


def install_post_receive(config: Config) -> HookResult:
    """Install (or keep) our post-receive hook in the handoff origin when the config asks for it
    (`[loop.handoff] wake = "post-receive"`). Never raises; never touches a hook that is not ours.

    skipped: not configured; refused: a hook of yours is there, or git runs the origin's hooks
    from elsewhere, or the origin is not a local bare repo; failed: it could not be written. In
    all three the watchdog notices pushes at the next tick.
    """
    if config.loop is None or config.loop.handoff.wake != "post-receive":
        return HookResult("skipped", "")
    try:
        path, wake, why = _target(config)
    except GitError as exc:
        return HookResult("failed", str(exc))
    if path is None:
        return HookResult("refused", why)
    for _ in range(3):  # a concurrent `up` of another project sharing the origin: read again
        try:
            text = path.read_text(encoding="utf-8") if path.is_file() and not path.is_symlink() else None
        except (OSError, UnicodeDecodeError):
            text = ""
        if text is None and (path.exists() or path.is_symlink()):
            text = ""  # a directory, a symlink, a fifo: not ours
        entries = parse_hook(text) if text is not None else []
        if entries is None:
            return HookResult("refused", f"{path} exists and is not ours; left alone, pushes are noticed at the next tick "
                                         f"(to wake the watchdog from your hook, add: {{ echo > {shlex.quote(wake)}; }} 2>/dev/null)", path)
        if wake in entries and text == hook_script(entries):
            return HookResult("present", str(path), path)
        if wake not in entries:
            entries.append(wake)
        try:
            _write_hook(path, hook_script(entries), replace=text is not None)
        except FileExistsError:
            continue
        except OSError as exc:
            return HookResult("failed", f"cannot write {path}: {exc.strerror or exc}", path)
        return HookResult("installed", str(path), path)
    return HookResult("failed", f"{path} kept changing while it was written", path)


def remove_post_receive(config: Config) -> HookResult:
    """Take this project's wake file out of our post-receive hook in the handoff origin, and
    the hook away when no project is left in it — whatever `wake` says now (it may have been
    switched off since `up`). Never raises; never touches a hook that is not ours."""
    try:
        path, wake, why = _target(config)
    except GitError as exc:
        return HookResult("failed", str(exc))
    if path is None:
        return HookResult("skipped", why)
    try:
        text = path.read_text(encoding="utf-8") if path.is_file() and not path.is_symlink() else None
    except (OSError, UnicodeDecodeError):
        return HookResult("absent", "", path)
    entries = parse_hook(text) if text is not None else None
    if entries is None or wake not in entries:
        return HookResult("absent", "", path)
    entries.remove(wake)
    try:
        if entries:
            _write_hook(path, hook_script(entries), replace=True)
        else:
            path.unlink()
    except OSError as exc:
        return HookResult("failed", f"cannot update {path}: {exc.strerror or exc}", path)
    return HookResult("removed", str(path), path)
