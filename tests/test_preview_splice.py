"""The preview's fast path for a saved note: the HTML splice, and the entry rendered alone by real pandoc.

The splice tests work on small pages (nested elements with the same tag, an id
that is missing or doubled, escaped text). The fast-path tests build the mini
project, edit one note, and compare the entry the fast path spliced with the
entry a real build of the same inputs writes; the cases it must refuse (two
notes, a new note, a change outside the entry) must give None, never a page.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from scholarly_build.building.build import BuildOptions, BuildReport, build
from scholarly_build.core.problems import BuildFailed
from scholarly_build.preview.fastpath import NoteFastPath, SectionFastPath
from scholarly_build.rendering import htmlsplice as splice
from scholarly_build.rendering.entries import annotation_blocks, fragment_markdown
from tests.conftest import copy_mini

PAGE = (
    '<html><body><nav><div id="x-1">other</div></nav>\n'
    '<div id="ref-a" class="csl-entry"><div class="annotation"><div>deep <div>deeper</div></div>'
    "<p>1 &lt; 2 &amp; &quot;q&quot;</p><br><img src=a.png></div></div>\n"
    '<div id="ref-b" class="csl-entry">b</div></body></html>'
)


def test_the_element_with_nested_same_tag_elements_is_found_whole() -> None:
    element = splice.element_html(PAGE, "ref-a")
    assert element is not None
    assert element.startswith('<div id="ref-a"') and element.endswith("</div></div>")
    assert element.count("<div") == element.count("</div>") == 4
    assert splice.element_html(PAGE, "ref-b") == '<div id="ref-b" class="csl-entry">b</div>'


def test_splice_replaces_only_that_element_and_keeps_the_escaping() -> None:
    new = '<div id="ref-a" class="csl-entry">now &lt;b&gt;bold?&lt;/b&gt; &amp; more<div>in</div></div>'
    out = splice.splice(PAGE, "ref-a", new)
    assert out is not None
    assert new in out and "deeper" not in out
    assert out.replace(new, "") == PAGE.replace(splice.element_html(PAGE, "ref-a") or "?", "")
    assert "&lt;b&gt;bold?&lt;/b&gt;" in (splice.element_html(out, "ref-a") or "")
    assert "<b>" not in out, "escaped text must stay escaped"


def test_no_splice_when_the_element_is_missing_doubled_or_the_replacement_is_not_one_element() -> None:
    assert splice.splice(PAGE, "ref-zzz", '<div id="ref-zzz"></div>') is None
    doubled = PAGE.replace('id="ref-b"', 'id="ref-a"')
    assert splice.element_span(doubled, "ref-a") is None
    assert splice.splice(doubled, "ref-a", '<div id="ref-a"></div>') is None
    assert splice.splice(PAGE, "ref-a", '<div id="ref-a"></div><p>tail</p>') is None
    assert splice.splice(PAGE, "ref-a", '<div id="ref-other"></div>') is None
    assert splice.element_span('<div id="ref-a"><div>never closed</div>', "ref-a") is None


def test_an_id_inside_an_attribute_value_or_a_comment_is_not_an_element() -> None:
    page = '<!-- <div id="ref-a">no</div> --><p title=\'<div id="ref-a">\'>t</p><div id="ref-a">yes</div>'
    assert splice.element_html(page, "ref-a") == '<div id="ref-a">yes</div>'


def test_annotation_blocks_are_cut_by_their_fences() -> None:
    md = (
        "intro\n\n::: {.annotations}\n"
        ':::::: {.annotation key="a"}\nbody a\n\n::: {.provenance}\nP\n:::\n\n::::::\n\n'
        ':::::: {.annotation key="b"}\nbody b \\::: escaped\n::::::\n:::\n'
    )
    assert [b[0] for b in annotation_blocks(md)] == ["a", "b"]
    split = fragment_markdown(md, "b")
    assert split is not None
    document, rest, block = split
    assert "body a" not in document and "body b" in document and document.startswith("intro")
    assert document.endswith("::::::\n:::\n")
    assert block.startswith(':::::: {.annotation key="b"}') and "\0" in rest
    assert fragment_markdown(md, "c") is None


# --- the fast path on the mini project, with real pandoc ------------------------------------------


def _build(root: Path, documents: tuple[str, ...] = ("bibliography",)) -> BuildReport:
    return build(root, BuildOptions(documents=documents, formats=("html",)), Console(file=io.StringIO()))


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, NoteFastPath]:
    root = copy_mini(tmp_path / "mini")
    fast = NoteFastPath(root, tmp_path / "fragment")
    fast.remember(_build(root))
    return root, fast


def _served(root: Path) -> bytes:
    return (root / "build" / "annotated-bibliography.html").read_bytes()


@pytest.mark.integration
def test_the_spliced_entry_is_the_entry_a_build_writes(built: tuple[Path, NoteFastPath]) -> None:
    root, fast = built
    before = (root / "build").joinpath("annotated-bibliography.html").read_bytes()
    note = root / "bib" / "notes" / "alpha2018.md"
    note.write_text(note.read_text().replace("ANNOTATION-alpha2018", 'ANNOTATION-alpha2018 SPLICED <b>x</b> & "y"'))
    spliced = fast.try_note({"bib/notes/alpha2018.md"}, _served(root))
    assert spliced is not None
    assert (root / "build" / "annotated-bibliography.html").read_bytes() == before, "build/ must stay untouched"
    assert "SPLICED &lt;b&gt;x&lt;/b&gt; &amp;" in " ".join(spliced.element.split()), spliced.element
    _build(root)
    built_page = (root / "build" / "annotated-bibliography.html").read_text()
    assert splice.element_html(built_page, "ref-alpha2018") == spliced.element
    # Everything outside the entry is the page that was served before.
    page = spliced.page.decode()
    assert page.replace(spliced.element, "") == before.decode().replace(
        splice.element_html(before.decode(), "ref-alpha2018") or "?", ""
    )


@pytest.mark.integration
def test_the_fast_path_refuses_what_it_cannot_vouch_for(built: tuple[Path, NoteFastPath]) -> None:
    root, fast = built
    notes = root / "bib" / "notes"
    served = _served(root)
    alpha, gamma = notes / "alpha2018.md", notes / "gamma1999.md"
    alpha.write_text(alpha.read_text().replace("ANNOTATION-alpha2018", "ANNOTATION-alpha2018 two"))
    assert fast.try_note({"bib/notes/alpha2018.md", "bib/notes/beta2016.md"}, served) is None  # two notes
    assert fast.try_note({"bib/notes/delta2020.md"}, served) is None  # not a note of the last build
    assert fast.try_note({"manuscript/sections/01-intro.md"}, served) is None  # not a note
    # The legend lists reconstructed entries: changing `metadata` changes the page outside the entry.
    gamma.write_text(gamma.read_text().replace("metadata: complete", "metadata: reconstructed"))
    assert fast.try_note({"bib/notes/gamma1999.md"}, served) is None
    # A page without the entry (or with another formatting of it) is never spliced.
    page = served.decode().replace('id="ref-alpha2018"', 'id="ref-elsewhere"').encode()
    assert fast.try_note({"bib/notes/alpha2018.md"}, page) is None


@pytest.mark.integration
def test_a_note_the_check_rejects_raises_the_builds_error(built: tuple[Path, NoteFastPath]) -> None:
    root, fast = built
    note = root / "bib" / "notes" / "alpha2018.md"
    note.write_text(note.read_text().replace("metadata: reconstructed", "metadata: guessed"))
    with pytest.raises(BuildFailed) as fast_error:
        fast.try_note({"bib/notes/alpha2018.md"}, _served(root))
    with pytest.raises(BuildFailed) as build_error:
        _build(root)
    assert fast_error.value.render() == build_error.value.render()


@pytest.mark.integration
def test_a_failed_build_after_a_splice_drops_the_spliced_page(
    built: tuple[Path, NoteFastPath], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The full build after a splice fails: the page is served from build/ again (the last good
    build), the pages are told to reload, and the error is shown."""
    from scholarly_build.preview import session

    root, _fast = built
    preview = session.Preview(root, Console(file=io.StringIO()))
    try:
        assert preview.rebuild_html(("bibliography",))
        note = root / "bib" / "notes" / "alpha2018.md"
        note.write_text(note.read_text().replace("ANNOTATION-alpha2018", "ANNOTATION-alpha2018 DROPPED"))
        spliced = preview.splice_note({"bib/notes/alpha2018.md"})
        assert spliced is not None and preview.spliced.peek(spliced.name) == spliced.page

        def failing(*_args: object, **_kwargs: object) -> None:
            raise BuildFailed("x.md:1: error test: the build failed after the splice")

        monkeypatch.setattr(session, "build", failing)
        assert not preview.rebuild_html(("bibliography", "paper"))
        assert preview.spliced.peek(spliced.name) is None
        assert "DROPPED" not in (root / "build" / "annotated-bibliography.html").read_text()
        events = preview.hub._events[-2:]
        assert '"reload"' in events[0] and spliced.name in events[0]
        assert '"error"' in events[1] and "failed after the splice" in events[1]
        assert preview.fast.job is None, "no splice onto a page the last build did not vouch for"
    finally:
        preview.stop()


