"""The tested CLI version matrix: the data file, the version selection, `find_cli`, and
scripts/ensure-cli.sh reading the same file (with fake CLIs and a fake npm: nothing is downloaded)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from agent_orchestrator.rehearsal import runner
from agent_orchestrator.runtime import clis
from agent_orchestrator.runtime.clis import CliPin, MatrixError, find_cli, load_matrix, selected_version
from tests.support.clis import fake_cli, fake_pinned_copy

ROOT = Path(__file__).resolve().parents[2]
ENSURE = ROOT / "scripts" / "ensure-cli.sh"
CLAUDE = CliPin("claude", "@anthropic-ai/claude-code", "2.1.332", "2.1.197")


# -- the data file ------------------------------------------------------------------------------


def test_the_matrix_pins_both_pairs() -> None:
    matrix = load_matrix()
    assert list(matrix) == ["claude", "codex"]
    assert matrix["claude"] == CLAUDE
    assert matrix["codex"] == CliPin("codex", "@openai/codex", "0.171.0", "0.169.0")
    assert matrix["claude"].versions == ("2.1.332", "2.1.197")
    assert matrix["codex"].folder("0.171.0") == "codex@0.171.0"
    assert matrix["claude"].folder("2.1.332") == "claude-code@2.1.332"
    assert [CLAUDE.column(v) for v in ("2.1.332", "2.1.197", "2.1.300", None)] == ["current", "previous", None, None]


@pytest.mark.parametrize(("text", "message"), [
    ('[claude]\npackage = "p"\n', "claude.current: expected a non-empty string"),
    ('[claude]\npackage = "p"\ncurrent = 2\n', "claude.current: expected a non-empty string"),
    ('[claude]\npackage = "p"\ncurrent = "1.0.0"\nlatest = "x"\n', "claude.latest: unknown key"),
    ('claude = "1.0.0"\n', "claude: expected a table [claude]"),
    ("[claude\n", "Expected"),
])
def test_a_bad_matrix_file_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "cli-versions.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MatrixError, match=str(path)) as err:
        load_matrix(path)
    assert message in str(err.value)


def test_previous_may_be_left_empty(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('[x]\npackage = "@s/x"\ncurrent = "1.2.3"\n', encoding="utf-8")
    pin = load_matrix(path)["x"]
    assert pin.versions == ("1.2.3",)
    with pytest.raises(MatrixError, match="no previous"):
        selected_version(pin, {"AO_CLI_PINS": "previous"})


# -- selection ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("env", "version"), [
    ({}, "2.1.332"),
    ({"AO_CLI_PINS": "current"}, "2.1.332"),
    ({"AO_CLI_PINS": "previous"}, "2.1.197"),
    ({"AO_CLAUDE_VERSION": "2.1.197"}, "2.1.197"),
    ({"AO_CLAUDE_VERSION": "previous"}, "2.1.197"),
    ({"AO_CLAUDE_VERSION": "current", "AO_CLI_PINS": "previous"}, "2.1.332"),
    ({"AO_CLAUDE_VERSION": "2.1.300"}, "2.1.300"),  # outside the matrix: allowed, doctor warns
    ({"AO_CODEX_VERSION": "0.169.0"}, "2.1.332"),  # another CLI's variable
])
def test_selected_version(env: dict[str, str], version: str) -> None:
    assert selected_version(CLAUDE, env) == version


@pytest.mark.parametrize(("env", "message"), [
    ({"AO_CLI_PINS": "2.1.197"}, "AO_CLI_PINS='2.1.197': expected current or previous"),
    ({"AO_CLI_PINS": "newest"}, "AO_CLI_PINS='newest': expected current or previous"),
    ({"AO_CLAUDE_VERSION": "latest"}, "AO_CLAUDE_VERSION='latest': expected current, previous or a version"),
])
def test_a_bad_selection_is_an_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(MatrixError) as err:
        selected_version(CLAUDE, env)
    assert str(err.value) == message


def test_cache_dir_and_pinned_bin(tmp_path: Path) -> None:
    assert clis.cache_dir({}) == ROOT / ".cache" / "cli"
    assert clis.cache_dir({"AO_CLI_CACHE": str(tmp_path)}) == tmp_path
    assert clis.pinned_bin(CLAUDE, "2.1.332", tmp_path) == tmp_path / "claude-code@2.1.332" / "node_modules" / ".bin" / "claude"


def test_probe_runs_the_cli_in_a_throwaway_home(tmp_path: Path, own_home: Path) -> None:
    seen = tmp_path / "seen-home"
    cli = fake_cli(tmp_path / "bin" / "codex", "codex-cli 0.171.0", record_home=seen)
    probe = clis.probe_version(cli)
    assert probe == clis.Probe("0.171.0", "codex-cli 0.171.0")
    used = Path(seen.read_text().strip())
    assert used != own_home and not used.exists()  # removed afterwards
    broken = tmp_path / "bin" / "broken"
    broken.write_text("#!/bin/sh\necho oops >&2\nexit 3\n")
    broken.chmod(0o755)
    assert clis.probe_version(broken) == clis.Probe(None, "oops", "exit status 3")
    assert clis.probe_version(tmp_path / "missing").error


# -- find_cli -----------------------------------------------------------------------------------


@pytest.fixture
def place(tmp_path: Path) -> dict[str, Path]:
    """A PATH folder and a cache folder of our own."""
    return {"path": tmp_path / "path", "cache": tmp_path / "cache"}


def env_of(place: dict[str, Path], **extra: str) -> dict[str, str]:
    place["path"].mkdir(exist_ok=True)
    return {"PATH": str(place["path"]), "AO_CLI_CACHE": str(place["cache"]), **extra}


def pinned(place: dict[str, Path], version: str) -> Path:
    return fake_pinned_copy(place["cache"], f"claude-code@{version}", "@anthropic-ai/claude-code", "claude", version)


def test_find_cli_takes_path_at_the_selected_version(place: dict[str, Path]) -> None:
    on_path = fake_cli(place["path"] / "claude", "2.1.332 (Claude Code)")
    pinned(place, "2.1.332")
    assert find_cli("claude", env=env_of(place)) == str(on_path)


def test_find_cli_passes_over_another_version_on_path(place: dict[str, Path]) -> None:
    fake_cli(place["path"] / "claude", "2.1.300 (Claude Code)")
    assert find_cli("claude", env=env_of(place)) is None  # nothing pinned yet
    copy = pinned(place, "2.1.332")
    assert find_cli("claude", env=env_of(place)) == str(copy)
    assert find_cli("claude", env=env_of(place, AO_CLI_FROM_PATH="1")) == str(place["path"] / "claude")
    assert find_cli("claude", env=env_of(place, AO_CLI_FROM_PATH="0")) == str(copy)


def test_find_cli_follows_the_selection(place: dict[str, Path]) -> None:
    current, previous = pinned(place, "2.1.332"), pinned(place, "2.1.197")
    assert find_cli("claude", env=env_of(place)) == str(current)
    assert find_cli("claude", env=env_of(place, AO_CLI_PINS="previous")) == str(previous)
    assert find_cli("claude", env=env_of(place, AO_CLAUDE_VERSION="2.1.197")) == str(previous)
    assert runner.find_cli("claude", env=env_of(place, AO_CLI_PINS="previous")) == str(previous)
    # The previous pin on PATH serves a previous-pin run, not a current one.
    on_path = fake_cli(place["path"] / "claude", "2.1.197 (Claude Code)")
    assert find_cli("claude", env=env_of(place, AO_CLI_PINS="previous")) == str(on_path)
    assert find_cli("claude", env=env_of(place)) == str(current)
    with pytest.raises(MatrixError):
        find_cli("claude", env=env_of(place, AO_CLI_PINS="bogus"))


def test_find_cli_of_a_name_outside_the_matrix_is_a_path_lookup(place: dict[str, Path]) -> None:
    tool = fake_cli(place["path"] / "aider", "aider 1.0.0")
    assert find_cli("aider", env=env_of(place)) == str(tool)
    assert find_cli("gemini", env=env_of(place)) is None


def test_this_checkout_uses_the_current_pin() -> None:
    """On a machine where the pinned copies are installed (not a fresh CI machine), the rehearsal
    finds the current pin, .cache/cli/claude-code@2.1.332."""
    copy = ROOT / ".cache" / "cli" / "claude-code@2.1.332" / "node_modules" / ".bin" / "claude"
    if shutil.which("claude") or not copy.exists():
        pytest.skip("claude is on PATH here, or the pinned copy is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AO_")}
    assert runner.find_cli("claude", env=env) == str(copy)


# -- scripts/ensure-cli.sh ----------------------------------------------------------------------

FAKE_NPM = r"""#!/usr/bin/env bash
# A stand-in for `npm install --prefix DIR ... PKG@VER`: logs the call, lays out what npm would.
echo "$*" >> "$NPM_LOG"
[[ -n "${NPM_FAIL:-}" ]] && { echo "npm ERR! 404 Not Found" >&2; exit 1; }
prefix="" spec=""
while [[ $# -gt 0 ]]; do
    case "$1" in --prefix) prefix="$2"; shift ;; -*) ;; *) spec="$1" ;; esac
    shift
