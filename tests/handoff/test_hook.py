"""The post-receive wake hook against real git: installed into a local bare origin (a plain path
or a `file://` URL), removed again, never over a hook that is not ours, shared by two projects,
refused for a remote origin or a redirected hooks folder, and — pushed to for real — writing the
wake file without ever failing, blocking or talking to the push."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import textwrap
from pathlib import Path

import pytest

from agent_orchestrator.config import ConfigError, load_config
from agent_orchestrator.config.schema import Config
from agent_orchestrator.handoff.hook import MARKER, install_post_receive, local_path, parse_hook, remove_post_receive, wake_file
from agent_orchestrator.watchdog.wake import wake_dir


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(autouse=True)
def git_identity(own_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (own_home / ".gitconfig").write_text("[user]\n\tname = Test\n\temail = test@example.invalid\n[init]\n\tdefaultBranch = main\n")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def project(root: Path, origin_url: str, *, wake: str = "post-receive", log_dir: str = "run") -> Config:
    """A project folder under `root` whose [loop].repo is a clone with `origin_url` as origin."""
    root.mkdir(parents=True, exist_ok=True)
    clone = root / "work"
    if not clone.exists():
        git(root, "init", "-q", str(clone))
        git(clone, "remote", "add", "origin", origin_url)
    (root / "kickoff.md").write_text("Phase {phase_id}\n")
    (root / "plan.md").write_text("the plan\n")
    (root / "agents.toml").write_text(textwrap.dedent(f"""
        [defaults]
        session_prefix = "h-"
        log_dir = {json.dumps(log_dir)}
        backend = "demo"

        [[agent]]
        name = "builder"
        kind = "loop"

        [loop]
        kickoff = "kickoff.md"
        repo = "work"
        phases = [{{ id = "p1", plan = "plan.md", status = ".agents/status.md" }}]

        [loop.handoff]
        wake = {json.dumps(wake)}
        """))
    return load_config(root / "agents.toml")


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    path = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(path))
    return path


def push(tmp_path: Path, origin: Path, subject: str) -> subprocess.CompletedProcess[str]:
    """Commit `subject` in a pusher's clone and push it; returns the finished `git push`."""
    clone = tmp_path / "pusher"
    if not clone.exists():
        git(tmp_path, "clone", "-q", str(origin), str(clone))
    git(clone, "commit", "-q", "--allow-empty", "-m", subject)
    return subprocess.run(["git", "-C", str(clone), "push", "origin", "HEAD:main"], capture_output=True, text=True, timeout=60)


def test_installed_into_a_local_bare_origin_a_push_writes_the_wake_file_and_down_removes_it(tmp_path: Path, origin: Path) -> None:
    config = project(tmp_path / "p", str(origin))
    wake = wake_file(Path(config.defaults.log_dir))
    assert wake.parent == wake_dir(Path(config.defaults.log_dir))  # the folder the watchdog watches
    result = install_post_receive(config)
    hook = origin / "hooks" / "post-receive"
    assert (result.action, result.hook, result.polling) == ("installed", hook, False)
    assert hook.stat().st_mode & stat.S_IXUSR
    assert parse_hook(hook.read_text()) == [str(wake)]
    assert install_post_receive(config).action == "present"  # idempotent: `up` twice

    wake.parent.mkdir(parents=True)  # the watchdog creates it when it starts
    done = push(tmp_path, origin, "claim: T1")
    assert done.returncode == 0, done.stderr
    assert "remote:" not in done.stderr  # the hook says nothing to the pusher
    sha = git(origin, "rev-parse", "main")
    assert wake.read_text() == f"{'0' * 40} {sha} refs/heads/main\n"

    removed = remove_post_receive(config)
    assert removed.action == "removed" and not hook.exists()
    assert remove_post_receive(config).action == "absent"


def test_a_file_url_origin_counts_as_local(tmp_path: Path, origin: Path) -> None:
    config = project(tmp_path / "p", f"file://{origin}")
    assert install_post_receive(config).action == "installed"
    assert (origin / "hooks" / "post-receive").is_file()
    assert remove_post_receive(config).action == "removed"


@pytest.mark.parametrize("url", ["git@example.invalid:team/handoff.git", "ssh://example.invalid/handoff.git",
                                 "https://example.invalid/handoff.git", "file://otherhost/srv/handoff.git"])
def test_a_remote_origin_is_refused_and_polled(tmp_path: Path, url: str) -> None:
    config = project(tmp_path / "p", url)
    result = install_post_receive(config)
    assert result.action == "refused" and result.polling
    assert "not a local path" in result.line() and "next tick" in result.line()
    assert remove_post_receive(config).action == "skipped"


def test_local_path_decides_by_the_url_alone() -> None:
    assert local_path("/srv/x.git") == Path("/srv/x.git")
    assert local_path("file:///srv/x.git") == Path("/srv/x.git")
    for url in ("x.git", "host:x.git", "ssh://h/x.git", "git://h/x.git", "file://h/x.git"):
        assert local_path(url) is None


def test_a_non_bare_origin_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    git(tmp_path, "init", "-q", str(plain))
    result = install_post_receive(project(tmp_path / "p", str(plain)))
    assert result.action == "refused" and "not a bare repository" in result.detail
    assert not (plain / ".git" / "hooks" / "post-receive").exists()


