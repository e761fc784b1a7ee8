"""Help output without a type on plain flags.

Typer (0.29) shows every option's type in the help panel, so a plain on/off flag reads
`--json <bool>` and `--help <bool>` — as if it took a value. `PlainFlagsGroup`, the root group of
the `agents` app, walks its commands once when built and gives every boolean flag (and each
command's own `--help`) an empty metavar, which the help panel prints as nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from typer.core import TyperGroup, TyperOption


def _plain(param: object) -> None:
    if isinstance(param, TyperOption) and param.is_bool_flag and param.metavar is None:
        param.metavar = ""


def _plain_help(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def get_help_option(ctx: Any) -> Any:
        option = original(ctx)
        _plain(option)
        return option

    return get_help_option


def plain_flags(command: Any, seen: set[int] | None = None) -> None:
    """Give `command`'s boolean flags, its help option and those of every subcommand (recursively)
    an empty metavar. Idempotent."""
    seen = set() if seen is None else seen
    if id(command) in seen:
        return
    seen.add(id(command))
    for param in getattr(command, "params", []):
        _plain(param)
    command.get_help_option = _plain_help(command.get_help_option)
    for sub in getattr(command, "commands", {}).values():
        plain_flags(sub, seen)


class PlainFlagsGroup(TyperGroup):
    """A TyperGroup whose help shows plain flags without `<bool>` (see the module doc)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        plain_flags(self)