done
[[ "$spec" == install ]] && exit 2
pkg="${spec%@*}" ver="${spec##*@}" name="${NPM_BIN_NAME:?}"
mkdir -p "$prefix/node_modules/$pkg" "$prefix/node_modules/.bin"
printf '{"name": "%s", "version": "%s"}\n' "$pkg" "$ver" > "$prefix/node_modules/$pkg/package.json"
printf '#!/bin/sh\necho "%s (fake)"\n' "$ver" > "$prefix/node_modules/.bin/$name"
chmod +x "$prefix/node_modules/.bin/$name"
"""


@pytest.fixture
def script_env(tmp_path: Path) -> dict[str, str]:
    """PATH = a folder of fakes (npm; a CLI when a test adds one) first, then the system's; a
    private cache; npm's calls logged."""
    if shutil.which("node") is None:
        pytest.skip("ensure-cli.sh reads installed versions with node")
    fakes = tmp_path / "fakes"
    fakes.mkdir()
    (fakes / "npm").write_text(FAKE_NPM)
    (fakes / "npm").chmod(0o755)
    return {**{k: v for k, v in os.environ.items() if not k.startswith("AO_")},
            "PATH": f"{fakes}:{os.environ['PATH']}", "AO_CLI_CACHE": str(tmp_path / "cache"),
            "NPM_LOG": str(tmp_path / "npm.log"), "NPM_BIN_NAME": "claude"}