def test_a_hook_of_the_users_is_never_touched(tmp_path: Path, origin: Path) -> None:
    hook = origin / "hooks" / "post-receive"
    theirs = "#!/bin/sh\necho their deploy\n"
    hook.write_text(theirs)
    hook.chmod(0o750)
    before = hook.stat()
    config = project(tmp_path / "p", str(origin))
    result = install_post_receive(config)
    assert result.action == "refused" and result.polling
    assert str(hook) in result.detail and "echo >" in result.detail  # says what to add to theirs
    assert "\n" not in result.line()
    assert remove_post_receive(config).action == "absent"
    after = hook.stat()
    assert hook.read_text() == theirs
    assert (after.st_mode, after.st_ino, after.st_mtime_ns) == (before.st_mode, before.st_ino, before.st_mtime_ns)
    assert sorted(p.name for p in hook.parent.iterdir() if p.name.startswith(("post-receive", ".ao-"))) == ["post-receive"]


def test_a_symlinked_or_odd_hook_is_not_ours_either(tmp_path: Path, origin: Path) -> None:
    target = tmp_path / "elsewhere.sh"
    target.write_text(f"#!/bin/sh\n{MARKER}\n")  # even with our marker: a symlink is the user's doing
    (origin / "hooks" / "post-receive").symlink_to(target)
    assert install_post_receive(project(tmp_path / "p", str(origin))).action == "refused"
    assert (origin / "hooks" / "post-receive").is_symlink() and target.read_text() == f"#!/bin/sh\n{MARKER}\n"


def test_two_projects_share_one_hook(tmp_path: Path, origin: Path) -> None:
    one = project(tmp_path / "one", str(origin))
    two = project(tmp_path / "two", str(origin))
    assert install_post_receive(one).action == "installed"
    assert install_post_receive(two).action == "installed"
    hook = origin / "hooks" / "post-receive"
    wakes = [wake_file(Path(c.defaults.log_dir)) for c in (one, two)]
    assert parse_hook(hook.read_text()) == [str(w) for w in wakes]
    for w in wakes:
        w.parent.mkdir(parents=True)
    assert push(tmp_path, origin, "claim: both").returncode == 0
    assert all(w.read_text().endswith(" refs/heads/main\n") for w in wakes)
    assert remove_post_receive(one).action == "removed"
    assert parse_hook(hook.read_text()) == [str(wakes[1])]
    assert remove_post_receive(two).action == "removed" and not hook.exists()


def test_hooks_run_from_elsewhere_are_refused(tmp_path: Path, origin: Path) -> None:
    shared = tmp_path / "shared-hooks"
    shared.mkdir()
    git(origin, "config", "core.hooksPath", str(shared))
    result = install_post_receive(project(tmp_path / "p", str(origin)))
    assert result.action == "refused" and "core.hooksPath" in result.detail
    assert list(shared.iterdir()) == [] and not (origin / "hooks" / "post-receive").exists()


def test_not_configured_is_skipped_but_down_still_takes_ours_away(tmp_path: Path, origin: Path) -> None:
    assert install_post_receive(project(tmp_path / "p", str(origin))).action == "installed"
    off = project(tmp_path / "p", str(origin), wake="")  # switched off after `up`
    assert install_post_receive(off).action == "skipped"
    assert remove_post_receive(off).action == "removed"
    assert not (origin / "hooks" / "post-receive").exists()


def test_an_odd_log_dir_is_quoted_for_the_shell(tmp_path: Path, origin: Path) -> None:
    odd = "run $(touch PWNED) 'q' \"dq\" `x` ;&|"
    config = project(tmp_path / "p", str(origin), log_dir=odd)
    assert install_post_receive(config).action == "installed"
    wake = wake_file(Path(config.defaults.log_dir))
    wake.parent.mkdir(parents=True)
    done = push(tmp_path, origin, "claim: odd")
    assert done.returncode == 0 and "remote:" not in done.stderr
    assert wake.read_text().endswith(" refs/heads/main\n")
    assert not list(tmp_path.rglob("PWNED"))


def test_the_hook_never_fails_or_blocks_a_push(tmp_path: Path, origin: Path) -> None:
    config = project(tmp_path / "p", str(origin))
    assert install_post_receive(config).action == "installed"
    # No wake folder (no watchdog ever ran): the push succeeds and the hook says nothing.
    done = push(tmp_path, origin, "claim: one")
    assert done.returncode == 0 and "remote:" not in done.stderr
    assert not wake_file(Path(config.defaults.log_dir)).parent.exists()  # and it created nothing
    # A FIFO where the wake file should be (nobody reading it): skipped, not waited on.
    wake = wake_file(Path(config.defaults.log_dir))
    wake.parent.mkdir(parents=True)
    os.mkfifo(wake)
    done = push(tmp_path, origin, "claim: two")  # push() bounds it with a timeout
    assert done.returncode == 0 and "remote:" not in done.stderr


def test_the_wake_key_is_validated(tmp_path: Path, origin: Path) -> None:
    with pytest.raises(ConfigError) as bad:
        project(tmp_path / "p", str(origin), wake="post-recieve")
    assert any("loop.handoff.wake" in line and "post-receive" in line for line in bad.value.lines)
    (tmp_path / "q").mkdir()
    (tmp_path / "q" / "agents.toml").write_text(textwrap.dedent("""
        [defaults]
        session_prefix = "h-"
        log_dir = "run"
        backend = "demo"

        [[agent]]
        name = "builder"
        kind = "loop"

        [loop]
        kickoff = "k.md"
        [loop.handoff]
        wake = "post-receive"
        """))
    (tmp_path / "q" / "k.md").write_text("x\n")
    with pytest.raises(ConfigError) as norepo:
        load_config(tmp_path / "q" / "agents.toml")
    assert any("loop.handoff.wake" in line and "[loop].repo" in line for line in norepo.value.lines)