@pytest.mark.integration
def test_the_pages_reload_again_only_when_the_built_entry_differs(built: tuple[Path, NoteFastPath]) -> None:
    """After the build, the spliced page gives way to the file; a reload is sent only if the
    built entry is not the one spliced (here: a spliced entry made to differ)."""
    import dataclasses
    import json

    from scholarly_build.preview import session

    root, _fast = built
    preview = session.Preview(root, Console(file=io.StringIO()))
    try:
        assert preview.rebuild_html(("bibliography",))
        note = root / "bib" / "notes" / "alpha2018.md"
        for word, differ in (("SAME", False), ("DIFFERENT", True)):
            note.write_text(note.read_text().replace("ANNOTATION-alpha2018", f"ANNOTATION-alpha2018 {word}"))
            spliced = preview.splice_note({"bib/notes/alpha2018.md"})
            assert spliced is not None
            if differ:  # as if the entry rendered alone had come out otherwise
                spliced = dataclasses.replace(spliced, element=spliced.element.replace(word, "OTHER"))
                preview.held[spliced.name] = spliced
            seen = len(preview.hub._events)
            assert preview.rebuild_html(("bibliography",))
            assert preview.spliced.peek(spliced.name) is None, "the file is served again"
            reloads = [json.loads(e) for e in preview.hub._events[seen:] if '"reload"' in e]
            assert len(reloads) == (1 if differ else 0), reloads  # one reload, after the file is served again
            assert all(r["files"] == [spliced.name] for r in reloads)
    finally:
        preview.stop()