def ensure(env: dict[str, str], *args: str, name: str = "claude") -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ROOT / "scripts" / f"ensure-{name}.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def npm_calls(env: dict[str, str]) -> list[str]:
    log = Path(env["NPM_LOG"])
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize(("args", "env", "name"), [
    ((), {}, "claude"),
    (("--previous",), {}, "claude"),
    (("--current",), {"AO_CLI_PINS": "previous"}, "claude"),
    ((), {"AO_CLI_PINS": "previous"}, "claude"),
    ((), {"AO_CLI_PINS": "previous"}, "codex"),
    ((), {"AO_CODEX_VERSION": "0.169.0"}, "codex"),
    ((), {"AO_CLAUDE_VERSION": "current", "AO_CLI_PINS": "previous"}, "claude"),
    (("--version", "2.1.197"), {}, "claude"),
])
def test_the_script_selects_what_python_selects(script_env: dict[str, str], args: tuple[str, ...],
                                                env: dict[str, str], name: str) -> None:
    done = ensure({**script_env, **env}, *args, "--print-version", name=name)
    assert done.returncode == 0, done.stderr
    flags = {"--previous": "previous", "--current": "current"}
    choice = {f"AO_{name.upper()}_VERSION": flags.get(args[0], args[-1])} if args else {}
    assert done.stdout.strip() == selected_version(load_matrix()[name], {**env, **choice})


@pytest.mark.parametrize(("args", "env", "message"), [
    ((), {"AO_CLI_PINS": "bogus"}, "AO_CLI_PINS='bogus': expected current or previous"),
    (("--bogus",), {}, "unknown option --bogus"),
    (("--version", "latest"), {}, "'latest' is not current, previous or a version"),
])
def test_the_script_refuses_a_bad_selection(script_env: dict[str, str], args: tuple[str, ...], env: dict[str, str],
                                            message: str) -> None:
    done = ensure({**script_env, **env}, *args)
    assert done.returncode == 2 and message in done.stderr
    assert npm_calls(script_env) == []


