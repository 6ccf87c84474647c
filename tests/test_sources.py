"""Quotations and prose checked against the sources' own text (issue 15).

Each planted fault must be caught with the right code and line, and the faithful
versions must pass: the last tests run the check on this repository against the
two compared works' texts in ../shared/seeds/ (skipped where that folder is absent).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from scholarly_build import cli
from scholarly_build.building.pipeline import check_project
from scholarly_build.checks.quotecheck import SourceReport, locator_parts, quote_pattern
from scholarly_build.core.problems import BuildFailed, Problem, Problems
from scholarly_build.inputs.project import load_project
from scholarly_build.inputs.sources import ENV_SOURCES, SourceSpec, load_source, norm_word, words

from .conftest import write_tree

REPO = Path(__file__).resolve().parents[1]
# The seeds beside the checkout, or where SCHOLARLY_BUILD_SEEDS says (.ci/run sets it for a clone).
SEEDS = Path(os.environ.get("SCHOLARLY_BUILD_SEEDS") or REPO.parent / "shared" / "seeds")
CODES = {"quote-mismatch", "quote-locator-mismatch", "uncredited-overlap", "missing-source"}

# The text of alpha2018: numbered sections, footnote markers and texts, a line-end
# hyphenation, a ligature and curly apostrophes, as text extraction leaves them.
ALPHA = """\
1. Introduction
The regime rests on a bargain between the ruler and a passive majority that values order over partici-
pation. Its stability owes more to the responsibility it shares with a loyal bureaucracy than to
coercion alone.1 The ruler’s ﬁnal word settles every dispute among the clans of the capital.
2. Legitimacy
2.1. Elections
Elections are held on time, but they serve to display loyalty rather than to choose who governs.2
Turnout is announced before the polls close, and nobody in the provinces expects a recount.
2.2. Performance
Growth paid for pensions and wages until the subsidies from the eastern neighbour dried up.3

1 Ann Smith, Regimes of Order (London: Example Press, 2001), 12.
2 Bob Jones, Voting Without Choice (Paris: Example Press, 2004), 44.
3 Cid Roe, Subsidies (Berlin: Example Press, 2010), 9.
"""

# The text of beta2016, about something else.
BETA = """\
# Foreign policy

Foreign policy looks in several directions at once, yet every road still leads back to Moscow
when the bills fall due. The western partners are courted in public and kept at a distance in
private, because their money always comes with conditions attached.
"""

SETTINGS = """\
title: "Sources"
works:
  - key: alpha2018
    label: "Alpha (2018)"
  - key: beta2016
    label: "Beta (2016)"
themes:
  - id: regime
    label: "Regime type"
sections:
  - intro.md
annotation_min_words: 5
annotation_max_words: 400
sources_dir: ../texts
sources:
  alpha2018: alpha.txt
  beta2016: {file: beta.md}
"""

BIB = """\
@book{alpha2018,
  author    = {Alpha, Ann},
  title     = {Regimes Compared},
  publisher = {Institute},
  date      = {2018},
}

