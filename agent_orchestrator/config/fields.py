"""Generic checking of a TOML table against a schema dataclass.

`build(cls, table, path, ctx)` turns a parsed TOML table into an instance of `cls`, collecting
one `Problem` per bad key instead of stopping at the first: unknown keys (with a "did you mean"),
missing required keys, wrong types, values outside `choices`, non-positive intervals and regexes
that do not compile. Paths are resolved against the config file's folder.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints


@dataclass(frozen=True)
class Problem:
    """One validation failure: `key` is a dotted key path such as ``agent[2].watch``."""

    key: str
    message: str


class Context:
    """Collects problems while a config is built; knows the folder relative paths resolve against."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []

    def add(self, key: str, message: str) -> None:
        """Record a problem at `key`."""
        self.problems.append(Problem(key, message))


def show(value: Any) -> str:
    """A value as the user wrote it in TOML (strings quoted), shortened for one-line messages."""
    if isinstance(value, str):
        text = '"' + value.replace('"', '\\"') + '"'
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict):
        text = "a table"
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def suggest(word: str, known: typing.Iterable[str]) -> str:
    """` (did you mean "x"?)` for the closest known word, or ''."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f'; did you mean "{close[0]}"?' if close else ""


def join(path: str, key: str) -> str:
    """Key path of `key` inside `path`."""
    return f"{path}.{key}" if path else key


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if tp is str:
        return "a string"
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is Path:
        return "a path string"
    if origin is list:
        return f"a list of {_describe(get_args(tp)[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin is dict:
        return "a table of strings"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return str(tp)


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def convert(tp: Any, value: Any, key: str, ctx: Context, meta: typing.Mapping[str, Any]) -> Any:
    """Check `value` against type `tp` (and field metadata); return the converted value or None."""
    tp, _ = _unwrap_optional(tp)
    origin = get_origin(tp)
    original = value
    ok = True
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok:
            value = float(value)
    elif tp is str:
        ok = isinstance(value, str)
    elif tp is Path:
        ok = isinstance(value, str) and value != ""
        if ok:
            p = Path(value).expanduser()
            value = p if p.is_absolute() else (ctx.root / p)
    elif origin is Literal:
        ok = value in get_args(tp)
    elif origin is list:
        (item_tp,) = get_args(tp)
        if isinstance(value, str) and meta.get("one_or_many"):
            value = [value]
        if not isinstance(value, list):
            ok = False
        else:
            out = []
            for i, item in enumerate(value):
                if isinstance(item_tp, type) and dataclasses.is_dataclass(item_tp):
                    if not isinstance(item, dict):
                        ctx.add(f"{key}[{i}]", f"expected a table, got {show(item)}")
                        continue
                    out.append(build(item_tp, item, f"{key}[{i}]", ctx))
                else:
                    out.append(convert(item_tp, item, f"{key}[{i}]", ctx, {}))
            return out
    elif origin is dict:
        if not isinstance(value, dict):
            ok = False
        elif get_args(tp)[1] is float:
            # {name = seconds}: positive numbers (e.g. [watchdog.message_wait])
            good: dict[str, float] = {}
            for k, v in value.items():
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or v != v or v in (float("inf"), float("-inf")):
                    ctx.add(join(key, k), f"expected a number of seconds >= 0, got {show(v)}")
                else:
                    good[k] = float(v)
            return good
        else:
            bad = [k for k, v in value.items() if not isinstance(v, str)]
            for k in bad:
                ctx.add(join(key, k), f"expected a string, got {show(value[k])}")
            return {k: v for k, v in value.items() if isinstance(v, str)}
    elif isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            ok = False
        else:
            return build(tp, value, key, ctx)
    if not ok:
        ctx.add(key, f"expected {_describe(tp)}, got {show(value)}")
        return None
    return _check_meta(value, original, key, ctx, meta)


def _check_meta(value: Any, original: Any, key: str, ctx: Context, meta: typing.Mapping[str, Any]) -> Any:
    choices = meta.get("choices")
    if choices and value not in choices:
        allowed = ", ".join(f'"{c}"' for c in choices)
        ctx.add(key, f"{show(value)} is not one of {allowed}{suggest(str(value), choices)}")
        return None
    if isinstance(value, float) and not math.isfinite(value):
        ctx.add(key, f"expected a finite number, got {show(original)}")
        return None
    if meta.get("positive") and value <= 0:
        ctx.add(key, f"expected a value > 0, got {show(original)}")
        return None
    if meta.get("regex") and value:
        try:
            re.compile(value)
        except re.error as exc:
            ctx.add(key, f"regex {show(value)} does not compile: {exc}")
            return None
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    # get_type_hints evaluates string annotations: by far the dearest part of loading a config.
    return get_type_hints(cls)


def build(cls: type, table: dict[str, Any], path: str, ctx: Context) -> Any:
    """Build a `cls` dataclass from `table`, recording problems under key path `path`.

    Always returns an instance (bad or missing fields keep their defaults) so that checking can go
    on and report every problem at once; callers look at `ctx.problems` to decide.
    """
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in fields:
            ctx.add(join(path, key), f"unknown key{suggest(key, fields)}")
            continue
        converted = convert(hints[key], value, join(path, key), ctx, fields[key].metadata)
        if converted is not None:
            values[key] = converted
    for name, f in fields.items():
        if f.metadata.get("required") and name not in table:
            ctx.add(join(path, name), f"required key is missing ({_describe(_unwrap_optional(hints[name])[0])})")
    return cls(**values)


def documented_fields(cls: type) -> list[tuple[str, str, Any]]:
    """(key, doc, default) for every field of a schema dataclass, for the README reference."""
    out = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        out.append((f.name, f.metadata.get("doc", ""), default))
    return out
