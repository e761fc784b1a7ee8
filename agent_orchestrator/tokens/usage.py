"""The `Usage` value type: token counts in the four buckets both agent CLIs report.

All counts are tokens (plain ints). The buckets follow Claude Code's `message.usage` fields
(Claude Code 2.1.197): ``input`` = ``input_tokens`` (uncached input), ``output`` =
``output_tokens``, ``cache_read`` = ``cache_read_input_tokens``, ``cache_write`` =
``cache_creation_input_tokens``. Codex (0.169.0) is mapped onto the same buckets by the reader
(`codex_usage`), so that ``total`` equals Codex's own ``total_tokens``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FIELDS = ("input", "output", "cache_read", "cache_write")


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts (tokens) in four disjoint buckets.

    >>> u = Usage(input=3, output=10, cache_read=100, cache_write=20)
    >>> u.total
    133
    >>> (u + Usage(output=5)).output
    15
    >>> (u - u) == Usage()
    True
    >>> Usage.from_dict(u.to_dict()) == u
    True
    """

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0

    @property
    def total(self) -> int:
        """Sum of the four buckets (tokens)."""
        return self.input + self.output + self.cache_read + self.cache_write

    def __add__(self, other: object) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            self.input + other.input,
            self.output + other.output,
            self.cache_read + other.cache_read,
            self.cache_write + other.cache_write,
        )

    def __radd__(self, other: object) -> Usage:
        # Lets `sum(usages)` work with its default start of 0.
        if other == 0:
            return self
        return NotImplemented

    def __sub__(self, other: object) -> Usage:
        """Bucket-wise difference; a bucket can go negative (nothing is clamped)."""
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            self.input - other.input,
            self.output - other.output,
            self.cache_read - other.cache_read,
            self.cache_write - other.cache_write,
        )

    def __bool__(self) -> bool:
        """False when every bucket is 0."""
        return any((self.input, self.output, self.cache_read, self.cache_write))

    def maximum(self, other: Usage) -> Usage:
        """Bucket-wise maximum (a high-water mark of cumulative counts)."""
        return Usage(
            max(self.input, other.input),
            max(self.output, other.output),
            max(self.cache_read, other.cache_read),
            max(self.cache_write, other.cache_write),
        )

    def to_dict(self) -> dict[str, int]:
        """``{"input", "output", "cache_read", "cache_write", "total"}``, all tokens."""
        return {
            "input": self.input,
            "output": self.output,
            "cache_read": self.cache_read,
            "cache_write": self.cache_write,
            "total": self.total,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Usage:
        """Inverse of `to_dict`. Missing buckets are 0; ``total`` is ignored (it is derived).

        Raises ValueError if a bucket is not an int (bools are rejected too).
        """
        values = []
        for name in FIELDS:
            v = d.get(name, 0)
            if not isinstance(v, int) or isinstance(v, bool):
                raise ValueError(f"Usage.{name} must be an int, got {v!r}")
            values.append(v)
        return cls(*values)


def _tokens(v: Any) -> int:
    """A token count from JSON: non-negative ints (or whole floats); anything else is 0."""
    if isinstance(v, bool):
        return 0
    if isinstance(v, int):
        return max(v, 0)
    if isinstance(v, float) and v == v and 0 <= v < 1e18:
        return int(v)
    return 0


def claude_usage(u: Any) -> Usage | None:
    """`Usage` from a Claude ``message.usage`` object, or None when it is not an object.

    ``cache_write`` is ``cache_creation_input_tokens`` itself, not the sum of its
    ``cache_creation.ephemeral_*`` breakdown (ccusage 18 counts the field; REFERENCE notes that
    ccusage 20 counts 0 when the breakdown is 0 and the field is not).
    """
    if not isinstance(u, dict):
        return None
    return Usage(
        input=_tokens(u.get("input_tokens")),
        output=_tokens(u.get("output_tokens")),
        cache_read=_tokens(u.get("cache_read_input_tokens")),
        cache_write=_tokens(u.get("cache_creation_input_tokens")),
    )


def codex_usage(t: Any) -> Usage | None:
    """`Usage` from a Codex ``total_token_usage``/``last_token_usage`` object, or None.

    Codex counts cached input inside ``input_tokens`` and reasoning inside ``output_tokens``, so
    input = input_tokens − cached_input_tokens, cache_read = cached_input_tokens, output =
    output_tokens, cache_write = 0; then ``total`` equals Codex's ``total_tokens``.
    """
    if not isinstance(t, dict):
        return None
    inp = _tokens(t.get("input_tokens"))
    cached = min(_tokens(t.get("cached_input_tokens")), inp)
    return Usage(input=inp - cached, output=_tokens(t.get("output_tokens")), cache_read=cached)
