"""Reading the words agents leave in git: the phase done marker, claim and review subjects (DESIGN §6).

Pure functions over strings; the watchdog feeds them what `GitRepo` read from `origin/main`.

The done marker is the one signal that ends a phase, so `has_done_marker` errs towards "not
done": a kickoff or status file routinely MENTIONS the marker ("write `## DONE` when every gate
passes", a template inside a code block, a commented-out placeholder), and a false "done"
restarts every agent on the next phase while a false "not done" only costs a nudge.
"""

from __future__ import annotations

import re
from typing import Literal

Verdict = Literal["PASS", "FAIL"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# CommonMark fence: up to 3 spaces of indent, then 3+ backticks or tildes. A backtick fence's info
# string may not contain backticks (otherwise it is an inline code span, not a fence).
_FENCE_OPEN = re.compile(r" {0,3}(?P<run>`{3,}|~{3,})(?P<info>.*)")
_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")
# Optional conventional-commit prefix ("feat: ", "fix(parser)!: ") that is not itself the claim or
# review, then `claim(<label>)` / `review(<label>)`. Labels hold no parentheses or line breaks.
_PREFIX = r"\s*(?:(?!(?:claim|review)\s*\()[a-z][\w-]*(?:\([^()\n]*\))?!?:\s*)?"
_CLAIM = re.compile(_PREFIX + r"claim\(\s*(?P<label>[^()\n]*?)\s*\)", re.IGNORECASE)
_REVIEW = re.compile(_PREFIX + r"review\(\s*(?P<label>[^()\n]*?)\s*\)(?P<rest>.*)", re.IGNORECASE | re.DOTALL)
_VERDICT = re.compile(r"\s*:\s*(?P<verdict>pass|fail)(?![\w])", re.IGNORECASE)


def has_done_marker(text: str, marker: str) -> bool:
    """True iff `text` (a status file's content) has a line equal to `marker` that Markdown shows.

    A line counts when, with trailing whitespace (including a CR) removed, it equals `marker`
    (itself stripped) exactly, and it is not:

    * inside a fenced code block: ``` or ~~~ (up to 3 spaces of indent, any info string), closed
      only by a fence of the same character at least as long; an unclosed fence runs to the end;
    * inside an HTML comment `<!-- ... -->` (opened anywhere on a line outside an inline code
      span, closed by the next `-->`, possibly lines later);
    * indented at all. CommonMark still renders `   ## DONE` (1-3 spaces) as a heading, and 4+
      spaces as an indented code block; we require column 0 because the contract is "a line
      EQUAL to the marker" and the nudges tell agents that exact line;
    * prefixed in any way — a quoted `> ## DONE`, a list item, "## DONE?", "## DONE (later)".

    Line breaks may be LF, CRLF or CR; a leading BOM is ignored. Raises ValueError for a blank
    marker, which would otherwise match any empty line and end the phase at once.
    """
    want = marker.strip()
    if not want:
        raise ValueError("done marker is blank")
    fence: str | None = None  # the opening run ("```", "~~~~") while inside a fenced block
    in_comment = False
    for raw in _LINE_BREAK.split(text.removeprefix("\ufeff")):
        line = raw.rstrip()
        if fence is not None:
            if _closes(line, fence):
                fence = None
            continue
        if in_comment:
            end = line.find("-->")
            if end < 0:
                continue
            in_comment = _opens_comment(line[end + 3:])
            continue
        if line == want:
            return True
        opened = _FENCE_OPEN.fullmatch(line)
        if opened and not (opened["run"][0] == "`" and "`" in opened["info"]):
            fence = opened["run"]
            continue
        in_comment = _opens_comment(line)
    return False


def _closes(line: str, fence: str) -> bool:
    """A closing fence: <=3 spaces, the opener's character at least as many times, then nothing."""
    body = line.lstrip(" ")
    if len(line) - len(body) > 3:
        return False
    run = len(body) - len(body.lstrip(fence[0]))
    return run >= len(fence) and not body[run:].strip()


def _opens_comment(fragment: str) -> bool:
    """True when `fragment` leaves an HTML comment open at its end (code spans do not count)."""
    fragment = _CODE_SPAN.sub("", fragment)
    pos = 0
    while (start := fragment.find("<!--", pos)) >= 0:
        # From start+2 so "<!-->" and "<!--->" close themselves, as in CommonMark 0.31.
        end = fragment.find("-->", start + 2)
        if end < 0:
            return True
        pos = end + 3
    return False


def claim_label(subject: str) -> str | None:
    """The gate label of a claim commit subject, else None.

    `claim(<label>)` followed by anything, "claim" in any case, optionally after one
    conventional-commit prefix: "claim(G1): parser" → "G1", "feat: claim(G2)" → "G2",
    "feat(cli): CLAIM(g3) done" → "g3" (label case kept, surrounding spaces dropped). An empty
    label, "claimed(G1)" or a claim mentioned mid-subject ("fix claim(G1) typo") → None.
    """
    m = _CLAIM.match(subject)
    return m["label"] if m and m["label"] else None


def review_verdict(subject: str) -> tuple[str, Verdict | None] | None:
    """`(label, verdict)` of a review commit subject `review(<label>): PASS|FAIL ...`, else None.

    Accepts the same optional conventional-commit prefix as `claim_label`. The verdict is the
    first word after the colon, any case, normalised to "PASS"/"FAIL" ("review(G1): FAIL — flaky"
    → ("G1", "FAIL")). When the subject is a review but the verdict is not in that form — no
    colon ("review(G1) PASS"), "PASSED", "LGTM" — the verdict is None: it is still a review of
    that gate (the builder gets pinged either way), but nothing is inferred from free text.
    """
    m = _REVIEW.match(subject)
    if not m or not m["label"]:
        return None
    v = _VERDICT.match(m["rest"])
    verdict: Verdict | None = "PASS" if v and v["verdict"].upper() == "PASS" else "FAIL" if v else None
    return m["label"], verdict