@book{beta2016,
  author    = {Beta, Ben},
  title     = {Many Vectors},
  publisher = {University},
  date      = {2016},
}
"""

BODY = "An annotation, in the annotator's own words, of more than five words."
INTRO = "# Intro\n\nAlpha and Beta are compared [@alpha2018; @beta2016].\n"


def note(key: str, quotations: str = "", body: str = BODY) -> str:
    extra = f"quotations:\n{quotations}" if quotations else ""
    return f'---\nkey: {key}\nmetadata: complete\nthemes: [regime]\nsummary: "S."\nuses: {{}}\n{extra}---\n{body}\n'


def quotation(text: str, locator: str = "sec. 1") -> str:
    return f'  - text: "{text}"\n    locator: "{locator}"\n'


def make(
    tmp_path: Path,
    *,
    alpha_quotes: str = "",
    intro: str = INTRO,
    settings: str = SETTINGS,
    alpha_body: str = BODY,
    texts: dict[str, str | bytes] | None = None,
) -> Path:
    root = tmp_path / "project"
    write_tree(
        root,
        {
            "manuscript/paper.yaml": settings,
            "manuscript/sections/intro.md": intro,
            "bib/references.bib": BIB,
            "bib/notes/alpha2018.md": note("alpha2018", alpha_quotes, alpha_body),
            "bib/notes/beta2016.md": note("beta2016"),
        },
    )
    write_tree(tmp_path / "texts", texts if texts is not None else {"alpha.txt": ALPHA, "beta.md": BETA})
    return root


def check(root: Path, sources_dir: str | None = None) -> tuple[list[Problem], SourceReport]:
    problems = Problems(root)
    inputs = check_project(load_project(root), problems, sources_dir)
    assert inputs.sources is not None
    return [p for p in problems if p.code in CODES], inputs.sources


def found(problems: list[Problem]) -> list[tuple[str, str, int]]:
    return [(p.code, p.file, p.line) for p in problems]


NOTE = "bib/notes/alpha2018.md"
QUOTE_LINE = 8  # the first quotation's `- text:` line in the note


# --- faithful quotations pass -------------------------------------------------------


def test_faithful_quotations_verify_and_their_locators_are_confirmed(tmp_path: Path) -> None:
    """Hyphenation, ligatures, quotes, ellipses and bracketed insertions are not differences."""
    quotes = (
        quotation("a passive majority that values order over participation", "sec. 1")
        + quotation("The ruler's final word settles every dispute", "sec. 1, n. 1")
        + quotation("they serve to display loyalty … who governs", "sec. 2.1")
        + quotation("[t]urnout is announced before the polls close", "sec. 2")
        + quotation("Growth paid for [state] pensions and wages", "n. 3")
    )
    problems, report = check(make(tmp_path, alpha_quotes=quotes))
    assert found(problems) == []
    assert report.verified == {"alpha2018": 5}
    assert report.located == 5
    assert "5 of 5 quotation(s) verified against alpha2018 (alpha.txt): 5" in report.line()


# --- planted faults -------------------------------------------------------------------------


def test_a_changed_word_is_a_quote_mismatch_whose_hint_shows_the_source(tmp_path: Path) -> None:
    quotes = quotation("owes more to the responsibly it shares with a loyal bureaucracy")
    problems, _ = check(make(tmp_path, alpha_quotes=quotes))
    assert found(problems) == [("quote-mismatch", NOTE, QUOTE_LINE)]
    p = problems[0]
    assert p.severity == "error"
    assert "alpha.txt line 3" in (p.hint or "") and "sec. 1" in (p.hint or "")
    assert "“responsibly” where the source has “responsibility”" in (p.hint or "")


def test_a_dropped_word_is_a_quote_mismatch(tmp_path: Path) -> None:
    quotes = quotation("Turnout is announced before polls close", "sec. 2.1")
    problems, _ = check(make(tmp_path, alpha_quotes=quotes))
    assert found(problems) == [("quote-mismatch", NOTE, QUOTE_LINE)]
    assert "the source has “the”, which the quotation drops" in (problems[0].hint or "")


def test_a_quotation_from_the_wrong_work_is_named(tmp_path: Path) -> None:
    quotes = quotation("every road still leads back to Moscow")
    problems, _ = check(make(tmp_path, alpha_quotes=quotes))
    assert found(problems) == [("quote-mismatch", NOTE, QUOTE_LINE)]
    assert "it is in the text of beta2016" in problems[0].message
    assert "beta.md line 3" in (problems[0].hint or "")


def test_a_wrong_section_or_footnote_is_a_locator_warning(tmp_path: Path) -> None:
    quotes = quotation("they serve to display loyalty", "sec. 2.2") + quotation(
        "Growth paid for pensions and wages", "n. 1"
    )
    problems, report = check(make(tmp_path, alpha_quotes=quotes))
    assert found(problems) == [
        ("quote-locator-mismatch", NOTE, QUOTE_LINE),
        ("quote-locator-mismatch", NOTE, QUOTE_LINE + 2),
    ]
    assert all(p.severity == "warning" for p in problems)
    assert "sec. 2.1" in problems[0].message and "before n. 3" in problems[1].message
    assert report.verified == {"alpha2018": 2}


def test_a_quotation_interrupted_by_a_footnote_block_verifies(tmp_path: Path) -> None:
    text = ALPHA.replace(
        "Turnout is announced before the polls close, and nobody",
        "Turnout is announced before the polls close, and\n2 Bob Jones, Voting (Paris, 2004), 44.\n nobody",
    ).replace("2 Bob Jones, Voting Without Choice (Paris: Example Press, 2004), 44.\n", "")
    quotes = quotation("before the polls close, and nobody in the provinces expects a recount", "sec. 2.1")
    problems, report = check(make(tmp_path, alpha_quotes=quotes, texts={"alpha.txt": text, "beta.md": BETA}))
    assert (found(problems), report.verified, report.located) == ([], {"alpha2018": 1}, 1)


def test_a_locator_the_text_cannot_show_is_left_unjudged(tmp_path: Path) -> None:
    """No heading 4, no page breaks in a .txt: no finding, and the locator is not counted as confirmed."""
    quotes = quotation("they serve to display loyalty", "sec. 4") + quotation("Turnout is announced", "p. 7")
    problems, report = check(make(tmp_path, alpha_quotes=quotes))
    assert found(problems) == []
    assert (report.verified, report.located) == ({"alpha2018": 2}, 0)


def test_a_copied_run_in_a_section_is_uncredited_overlap_and_quoted_it_is_not(tmp_path: Path) -> None:
    run = "serve to display loyalty rather than to choose who governs"
    intro = (
        "# Intro\n\n"
        "Alpha compares regimes [@alpha2018].\n\n"
        f"In both countries elections {run}, as Alpha shows [@alpha2018, sec. 2.1].\n\n"
        f"Alpha writes that elections “{run}” [@alpha2018, sec. 2.1].\n"
    )
    problems, report = check(make(tmp_path, intro=intro))
    assert found(problems) == [("uncredited-overlap", "manuscript/sections/intro.md", 5)]
    p = problems[0]
    assert p.severity == "warning" and p.column == 29
    assert "10 words shared with the text of alpha2018 (alpha.txt line 7, sec. 2.1" in p.message
    assert report.verified == {"alpha2018": 1}  # the quoted run, checked against the text


def test_overlap_severity_and_length_are_settings(tmp_path: Path) -> None:
    intro = "# Intro\n\nThe regime rests on a bargain with the army [@alpha2018].\n"
    settings = SETTINGS + "overlap_severity: error\noverlap_words: 6\n"
    problems, _ = check(make(tmp_path, intro=intro, settings=settings))
    assert [(p.code, p.severity, p.line) for p in problems] == [("uncredited-overlap", "error", 3)]
    problems, _ = check(make(tmp_path / "eight", intro=intro))
    assert problems == []  # 6 shared words: under the default of 8


def test_overlap_in_a_notes_prose_and_runs_of_names_and_titles(tmp_path: Path) -> None:
    body = (
        "A note in its own words.\n\n"
        "It says that turnout is announced before the polls close, and nobody in the provinces minds.\n"
        "It cites Ann Smith, Regimes of Order (London: Example Press, 2001) as its model.\n"
    )
    problems, _ = check(make(tmp_path, alpha_body=body))
    assert found(problems) == [("uncredited-overlap", NOTE, 10)]


def test_a_misquoted_span_in_the_manuscript_is_caught_at_its_line_and_column(tmp_path: Path) -> None:
    intro = (
        "# Intro\n\n"
        "Alpha compares regimes [@alpha2018].\n"
        "Its growth, Alpha says, “paid for pensions and salaries” [@alpha2018, sec. 2.2].\n"
    )
    problems, _ = check(make(tmp_path, intro=intro))
    assert found(problems) == [("quote-mismatch", "manuscript/sections/intro.md", 4)]
    assert problems[0].column == 25
    assert "“salaries” where the source has “wages”" in (problems[0].hint or "")


def test_a_quotation_cited_also_to_a_work_without_text_is_only_a_warning_when_far(tmp_path: Path) -> None:
    """[@gamma; @alpha]: a quotation found nowhere near Alpha's text may be Gamma's own words."""
    intro = (
        "# Intro\n\nAlpha compares regimes [@alpha2018; @beta2016].\n"
        "Gamma calls it “a house of cards built on sand” [@gamma1999, p. 3; @alpha2018, sec. 1].\n"
    )
    problems, _ = check(make(tmp_path, intro=intro))
    assert [(p.code, p.severity, p.line) for p in problems] == [("quote-mismatch", "warning", 4)]
    assert "gamma1999" in problems[0].message


# --- PDF sources: pages ----------------------------------------------------------------------

PAGES = [
    "The first page speaks of the weather in the capital during the long winter.",
    "The second page describes the harvest and the prices of bread in the markets, and ends with a sentence that",
    "continues on the third page. The third page claims that the ruler fears the crowd more than any foreign army.",
]


@pytest.fixture(scope="module")
def three_page_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PDF with one known sentence on each of its three pages, made with xelatex."""
    if shutil.which("xelatex") is None or shutil.which("pdftotext") is None:
        pytest.skip("xelatex and pdftotext are needed to make and read a PDF source")
    folder = tmp_path_factory.mktemp("pdf")
    body = "\n\\newpage\n".join(PAGES)
    (folder / "gamma.tex").write_text(
        "\\documentclass{article}\n\\pagestyle{myheadings}\n\\markright{Journal of Running Heads}\n"
        "\\begin{document}\n\\noindent " + body.replace("\\newpage\n", "\\newpage\n\\noindent ") + "\n\\end{document}\n"
    )
    subprocess.run(
        ["xelatex", "-interaction=batchmode", "-halt-on-error", "gamma.tex"],
        cwd=folder,
        capture_output=True,
        check=True,
        timeout=120,
    )
    return folder / "gamma.pdf"


