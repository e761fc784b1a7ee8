"""Playbooks: the script a rehearsal model server follows. Loading and matching only, no I/O
beyond reading the file.

A playbook is a TOML file of ordered ``[[rule]]`` tables plus an optional ``[default]`` table::

    [default]
    text = "(rehearsal: no rule matched)"   # reply to agent requests no rule answers
    side_text = "Session"                   # reply to tool-less side requests (titles, summaries)

    [[rule]]
    id = "make-file"                        # optional; keeps use counts across reloads
    last_user = "make the file"             # match fields: all optional, all must hold
    steps = [{bash = "echo hi > made.txt", description = "Create the file"}]
    text = "Made it."
    usage = {input = 12, output = 85, cache_read = 11800, cache_creation = 1450}
    hold = 20                               # the final reply waits 20 s: the turn stays busy

The FIRST rule that matches and still has uses left answers. See ``Rule`` for every field.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from agent_orchestrator.tokens.usage import Usage

Api = Literal["anthropic", "openai"]

#: The tool each API's agent CLI runs shell commands with; a step is a call to it.
SHELL_TOOL: dict[str, str] = {"anthropic": "Bash", "openai": "exec_command"}

_RULE_KEYS = {
    "id", "last_user", "last_user_re", "tool_result", "has_tool_result", "tools_offered",
    "model", "api", "side",
    "text", "steps", "usage", "delay", "hold", "stream_delay", "error", "uses",
}
_STEP_KEYS = {"bash", "description", "text"}
#: Playbook ``usage`` keys → `Usage` fields. ``cache_creation`` is the Anthropic wire name
#: (``cache_creation_input_tokens``) of the cache-write bucket.
_USAGE_KEYS = {"input": "input", "output": "output", "cache_read": "cache_read", "cache_creation": "cache_write"}
_ERROR_KEYS = {"status", "body", "headers"}
_DEFAULT_KEYS = {"text", "side_text", "usage"}
_TOP_KEYS = {"rule", "default"}

#: Token counts (tokens) reported for a response whose rule sets no ``usage`` (and the base a
#: partial ``usage`` table fills in): a mid-size Claude Code turn with a warm prompt cache, so
#: token accounting downstream sees non-zero numbers.
DEFAULT_USAGE = Usage(input=12, output=85, cache_read=11800, cache_write=1450)


class PlaybookError(ValueError):
    """A playbook that cannot be used; the message names the file, the key path and what was
    expected."""


@dataclass(frozen=True)
class Step:
    """One shell tool call: Claude ``Bash {command, description}`` / Codex ``exec_command {cmd}``.
    ``text``, if set, is said before the call in the same response."""

    bash: str
    description: str = ""
    text: str = ""


@dataclass(frozen=True)
class Fault:
    """An HTTP error answer: ``status`` (e.g. 429, 529, 500), ``body`` sent verbatim when set
    (else an API-shaped error JSON), extra response ``headers`` (e.g. ``retry-after``)."""

    status: int
    body: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    """One ``[[rule]]``.

    Match (all optional, all must hold):
      ``last_user`` substring / ``last_user_re`` regex (re.search) of the last real user prompt;
      ``tool_result`` substring of any tool result in the current turn; ``has_tool_result``;
      ``tools_offered`` names that must all be offered; ``model`` substring; ``api``;
      ``side`` — False (default) matches only requests that offer tools (agent turns), True only
      tool-less side requests (title generation, summaries). A rule with ``steps`` also needs the
      API's shell tool (``Bash`` / ``exec_command``) to be offered.
    Reply: ``text``; ``steps`` (one tool call per response, then ``text``); ``usage``;
      ``delay`` (seconds before the first byte of every response); ``hold`` (seconds more
      before the first byte of the final text reply only: the turn stays busy after its tool
      calls — e.g. a builder that pushed its claim and is still working when the review comes);
      ``stream_delay`` (seconds between text deltas);
      ``error``; ``uses`` (max turns this rule may begin; None = unlimited).
    """

    index: int
    id: str | None = None
    last_user: str | None = None
    last_user_re: re.Pattern[str] | None = None
    tool_result: str | None = None
    has_tool_result: bool | None = None
    tools_offered: tuple[str, ...] = ()
    model: str | None = None
    api: Api | None = None
    side: bool = False
    text: str | None = None
    steps: tuple[Step, ...] = ()
    usage: Usage = DEFAULT_USAGE
    delay: float = 0.0
    hold: float = 0.0
    stream_delay: float = 0.0
    error: Fault | None = None
    uses: int | None = None

    @property
    def key(self) -> str:
        """Identity for use counts: the ``id``, else the position (``#3``)."""
        return self.id if self.id is not None else f"#{self.index}"

    @property
    def label(self) -> str:
        return self.id if self.id is not None else f"rule[{self.index}]"


@dataclass(frozen=True)
class Defaults:
    """The ``[default]`` table: the reply to agent requests no rule answers (``text``), to
    tool-less side requests (``side_text``), and the token ``usage`` both report."""

    text: str = "(rehearsal: no rule matched)"
    side_text: str = "Session"
    usage: Usage = DEFAULT_USAGE


@dataclass(frozen=True)
class Playbook:
    """A loaded playbook: its rules in file order and its defaults."""

    rules: tuple[Rule, ...] = ()
    default: Defaults = Defaults()


@dataclass(frozen=True)
class ToolResult:
    """A tool result in the current turn and the shell command of the call it answers (None if
    the call was not a shell call)."""

    command: str | None
    text: str


@dataclass(frozen=True)
class Exchange:
    """One model request reduced to what rules match on (built by the API modules)."""

    api: Api
    model: str
    tools: frozenset[str]
    prompt: str
    tool_results: tuple[ToolResult, ...] = ()

    @property
    def side(self) -> bool:
        return not self.tools


@dataclass(frozen=True)
class Answer:
    """What to send back. ``kind``: "text" | "tool" | "error" | "side" | "unmatched".
    ``consumes``: the server counts one use of ``rule`` (a rule begins a turn)."""

    kind: str
    rule: Rule | None = None
    text: str = ""
    step: int | None = None
    command: str | None = None
    description: str = ""
    usage: Usage = DEFAULT_USAGE
    delay: float = 0.0
    stream_delay: float = 0.0
    error: Fault | None = None
    consumes: bool = False


def load_playbook(path: Path) -> Playbook:
    """Read and validate a playbook. Raises ``PlaybookError`` (bad TOML, unknown key, wrong
    type) and ``OSError`` (unreadable file)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PlaybookError(f"{path}: not valid TOML: {exc}") from exc
    return parse_playbook(data, source=str(path))


def parse_playbook(data: Mapping[str, Any], source: str = "<playbook>") -> Playbook:
    """Validate an already-parsed TOML document; see ``load_playbook``."""
    _check_keys(data, _TOP_KEYS, source, "")
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list):
        raise PlaybookError(f"{source}: rule: expected [[rule]] tables")
    rules = tuple(_parse_rule(raw, i, source) for i, raw in enumerate(raw_rules))
    ids = [r.id for r in rules if r.id is not None]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise PlaybookError(f"{source}: rule ids must be unique, repeated: {', '.join(dupes)}")
    raw_default = data.get("default", {})
    _check_table(raw_default, source, "default")
    _check_keys(raw_default, _DEFAULT_KEYS, source, "default.")
    default = Defaults(
        text=_get(raw_default, "text", str, source, "default.", Defaults.text),
        side_text=_get(raw_default, "side_text", str, source, "default.", Defaults.side_text),
        usage=_parse_usage(raw_default.get("usage", {}), source, "default.usage"),
    )
    return Playbook(rules=rules, default=default)


def choose(playbook: Playbook, exchange: Exchange, used: Mapping[str, int]) -> Answer:
    """Pick the answer for ``exchange``: the first matching rule with uses left, else a side
    reply (tool-less request) or the unmatched default. ``used`` maps ``Rule.key`` to how many
    turns that rule has begun. Pure."""
    for rule in playbook.rules:
        if not matches(rule, exchange):
            continue
        done = steps_done(rule, exchange)
        # A use is a turn begun: continuing a multi-step turn never counts, and never stops.
        if done == 0 and rule.uses is not None and used.get(rule.key, 0) >= rule.uses:
            continue
        return _answer(rule, done)
    if exchange.side:
        return Answer(kind="side", text=playbook.default.side_text, usage=playbook.default.usage)
    return Answer(kind="unmatched", text=playbook.default.text, usage=playbook.default.usage)


def matches(rule: Rule, ex: Exchange) -> bool:
    """Whether every match field of ``rule`` holds for ``ex`` (uses not considered)."""
    if rule.side != ex.side:
        return False
    if rule.api is not None and rule.api != ex.api:
        return False
    if rule.model is not None and rule.model not in ex.model:
        return False
    if any(name not in ex.tools for name in rule.tools_offered):
        return False
    if rule.steps and SHELL_TOOL[ex.api] not in ex.tools:
        return False
    if rule.last_user is not None and rule.last_user not in ex.prompt:
        return False
    if rule.last_user_re is not None and not rule.last_user_re.search(ex.prompt):
        return False
    if rule.has_tool_result is not None and rule.has_tool_result != bool(ex.tool_results):
        return False
    return not (rule.tool_result is not None and not any(rule.tool_result in r.text for r in ex.tool_results))


def steps_done(rule: Rule, ex: Exchange) -> int:
    """How many of ``rule``'s steps already have a result in the current turn, recognised by the
    command of the call each result answers (stateless, so it survives a server restart)."""
    if not rule.steps:
        return 0
    commands = {s.bash for s in rule.steps}
    done = sum(1 for r in ex.tool_results if r.command in commands)
    return min(done, len(rule.steps))


def _answer(rule: Rule, done: int) -> Answer:
    common = {"rule": rule, "usage": rule.usage, "delay": rule.delay, "stream_delay": rule.stream_delay,
                  "consumes": done == 0}
    if rule.error is not None:
        return Answer(kind="error", error=rule.error, **common)  # type: ignore[arg-type]
    if done < len(rule.steps):
        step = rule.steps[done]
        return Answer(kind="tool", text=step.text, step=done, command=step.bash,
                      description=step.description or _describe(step.bash),
                      **common)  # type: ignore[arg-type]
    text = rule.text if rule.text is not None else ("Done." if rule.steps else "OK.")
    common["delay"] = rule.delay + rule.hold
    return Answer(kind="text", text=text, step=done if rule.steps else None,
                  **common)  # type: ignore[arg-type]


def _describe(command: str) -> str:
    first = command.strip().splitlines()[0] if command.strip() else command
    return "Run " + (first if len(first) <= 60 else first[:57] + "...")


def _parse_rule(raw: Any, index: int, source: str) -> Rule:
    where = f"rule[{index}]."
    _check_table(raw, source, f"rule[{index}]")
    _check_keys(raw, _RULE_KEYS, source, where)
    pattern = _get(raw, "last_user_re", str, source, where, None)
    try:
        compiled = re.compile(pattern) if pattern is not None else None
    except re.error as exc:
        raise PlaybookError(f"{source}: {where}last_user_re: bad regex: {exc}") from exc
    api = _get(raw, "api", str, source, where, None)
    if api is not None and api not in SHELL_TOOL:
        raise PlaybookError(f"{source}: {where}api: expected 'anthropic' or 'openai', got {api!r}")
    tools = raw.get("tools_offered", [])
    if not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
        raise PlaybookError(f"{source}: {where}tools_offered: expected a list of tool names")
    steps = tuple(_parse_step(s, source, f"{where}steps[{k}]")
                  for k, s in enumerate(_get(raw, "steps", list, source, where, [])))
    uses = _get(raw, "uses", int, source, where, None)
    if uses is not None and uses < 1:
        raise PlaybookError(f"{source}: {where}uses: expected an integer >= 1, got {uses}")
    rule = Rule(
        index=index,
        id=_get(raw, "id", str, source, where, None),
        last_user=_get(raw, "last_user", str, source, where, None),
        last_user_re=compiled,
        tool_result=_get(raw, "tool_result", str, source, where, None),
        has_tool_result=_get(raw, "has_tool_result", bool, source, where, None),
        tools_offered=tuple(tools),
        model=_get(raw, "model", str, source, where, None),
        api=api,
        side=_get(raw, "side", bool, source, where, False),
        text=_get(raw, "text", str, source, where, None),
        steps=steps,
        usage=_parse_usage(raw.get("usage", {}), source, f"{where}usage"),
        delay=_seconds(raw, "delay", source, where),
        hold=_seconds(raw, "hold", source, where),
        stream_delay=_seconds(raw, "stream_delay", source, where),
        error=_parse_error(raw["error"], source, f"{where}error") if "error" in raw else None,
        uses=uses,
    )
    if rule.error is not None and (rule.steps or rule.text is not None):
        raise PlaybookError(f"{source}: {where}error: an error rule cannot also have text or steps")
    if rule.steps and rule.has_tool_result is False:
        raise PlaybookError(
            f"{source}: {where}has_tool_result: false would stop this rule after its first step; "
            "steps already advance by tool results, drop has_tool_result")
    if rule.steps and rule.side:
        raise PlaybookError(f"{source}: {where}side: side requests offer no tools, so no steps")
    return rule


def _parse_step(raw: Any, source: str, where: str) -> Step:
    _check_table(raw, source, where)
    _check_keys(raw, _STEP_KEYS, source, where + ".")
    if "bash" not in raw:
        raise PlaybookError(f"{source}: {where}.bash: required (the shell command to run)")
    return Step(
        bash=_get(raw, "bash", str, source, where + ".", ""),
        description=_get(raw, "description", str, source, where + ".", ""),
        text=_get(raw, "text", str, source, where + ".", ""),
    )


def _parse_usage(raw: Any, source: str, where: str) -> Usage:
    """A ``usage`` table (``input``, ``output``, ``cache_read``, ``cache_creation``; tokens) as a
    `Usage`; missing keys take `DEFAULT_USAGE`'s numbers."""
    _check_table(raw, source, where)
    _check_keys(raw, set(_USAGE_KEYS), source, where + ".")
    values = {}
    for key, name in _USAGE_KEYS.items():
        value = _get(raw, key, int, source, where + ".", getattr(DEFAULT_USAGE, name))
        if value < 0:
            raise PlaybookError(f"{source}: {where}.{key}: expected tokens >= 0, got {value}")
        values[name] = value
    return Usage(**values)


def _parse_error(raw: Any, source: str, where: str) -> Fault:
    _check_table(raw, source, where)
    _check_keys(raw, _ERROR_KEYS, source, where + ".")
    status = _get(raw, "status", int, source, where + ".", None)
    if status is None or not 400 <= status <= 599:
        raise PlaybookError(f"{source}: {where}.status: expected an HTTP error status 400-599")
    headers = raw.get("headers", {})
    _check_table(headers, source, where + ".headers")
    if not all(isinstance(v, (str, int)) for v in headers.values()):
        raise PlaybookError(f"{source}: {where}.headers: expected string values")
    return Fault(status=status, body=_get(raw, "body", str, source, where + ".", None),
                 headers={str(k): str(v) for k, v in headers.items()})


def _seconds(raw: Mapping[str, Any], key: str, source: str, where: str) -> float:
    value = raw.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise PlaybookError(f"{source}: {where}{key}: expected seconds >= 0, got {value!r}")
    return float(value)


def _get(raw: Mapping[str, Any], key: str, kind: type, source: str, where: str,
         default: Any) -> Any:
    if key not in raw:
        return default
    value = raw[key]
    # bool is an int subclass: keep `uses = true` from passing as 1.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PlaybookError(
            f"{source}: {where}{key}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def _check_table(raw: Any, source: str, where: str) -> None:
    if not isinstance(raw, dict):
        raise PlaybookError(f"{source}: {where}: expected a table")


def _check_keys(raw: Mapping[str, Any], allowed: set[str], source: str, where: str) -> None:
    for key in raw:
        if key not in allowed:
            hint = difflib.get_close_matches(key, sorted(allowed), n=1)
            suffix = (f" (did you mean {hint[0]!r}?)" if hint
                      else f" (expected one of: {', '.join(sorted(allowed))})")
            raise PlaybookError(f"{source}: {where}{key}: unknown key{suffix}")
