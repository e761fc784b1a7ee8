"""What an agent CLI's screen looks like: the regexes the pane-state detectors in `screen` use.

Every pattern is a Python `re` pattern *string* so a user can override it from TOML; strings are
compiled once through `compiled` (an LRU cache, `re.MULTILINE`, so `^`/`$` anchor at each line).
Patterns are applied to one screen line at a time, except `Dialog.match_re`, which is searched
in the joined text of the bottom of the screen (so it may span lines).

The built-in sets were written against real `tmux capture-pane -p` screens of Claude Code 2.1.197
and Codex CLI 0.169.0 (`agent_orchestrator/data/captures`); lines marked "REFERENCE" come from
field notes only because no capture of them exists (usage limits, login and theme screens).
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from agent_orchestrator.runtime.observation import SHELLS

if TYPE_CHECKING:
    from agent_orchestrator.config.schema import BackendConfig

__all__ = ["CLAUDE", "CODEX", "PATTERNS", "PROCESS_NAMES", "Dialog", "ScreenPatterns", "compiled", "screen_patterns"]


@functools.lru_cache(maxsize=512)
def compiled(pattern: str) -> re.Pattern[str]:
    """`pattern` compiled with `re.MULTILINE`, cached; raises `re.error` if it is not a regex."""
    return re.compile(pattern, re.MULTILINE)


@dataclass(frozen=True)
class Dialog:
    """A question the CLI blocks on until someone answers it.

    `name` is a short id ("trust", "api_key", "bypass", "theme", "permission", "login").
    `match_re` is searched in the joined lines below the last input line while the dialog is up.
    `keys` are tmux key names (`send-keys` syntax) that answer it so the agent can proceed; for a
    permission prompt they approve once. Empty `keys` means no key answers it: a human must act
    (a login screen). Raises `re.error` at construction if `match_re` does not compile.
    """

    name: str
    match_re: str
    keys: tuple[str, ...]

    def __post_init__(self) -> None:
        compiled(self.match_re)


@dataclass(frozen=True)
class ScreenPatterns:
    """How one agent CLI draws its states; see the module docstring for how patterns apply.

    - `active_re`: working right now, on the status lines just above the input line or in the
      footer below it (spinner, `esc to interrupt`, a running tool).
    - `input_re`: the input line; group 1 is its content. The bottom-most match is the live one.
    - `placeholder_re`: input content that is a placeholder, not typed text (None: no placeholder).
    - `retry_re`: an automatic retry in progress, on the status lines.
    - `error_re`: the latest turn ended with an API error (searched in the latest turn).
    - `limit_re`: a subscription usage-limit banner (latest turn; `limits.find_limit` parses it).
    - `fatal_re`: an error that only a fresh restart (or a human) fixes (None: never).
    - `done_re`: a finished (or interrupted) turn, on the status lines.
    - `dialogs`: known blocking questions, checked in order.
    - `shell_commands`: `pane_current_command` values meaning the CLI exited to its shell.
    - `reply_re`: the start of an agent reply block; shows a turn has started even when the
      user's prompt has scrolled off (None: only a prompt line shows it).
    - `silent_streaming`: True when the CLI draws no busy marker while text streams (Codex
      0.169), so a started turn with neither an active nor a done marker counts as busy.

    Raises `re.error` at construction if any pattern does not compile, so a bad override in a
    config file fails when it is loaded, not on the first screen.
    """

    active_re: str
    input_re: str
    placeholder_re: str | None
    retry_re: str
    error_re: str
    limit_re: str
    fatal_re: str | None
    done_re: str
    dialogs: tuple[Dialog, ...]
    shell_commands: frozenset[str] = SHELLS
    reply_re: str | None = None
    silent_streaming: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_re") and value is not None:
                compiled(value)


# Claude Code 2.1.197 spinner glyphs; the same glyph set starts the past-tense summary line.
_GLYPHS = "·✢*✶✻✽"

CLAUDE = ScreenPatterns(
    # Footer `… · esc to interrupt · …` is the only busy sign while text streams; the spinner
    # line is `✶ Improvising… (4s · ↓ 28 tokens)`; a tool shows `⎿  Running… (14s)`.
    active_re=rf"esc to interrupt|^[{_GLYPHS}] \S[^\n]*…|^\s+⎿\s+Running…",
    # The live box draws `❯` + NBSP; echoed prompts above it use a plain space.
    input_re=r"^❯[\u00a0 ]?(.*)$",
    # A message queued during a busy turn leaves this hint in the box (seen with 2.1.197): it is
    # not typed input, and the turn is still running.
    placeholder_re=r"^Press up to edit queued messages$",
    # `✻ API error · Retrying in 42s · attempt 1/10` (also shown for 529 and 401).
    retry_re=r"Retrying in \d+[^\n]*attempt \d+/\d+",
    # `● API Error: 529 Overloaded…` as the reply; 401 as `⎿  Invalid API key · Fix …`.
    error_re=(r"^● API Error\b|^\s*⎿\s+(?:API Error\b|Invalid API key|Credit balance (?:is )?too low"
              r"|Prompt is too long|Request timed out|Unable to connect)"),
    # REFERENCE: needs a claude.ai login, no capture. "You've used 90% of…" is only a warning.
    limit_re=(r"You've hit your (?:[\w-]+ )*limit|You've reached your (?:[\w-]+ )*limit"
              r"|You've used (?!\d{1,2}(?:\.\d+)?%|over\b)[^\n]*\blimit|You're out of (?:[\w-]+ )*credits"
              r"|(?:usage|session|weekly) limit reached"),
    fatal_re=r"Invalid API key|Credit balance (?:is )?too low|Prompt is too long",
    # `✻ Baked for 0s`, `✻ Cogitated for 1m 5s`; Esc shows `⎿  Interrupted · What should …`.
    done_re=rf"^[{_GLYPHS}] \S+ for \d+(?:\.\d+)?[hms]\b|Interrupted · What should Claude do",
    dialogs=(
        Dialog("api_key", r"Do you want to use this API key\?", ("Up", "Enter")),  # cursor on "No"
        Dialog("bypass", r"running in Bypass Permissions mode|\d\. Yes, I accept", ("Down", "Enter")),
        Dialog("trust", r"Yes, I trust this folder|Do you trust the files in this folder", ("Enter",)),
        Dialog("theme", r"Choose the text style that looks best with your terminal", ("Enter",)),  # REFERENCE
        Dialog("login", r"Select login method", ()),  # REFERENCE: a human must log in
        Dialog("permission",
               r"^\s*Do you want to (?:proceed|make this edit to [^\n]+|create [^\n]+)\?\s*$",
               ("Enter",)),
    ),
    reply_re=r"^● ",
)

CODEX = ScreenPatterns(
    # `• Working (4s • esc to interrupt)`; during a retry-after wait only `Working` shows.
    active_re=r"esc to interrupt|^[•◦] Working\b|^[•◦] Running\b",
    input_re=r"^› ?(.*)$",
    # 0.169 shows "Ask Codex to do anything" (dim); older builds rotated example prompts.
    placeholder_re=(r"^(?:Ask Codex to do anything|Explain this codebase|Summarize recent commits"
                    r"|Implement \{feature\}|(?:Find and fix a bug in|Write tests for"
                    r"|Improve documentation in) @filename)$"),
    # `• Server is busy, reconnecting 2/5 (1s • esc to interrupt)`.
    retry_re=r"(?i)\b(?:reconnecting|retrying)\b\D{0,12}\d+/\d+",
    # `■ exceeded retry limit, last status: 429 …`; `■` also marks the Esc notice, not an error.
    error_re=r"^■ (?!Conversation interrupted)",
    # REFERENCE (plan limit); "Quota exceeded" (insufficient_quota) is in the captures.
    limit_re=r"You've hit your (?:[\w-]+ )*limit|You've reached your (?:[\w-]+ )*limit|Quota exceeded",
    # Only a fresh conversation gets out of a full context window.
    fatal_re=r"ran out of room in the model's context window",
    # `Worked for 12s • 03:09`, `Worked for <1s • 03:09` (0.169); Esc shows
    # `■ Conversation interrupted - tell the model …`.
    done_re=r"^\s*(?:─+ )?Worked for <?\d|^■ Conversation interrupted",
    dialogs=(
        Dialog("trust", r"Trust this folder\?|Do you trust the contents of this directory"
                        r"|allow Codex to work in this folder", ("Enter",)),
        Dialog("permission", r"Would you like to (?:run the following command|make the following edits"
                             r"|grant these permissions)\?", ("Enter",)),
        Dialog("login", r"Sign in with ChatGPT", ()),  # REFERENCE: a human must log in
    ),
    reply_re=r"^[•◦] ",
    silent_streaming=True,
)

PATTERNS: dict[str, ScreenPatterns] = {"claude": CLAUDE, "codex": CODEX}

# `pane_current_command` while each CLI runs (Codex's launcher is a node script).
PROCESS_NAMES: dict[str, frozenset[str]] = {
    "claude": frozenset({"claude"}),
    "codex": frozenset({"node", "codex"}),
}


# A backend without a built-in screen set: only its own regexes apply. "(?!)" never matches (an
# empty regex would match every line).
_NEVER = "(?!)"
_GENERIC = ScreenPatterns(
    active_re=_NEVER, input_re=_NEVER, placeholder_re=None, retry_re=_NEVER, error_re=_NEVER, limit_re=_NEVER,
    fatal_re=None, done_re=_NEVER, dialogs=(),
)


@functools.lru_cache(maxsize=64)
def _patterns(screen: str, active_re: str, input_re: str, limit_re: str, fatal_re: str,
              dialogs: tuple[tuple[str, str, tuple[str, ...]], ...]) -> ScreenPatterns:
    base = PATTERNS.get(screen, _GENERIC)
    return dataclasses.replace(
        base,
        active_re=active_re or base.active_re,
        input_re=input_re or base.input_re,
        limit_re=limit_re or base.limit_re,
        fatal_re=fatal_re or base.fatal_re,
        dialogs=tuple(Dialog(name or match, match, keys) for name, match, keys in dialogs),
    )


def screen_patterns(backend: BackendConfig) -> ScreenPatterns:
    """The detector patterns for `backend`: its built-in `screen` set with its own regexes and
    its configured `dialogs` (what it answers) over it."""
    dialogs = tuple((d.name, d.match, tuple(d.keys)) for d in backend.dialogs)
    return _patterns(backend.screen, backend.active_re, backend.input_re, backend.limit_re, backend.fatal_re, dialogs)
