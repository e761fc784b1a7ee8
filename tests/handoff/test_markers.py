"""Done-marker, claim and review parsing: tables of real-looking status files and subjects, plus properties."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_orchestrator.handoff.markers import claim_label, has_done_marker, review_verdict

M = "## DONE"

MARKER_CASES = [
    # (id, text, expected)
    ("plain line", "# Status\n\nAll gates pass.\n## DONE\n", True),
    ("only line", "## DONE", True),
    ("at end without newline", "notes\n## DONE", True),
    ("crlf", "# Status\r\n## DONE\r\nmore\r\n", True),
    ("lone cr", "# Status\r## DONE\r", True),
    ("trailing spaces and tab", "## DONE  \t\n", True),
    ("bom", "\ufeff## DONE\n", True),
    ("inside backtick fence", "```\n## DONE\n```\n", False),
    ("inside tilde fence with info", "~~~markdown title=\"x\"\n## DONE\n~~~\n", False),
    ("after a closed fence", "```md\n## DONE\n```\n## DONE\n", True),
    ("unclosed fence hides the rest", "ok\n```\n## DONE\n", False),
    ("longer fence not closed by shorter", "````\n```\n## DONE\n````\n", False),
    ("shorter inner fence then marker after outer", "````\n```\n## DONE\n````\n## DONE\n", True),
    ("tilde fence not closed by backticks", "~~~\n```\n## DONE\n", False),
    ("closing fence may be longer", "```\nx\n`````\n## DONE\n", True),
    ("closing fence with text is content", "```\nx\n``` not a close\n## DONE\n", False),
    ("fence indented 3 spaces still a fence", "   ```\n## DONE\n   ```\n", False),
    ("4-space 'fence' is not a fence", "    ```\n## DONE\n", True),
    ("backtick info with backtick is not a fence", "``` a`b\n## DONE\n", True),
    ("fence with CRLF", "```\r\n## DONE\r\n```\r\n", False),
    ("html comment block", "<!--\n## DONE\n-->\n", False),
    ("html comment opened mid-line", "Status <!-- template:\n## DONE\n-->\n", False),
    ("unclosed html comment", "<!-- todo\n## DONE\n", False),
    ("closed one-line comment", "<!-- note -->\n## DONE\n", True),
    ("marker after comment closes", "<!--\nx\n-->\n## DONE\n", True),
    ("comment closes then reopens on a line", "<!--\nx --> y <!--\n## DONE\n-->\n", False),
    ("comment token in code span is text", "use `<!--` for notes\n## DONE\n", True),
    ("fence inside comment is not a fence", "<!--\n```\n-->\n## DONE\n", True),
    ("comment inside fence is not a comment", "```\n<!--\n```\n## DONE\n", True),
    ("self-closing empty comment", "<!-->\n## DONE\n", True),
    ("quoted", "> ## DONE\n", False),
    ("list item", "- ## DONE\n", False),
    ("indented 3 spaces", "   ## DONE\n", False),
    ("indented 4 spaces (code block)", "    ## DONE\n", False),
    ("tab indented", "\t## DONE\n", False),
    ("inline code mention", "Write `## DONE` when finished.\n", False),
    ("question", "## DONE?\n", False),
    ("placeholder", "## DONE (placeholder)\n", False),
    ("lower case", "## done\n", False),
    ("longer heading level", "### DONE\n", False),
    ("empty", "", False),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in MARKER_CASES], ids=[c[0] for c in MARKER_CASES])
def test_has_done_marker(text: str, expected: bool) -> None:
    assert has_done_marker(text, M) is expected


def test_marker_is_compared_stripped_and_may_be_any_line() -> None:
    assert has_done_marker("status\nPHASE COMPLETE\n", "PHASE COMPLETE  ")
    assert not has_done_marker("status\nPHASE COMPLETE!\n", "PHASE COMPLETE")
    # A marker written as an HTML comment is matched as a line before comment handling.
    assert has_done_marker("x\n<!-- done -->\n", "<!-- done -->")


def test_blank_marker_is_rejected() -> None:
    with pytest.raises(ValueError, match="blank"):
        has_done_marker("\n\n", "  ")


# -- properties -------------------------------------------------------------------------------

# Prose lines: never a fence, never a comment token, never the marker itself — but often a
# near-miss mention of it.
_near_misses = st.sampled_from([
    "## DONE?", "## DONE (placeholder)", "> ## DONE", "   ## DONE", "- ## DONE", "write `## DONE` when finished",
    "## DONE.", "#  DONE", "", "   ", "# Status", "Gate G1: PASS",
])
_words = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="`~<>-\u2028\u2029\x85"), max_size=30)
prose = st.one_of(_near_misses, _words).filter(lambda s: s.rstrip() != M)
hidden = st.one_of(prose, st.just(M), st.just(M + "\r"))


@st.composite
def fenced(draw: st.DrawFn) -> list[str]:
    char = draw(st.sampled_from("`~"))
    run = char * draw(st.integers(3, 6))
    info = draw(st.sampled_from(["", "md", " python", " title=x"]))
    body = draw(st.lists(hidden, max_size=4))
    close = char * draw(st.integers(len(run), len(run) + 2))
    return [run + info, *body, close]


@st.composite
def commented(draw: st.DrawFn) -> list[str]:
    body = draw(st.lists(hidden, max_size=4))
    return ["<!--" + draw(st.sampled_from(["", " template"])), *body, draw(st.sampled_from(["-->", "  -->", "end -->"]))]


blocks = st.lists(st.one_of(st.lists(prose, min_size=1, max_size=3), fenced(), commented()), max_size=6)


def _doc(parts: list[list[str]]) -> list[str]:
    return [line for part in parts for line in part]


@settings(max_examples=300)
@given(blocks)
def test_marker_only_inside_fences_and_comments_is_not_done(parts: list[list[str]]) -> None:
    assert not has_done_marker("\n".join(_doc(parts)), M)


@settings(max_examples=300)
@given(blocks, st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_marker_appended_outside_is_found_and_a_wrapping_fence_hides_it(parts: list[list[str]], eol: str, final_eol: bool) -> None:
    lines = [*_doc(parts), M]
    doc = eol.join(lines) + (eol if final_eol else "")
    assert has_done_marker(doc, M)
    # A fence longer than any backtick run inside cannot be closed by the document's own fences.
    longest = max((len(run) for line in lines for run in re.findall("`+", line)), default=0)
    outer = "`" * max(3, longest + 1)
    assert not has_done_marker(eol.join([outer + "text", *lines, ""]), M)
    assert has_done_marker(eol.join([outer, *lines[:-1], outer, M]), M)


# -- claim and review subjects ----------------------------------------------------------------

CLAIMS = [
    ("claim(G1): parser", "G1"),
    ("claim(G1)", "G1"),
    ("feat: claim(G2)", "G2"),
    ("feat(cli): claim(G2): tokenizer", "G2"),
    ("fix!: claim(G5) retry", "G5"),
    ("CLAIM(g3)", "g3"),
    ("Claim( G4 ) spaced label", "G4"),
    ("  claim(G6)", "G6"),
    ("claim(phase 2 / parser)", "phase 2 / parser"),
    ("claim()", None),
    ("claim: G1", None),
    ("claimed(G1)", None),
    ("fix claim(G1) typo", None),
    ("feat: add parser", None),
    ("review(G1): PASS", None),
    ("Revert \"claim(G1): parser\"", None),
    ("", None),
]


@pytest.mark.parametrize(("subject", "label"), CLAIMS)
def test_claim_label(subject: str, label: str | None) -> None:
    assert claim_label(subject) == label


REVIEWS = [
    ("review(G1): PASS", ("G1", "PASS")),
    ("review(G1): FAIL — flaky", ("G1", "FAIL")),
    ("review(G1):PASS", ("G1", "PASS")),
    ("review(G1): pass, nits inline", ("G1", "PASS")),
    ("REVIEW(g2): Fail: see notes", ("g2", "FAIL")),
    ("feat(review): review(G3): PASS", ("G3", "PASS")),
    ("review(G1) PASS", ("G1", None)),  # no colon: a review of G1, verdict not inferred
    ("review(G1): PASSED", ("G1", None)),
    ("review(G1): LGTM", ("G1", None)),
    ("review(G1)", ("G1", None)),
    ("review(): PASS", None),
    ("reviewed(G1): PASS", None),
    ("claim(G1): parser", None),
    ("docs: mention review(G1): PASS", None),
    ("", None),
]


@pytest.mark.parametrize(("subject", "expected"), REVIEWS)
def test_review_verdict(subject: str, expected: tuple[str, str | None] | None) -> None:
    assert review_verdict(subject) == expected