@pytest.mark.integration
def test_a_section_rendered_ahead_is_the_page_a_build_writes(tmp_path: Path) -> None:
    """A saved section: the whole paper page from the last build's job, byte for byte what the build then
    writes; build/ untouched until then; an unknown key, two files or a file that is no section: None."""
    root = copy_mini(tmp_path / "mini")
    ahead = SectionFastPath(root, tmp_path / "ahead")
    ahead.remember(_build(root, ("paper",)))
    before = (root / "build" / "paper.html").read_bytes()
    section = root / "manuscript" / "sections" / "02-body.md"
    original = section.read_text()
    section.write_text(original + '\n\nAHEAD <b>bold</b> & "q" [@beta2016, p. 4].\n')
    page = ahead.try_section({"manuscript/sections/02-body.md"})
    assert page is not None and page.element_id == "" and page.name == "paper.html"
    assert (root / "build" / "paper.html").read_bytes() == before, "build/ must stay untouched"
    assert "AHEAD &lt;b&gt;bold&lt;/b&gt; &amp;" in page.element
    _build(root, ("paper",))
    assert (root / "build" / "paper.html").read_bytes() == page.page
    section.write_text(original + "\n\nSee [@nosuchkey2020].\n")
    assert ahead.try_section({"manuscript/sections/02-body.md"}) is None  # the full check reports it
    assert ahead.try_section({"manuscript/sections/02-body.md", "manuscript/sections/01-intro.md"}) is None
    assert ahead.try_section({"bib/notes/alpha2018.md"}) is None
