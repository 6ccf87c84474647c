"""The preview's section splice (preview/sections.py): a saved section rendered alone and put in the page.

Every case edits one of this repository's own sections in a copy, asks the preview's
section fast path for the page, then builds the paper's HTML as the preview's build
does: the page the fast path served must be the built file, byte for byte, whether
the section was spliced or the whole page was rendered. Each case also says which of
the two it expects, so a splice that never happens fails too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scholarly_build.building.build import BuildOptions
from scholarly_build.building.reproducible import copy_project
from scholarly_build.preview.fastpath import SectionFastPath

from .conftest import quiet_build

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.integration
# As the preview builds a page (Preview._html_options): one document's HTML, linked as in a full build.
PAPER_HTML = BuildOptions(
    documents=("paper",), formats=("html",), linked_as=(BuildOptions().documents, BuildOptions().formats)
)
SECTIONS = "manuscript/sections"


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SectionFastPath]:
    """This repository's project with the paper's HTML built, and the fast path that remembers that build."""
    root = tmp_path_factory.mktemp("sections") / "project"
    copy_project(ROOT, root)
    fast = SectionFastPath(root, tmp_path_factory.mktemp("sections-work"))
    fast.remember(quiet_build(root, PAPER_HTML))
    return root, fast


def _save_and_compare(state: tuple[Path, SectionFastPath], section: str, edit: str, spliced: bool) -> None:
    """Append ``edit`` to ``section`` (or replace its first paragraph's start when it holds ``=>``)."""
    root, fast = state
    rel = f"{SECTIONS}/{section}.md"
    path = root / rel
    text = path.read_text(encoding="utf-8")
    if "=>" in edit:
        old, new = edit.split("=>")
        assert old in text
        text = text.replace(old, new, 1)
    else:
        text = text.rstrip("\n") + edit + "\n"
    path.write_text(text, encoding="utf-8")
    served = (root / "build" / "paper.html").read_bytes()
    page = fast.try_section({rel}, served)
    assert page is not None, "the fast path gave up: the preview would wait for the build"
    fast.remember(quiet_build(root, PAPER_HTML))
    built = (root / "build" / "paper.html").read_bytes()
    assert page.page == built, f"{section}: the page served before the build differs from the built one"
    assert page.label.startswith("section ") == spliced, f"{section}: spliced {page.label!r}, expected {spliced}"


@pytest.mark.parametrize(
    ("section", "edit", "spliced"),
    [
        ("07-european-union", " A sentence added at the end.", True),
        ("07-european-union", " And a second one, the old lone rendering reused.", True),
        ("07-european-union", " Cited again [@jorbenadze2018belarus, sec. Main theses].", True),
        ("07-european-union", " A work this section did not cite [@levitsky2010competitive].", False),
        ("07-european-union", "\n\n## A heading of its own\n\nIts text.", False),
        ("07-european-union", " A footnote.[^added]\n\n[^added]: Its text.", False),
        ("01-introduction", "Belarus is usually=>Belarus, said the edit, is usually", True),  # links to sections
        ("10-economy-energy", " A sentence after its figure.", True),  # its figure is Figure 2
        ("13-limitations", "\n\n![An unreferenced chart.](timeline.png){#fig:extra}", False),
        ("13-limitations", " Text after a figure nobody cites.", False),  # alone it would be Figure 1 (proof 1)
    ],
)
def test_a_saved_section_is_served_as_the_build_writes_it(
    state: tuple[Path, SectionFastPath], section: str, edit: str, spliced: bool
) -> None:
    """Spliced or rendered whole, the page shown before the build is the page the build writes."""
    _save_and_compare(state, section, edit, spliced)


def test_the_lone_render_has_the_paper_labels(state: tuple[Path, SectionFastPath]) -> None:
    """The spliced introduction's links to other sections read as in the paper, not "??"."""
    root, _fast = state
    page = (root / "build" / "paper.html").read_text(encoding="utf-8")
    intro = re.search(r'<section id="sec:introduction".*?</section>', page, re.S)
    assert intro is not None and "??" not in intro.group(0)
    assert '<a href="#sec:european-union">“The European Union”</a>' in intro.group(0)