@pytest.mark.parametrize(
    ("locator", "offset", "codes"),
    [
        ("p. 3", 0, []),
        ("pp. 2-3", 0, []),
        ("p. 2", 0, ["quote-locator-mismatch"]),
        ("p. 1", 2, []),  # two unnumbered pages before printed page 1
        ("p. 3", 2, ["quote-locator-mismatch"]),
    ],
)
def test_a_pdf_quotation_on_another_page_is_a_locator_warning(
    tmp_path: Path, three_page_pdf: Path, locator: str, offset: int, codes: list[str]
) -> None:
    settings = SETTINGS.replace("alpha2018: alpha.txt", f"alpha2018: {{file: alpha.pdf, page_offset: {offset}}}")
    root = make(
        tmp_path,
        alpha_quotes=quotation("the ruler fears the crowd more than any foreign army", locator),
        settings=settings,
        texts={"alpha.pdf": three_page_pdf.read_bytes(), "beta.md": BETA},
    )
    problems, report = check(root)
    assert [p.code for p in problems] == codes
    assert report.verified == {"alpha2018": 1}
    if codes:
        assert f"p. {3 - offset}" in problems[0].message
        assert [p.line for p in problems] == [QUOTE_LINE]


# --- settings, folders and the cache ----------------------------------------------------------


