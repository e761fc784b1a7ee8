"""Text that goes into an agent's input box: made safe to paste.

Commit subjects, watcher summaries and requests come from outside; a control character in them
reaches the pane as a keystroke. A commit subject holding `ESC[201~` (the end of a bracketed
paste) plus `^U`/`^C` once erased the watchdog's ping in a reviewer's input box (tmux 3.3a passes
it through inside a paste). So every message is sanitized before it is queued: escape sequences
and C0/C1 controls are shown as visible text (`^[`, `^U`), tabs and newlines are kept.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


def _visible(m: re.Match[str]) -> str:
    ch = m.group(0)
    code = ord(ch)
    if code == 0x7F:
        return "^?"
    if code < 0x20:
        return "^" + chr(code + 0x40)
    return f"<U+{code:04X}>"


def sanitize(text: str) -> str:
    """`text` with every control character but tab and newline shown as visible text; a carriage
    return before a newline is dropped (CRLF line ends).

    >>> sanitize("claim(G1): ok\\x1b[201~\\x15\\x03 done")
    'claim(G1): ok^[[201~^U^C done'
    >>> sanitize("two\\r\\nlines\\tkept")
    'two\\nlines\\tkept'
    """
    return _CONTROL.sub(_visible, text.replace("\r\n", "\n"))