def test_the_script_installs_each_pin_once_into_its_own_folder(script_env: dict[str, str], tmp_path: Path) -> None:
    cache = Path(script_env["AO_CLI_CACHE"])
    first = ensure(script_env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == str(cache / "claude-code@2.1.332" / "node_modules" / ".bin" / "claude")
    (call,) = npm_calls(script_env)
    prefix = Path(call.split()[2])
    assert call == (f"install --prefix {prefix} --save-exact --no-audit --no-fund --loglevel=error --engine-strict=false "
                    "@anthropic-ai/claude-code@2.1.332")
    assert prefix.parent == cache and prefix.name.startswith(".claude-code@2.1.332.partial.")  # renamed into place after
    assert ensure(script_env).stdout == first.stdout  # reused, no second install
    assert len(npm_calls(script_env)) == 1
    previous = ensure({**script_env, "AO_CLI_PINS": "previous"})
    assert previous.stdout.strip() == str(cache / "claude-code@2.1.197" / "node_modules" / ".bin" / "claude")
    assert sorted(p.name for p in cache.iterdir()) == ["claude-code@2.1.197", "claude-code@2.1.332"]  # no partial folders
    assert subprocess.run([previous.stdout.strip(), "--version"], capture_output=True, text=True).stdout == "2.1.197 (fake)\n"


def test_the_script_replaces_a_copy_of_another_version(script_env: dict[str, str]) -> None:
    cache = Path(script_env["AO_CLI_CACHE"])
    fake_pinned_copy(cache, "claude-code@2.1.332", "@anthropic-ai/claude-code", "claude", "2.1.331")  # broken/stale
    done = ensure(script_env)
    assert done.returncode == 0, done.stderr
    assert len(npm_calls(script_env)) == 1
    assert subprocess.run([done.stdout.strip(), "--version"], capture_output=True, text=True).stdout == "2.1.332 (fake)\n"


def test_the_script_takes_path_only_at_the_selected_version(script_env: dict[str, str], tmp_path: Path) -> None:
    fakes = Path(script_env["PATH"].split(":")[0])
    on_path = fake_cli(fakes / "claude", "2.1.332 (Claude Code)")
    assert ensure(script_env).stdout.strip() == str(on_path)
    assert npm_calls(script_env) == []
    # The previous pin is selected: PATH's 2.1.332 is passed over, with a note.
    done = ensure({**script_env, "AO_CLI_PINS": "previous"})
    assert done.stdout.strip().endswith("claude-code@2.1.197/node_modules/.bin/claude")
    assert "is 2.1.332, not the selected 2.1.197; using the pinned copy" in done.stderr
    # An untested version on PATH: the pinned copy, unless the user opts in.
    fake_cli(fakes / "claude", "9.9.9 (Claude Code)")
    assert ensure(script_env).stdout.strip().endswith("claude-code@2.1.332/node_modules/.bin/claude")
    assert ensure(script_env, "--from-path").stdout.strip() == str(on_path)
    assert ensure({**script_env, "AO_CLI_FROM_PATH": "1"}).stdout.strip() == str(on_path)


def test_a_failed_install_says_so_and_leaves_nothing(script_env: dict[str, str]) -> None:
    done = ensure({**script_env, "NPM_FAIL": "1"})
    assert done.returncode == 1
    assert "npm ERR! 404 Not Found" in done.stderr and "npm install of @anthropic-ai/claude-code@2.1.332 failed" in done.stderr
    assert done.stdout == ""
    cache = Path(script_env["AO_CLI_CACHE"])
    assert list(cache.iterdir()) == []


def test_an_untested_version_installs_with_a_warning(script_env: dict[str, str]) -> None:
    done = ensure(script_env, "--version", "2.1.300")
    assert done.returncode == 0
    assert "2.1.300 is not in the tested matrix (2.1.332, 2.1.197); installing it anyway" in done.stderr
    assert done.stdout.strip().endswith("claude-code@2.1.300/node_modules/.bin/claude")


def test_codex_wrapper_uses_the_codex_row(script_env: dict[str, str]) -> None:
    done = ensure({**script_env, "NPM_BIN_NAME": "codex"}, name="codex")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(Path(script_env["AO_CLI_CACHE"]) / "codex@0.171.0" / "node_modules" / ".bin" / "codex")
    assert npm_calls(script_env)[0].endswith(" @openai/codex@0.171.0")


def test_nothing_points_at_the_old_npm_layout() -> None:
    """The pinned CLIs moved to .cache/cli/<package>@<version>: no file names the old shared prefix."""
    files = [*ROOT.glob("scripts/*.sh"), ROOT / "smoke.sh", ROOT / "README.md", ROOT / "tests" / "run.sh",
             *ROOT.glob("agent_orchestrator/**/*.py"), *ROOT.glob("tests/**/*.py")]
    needle = ".cache/" + "npm"  # split so this file does not match itself
    hits = [str(f.relative_to(ROOT)) for f in files if f.is_file()
            and any(needle in line and "npm-bench" not in line for line in f.read_text(encoding="utf-8").splitlines())]
    assert hits == []