def test_a_quotation_across_a_page_break_skips_the_running_head_and_page_number(
    tmp_path: Path, three_page_pdf: Path
) -> None:
    settings = SETTINGS.replace("alpha2018: alpha.txt", "alpha2018: alpha.pdf")
    quote = quotation("ends with a sentence that continues on the third page", "pp. 2-3")
    texts: dict[str, str | bytes] = {"alpha.pdf": three_page_pdf.read_bytes(), "beta.md": BETA}
    problems, report = check(make(tmp_path, alpha_quotes=quote, settings=settings, texts=texts))
    assert (problems, report.verified, report.located) == ([], {"alpha2018": 1}, 1)


def test_a_missing_source_is_a_warning_and_the_report_says_so(tmp_path: Path) -> None:
    root = make(tmp_path, alpha_quotes=quotation("not in any text at all, surely"), texts={"beta.md": BETA})
    problems, report = check(root)
    assert [(p.code, p.severity, p.file) for p in problems] == [("missing-source", "warning", "manuscript/paper.yaml")]
    assert report.missing == ["alpha2018"]
    assert "not checked, text missing: alpha2018" in report.line()


def test_the_sources_folder_comes_from_the_option_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make(tmp_path, texts={})
    elsewhere = write_tree(tmp_path / "elsewhere", {"alpha.txt": ALPHA, "beta.md": BETA})
    problems, _ = check(root)
    assert len(problems) == 2  # neither text is in ../texts
    monkeypatch.setenv(ENV_SOURCES, str(elsewhere))
    assert check(root)[0] == []
    monkeypatch.setenv(ENV_SOURCES, str(tmp_path / "nowhere"))
    assert check(root, str(elsewhere))[0] == []  # --sources wins


def test_cli_summary_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make(tmp_path, alpha_quotes=quotation("a passive majority"))
    assert cli.main(["--root", str(root), "check"]) == 0
    out = capsys.readouterr().out
    assert "1 of 1 quotation(s) verified against alpha2018 (alpha.txt): 1" in out
    assert cli.main(["--root", str(root), "check", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["quotations_verified"] == 1


def test_bad_source_settings_are_reported_at_their_line(tmp_path: Path) -> None:
    settings = SETTINGS.replace(
        "  beta2016: {file: beta.md}\n", "  beta2016: {file: beta.md}\n  gamma1999: notes.docx\n"
    )
    with pytest.raises(BuildFailed) as exc:
        load_project(make(tmp_path, settings=settings + "overlap_words: two\n"))
    assert [(p.code, p.line) for p in exc.value.problems] == [("settings", 18), ("settings", 19)]


def test_the_index_is_cached_as_json_by_content_hash(tmp_path: Path) -> None:
    path = write_tree(tmp_path, {"alpha.txt": ALPHA}) / "alpha.txt"
    cache = tmp_path / "cache"
    first = load_source(SourceSpec("alpha2018", "alpha.txt", 0, 1), path, cache, 8)
    files = list(cache.glob("source-*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["tokens"] == first.tokens
    again = load_source(SourceSpec("alpha2018", "alpha.txt", 0, 1), path, cache, 8)
    assert again.tokens == first.tokens and again.markers == first.markers == {
        1: again.markers[1],
        2: again.markers[2],
        3: again.markers[3],
    }
    path.write_text(ALPHA + "More.\n")
    load_source(SourceSpec("alpha2018", "alpha.txt", 0, 1), path, cache, 8)
    assert len(list(cache.glob("source-*.json"))) == 2


def test_normalisation_and_locator_parsing() -> None:
    assert (
        norm_word("ﬁnal") == "final"
        and norm_word("Ruler’s") == "ruler's"
        and norm_word("neo-\ncommunist") == "neocommunist"
    )
    assert [w for w, _, _ in words("regime—and Belarus–Russia partici\u00adpation")] == [
        "regime",
        "and",
        "belarusrussia",
        "participation",
    ]
    assert locator_parts("sec. Neo-communism, patrimonialism, sultanism, sec. Legitimacy") == [
        ("sec", "Neo-communism, patrimonialism, sultanism"),
        ("sec", "Legitimacy"),
    ]
    assert locator_parts("p. 30, nn. 56-57") == [("p", "30"), ("n", "56-57")]
    pattern, own = quote_pattern("[t]he ruler […] fears")
    assert own == ["the", "ruler", "fears"] and pattern is not None


# --- this repository -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def repository() -> tuple[list[Problem], SourceReport]:
    if not SEEDS.is_dir():
        pytest.skip(f"{SEEDS} is absent (only the authors' checkout has the source texts)")
    problems = Problems(REPO)
    inputs = check_project(load_project(REPO), problems, str(SEEDS))
    assert inputs.sources is not None
    return [p for p in problems if p.code in CODES], inputs.sources


def test_every_quotation_in_this_repository_verifies(repository: tuple[list[Problem], SourceReport]) -> None:
    problems, report = repository
    assert [p.format() for p in problems if p.code != "uncredited-overlap"] == []
    assert report.missing == []
    assert report.quotations == sum(report.verified.values()) >= 64  # 64 when this was written
    assert set(report.verified) == {"jorbenadze2018belarus", "behrends2016belarus"}


def test_no_prose_in_this_repository_copies_a_source(repository: tuple[list[Problem], SourceReport]) -> None:
    problems, report = repository
    assert [p.format() for p in problems if p.code == "uncredited-overlap"] == []
    assert report.prose_files > 60


def test_a_sentence_copied_from_a_seed_is_caught(tmp_path: Path) -> None:
    """What tests/test_prose_overlap.py guarded, now through `check`: a seed's words in a section."""
    if not SEEDS.is_dir():
        pytest.skip(f"{SEEDS} is absent")
    root = tmp_path / "repo"
    shutil.copytree(REPO / "manuscript", root / "manuscript")
    shutil.copytree(REPO / "bib", root / "bib")
    seed = (SEEDS / "000_43a9581147c6d6ec.txt").read_text(encoding="utf-8")
    copied = " ".join(seed.split()[200:215])
    section = root / "manuscript" / "sections" / "13-limitations.md"
    lines = section.read_text(encoding="utf-8").splitlines()
    section.write_text("\n".join([*lines, "", copied, "", f"As the paper puts it, “{copied}”.", ""]), encoding="utf-8")
    problems = Problems(root)
    check_project(load_project(root), problems, str(SEEDS))
    hits = [(p.code, p.severity, p.file, p.line) for p in problems if p.code in CODES]
    assert hits == [("uncredited-overlap", "error", "manuscript/sections/13-limitations.md", len(lines) + 2)]


def test_a_source_for_a_key_that_is_not_in_the_bibliography_is_a_warning(tmp_path: Path) -> None:
    settings = SETTINGS.replace("  beta2016: {file: beta.md}\n", "  beta2016: {file: beta.md}\n  gama1999: beta.md\n")
    problems, _ = check(make(tmp_path, settings=settings))
    assert [(p.code, p.line, p.key) for p in problems] == [("missing-source", 18, "gama1999")]
    assert "not an entry of the bibliography" in problems[0].message


def test_an_unreadable_source_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    settings = SETTINGS.replace("alpha2018: alpha.txt", "alpha2018: alpha.pdf")
    texts: dict[str, str | bytes] = {"alpha.pdf": b"%PDF-1.4 not really", "beta.md": b"\xff\xfe latin-1 \xe9"}
    problems, report = check(make(tmp_path, settings=settings, texts=texts))
    assert [(p.code, p.severity, p.line) for p in problems] == [
        ("missing-source", "warning", 16),
        ("missing-source", "warning", 17),
    ]
    assert all("could not be read" in p.message for p in problems)
    assert report.missing == ["alpha2018", "beta2016"]


@pytest.mark.parametrize("odd", ["[", "]", "…", "[…]", "(a|b)*", "\\d+ $^", "“”", "' '", "a [b", "x … … y", ""])
def test_odd_quotations_never_crash(tmp_path: Path, odd: str) -> None:
    pattern, own = quote_pattern(odd)
    assert (pattern is None) == (own == [])
    problems, _ = check(make(tmp_path, alpha_quotes=quotation(odd.replace('"', "'").replace("\\", "/"))))
    assert all(p.code == "quote-mismatch" for p in problems)


def test_markdown_sources_have_numbered_and_named_headings(tmp_path: Path) -> None:
    text = (
        "# Foreign policy\n\nEvery road leads back to Moscow in the end.\n\n"
        "## 2.1 The West\n\nMoney comes with conditions.\n"
    )
    quotes = quotation("Every road leads back to Moscow", "sec. Foreign policy") + quotation(
        "Money comes with conditions", "sec. Foreign policy"
    )
    problems, report = check(make(tmp_path, alpha_quotes=quotes, texts={"alpha.txt": text, "beta.md": BETA}))
    assert [(p.code, p.line) for p in problems] == [("quote-locator-mismatch", QUOTE_LINE + 2)]
    assert "sec. 2.1" in problems[0].message and report.located == 1


def test_a_quotation_belongs_to_the_citation_in_its_own_sentence(tmp_path: Path) -> None:
    intro = (
        "# Intro\n\n"
        "Alpha compares regimes [@alpha2018].\n\n"
        "Some call it “a house of cards”. Alpha disagrees [@alpha2018, sec. 1].\n\n"
        "@alpha2018 [sec. 2.1] finds that elections “serve to display loyalty”.\n\n"
        "@alpha2018 [sec. 2.1] finds that elections “serve to display devotion”.\n"
    )
    problems, report = check(make(tmp_path, intro=intro))
    assert found(problems) == [("quote-mismatch", "manuscript/sections/intro.md", 9)]
    assert report.verified == {"alpha2018": 1}


@pytest.mark.parametrize(("copied", "codes"), [(7, []), (8, ["uncredited-overlap"])])
def test_eight_words_are_a_run_and_seven_are_not(tmp_path: Path, copied: int, codes: list[str]) -> None:
    run = " ".join("Growth paid for pensions and wages until the subsidies".split()[:copied])
    intro = f"# Intro\n\nAlpha compares regimes [@alpha2018].\nHere {run} zebra quokka.\n"
    problems, _ = check(make(tmp_path, intro=intro))
    assert [(p.code, p.line, p.column) for p in problems] == [(c, 4, 6) for c in codes]
