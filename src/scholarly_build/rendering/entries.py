"""A rebuild after one note's annotation changed: that entry rendered alone and spliced into the last render.

A full render of the annotated bibliography reads every note and formats every
reference; after a one-note edit almost all of it would come out the same. So the
HTML and LaTeX jobs of that document keep, outside the project (in the job's
``aux_dir``, which a pull request cannot write), the Markdown they last rendered
and what pandoc made of it. When the only declared input that changed is the
assembled Markdown, and in it only one annotation block, the entry is rendered
twice alone, as it was and as it is (same job, ``nocite`` reduced to that key),
and the new rendering replaces the old entry in the kept output.

The spliced output must be byte-identical to a full render, so the splice is used
only when the two lone renderings prove that nothing outside the entry depends on
it: the old lone entry equals the old full entry (its formatting did not depend on
its neighbours: a repeated author's dash, a year suffix), the two lone renderings
are identical outside the entry (no footnote list, table of contents or preamble
changed), and the new entry holds no citation, identifier or link within the
document (the document-wide state left: citeproc's, the identifiers' namespace and
cross-reference numbers). Anything else returns None, and the job renders in full.
This module never writes outside ``aux_dir`` and the work folder it is given.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import yaml

from scholarly_build.core.problems import BuildFailed
from scholarly_build.rendering import htmlsplice

if TYPE_CHECKING:  # render.py calls this module: the job type only, at run time nothing from there
    from scholarly_build.rendering.render import RenderJob

Render = Callable[["RenderJob"], list[tuple[Path, Path]]]
SPLICED = "entry-spliced.txt"  # in the work folder: the key of the entry spliced by the last render

_OPEN = re.compile(r'(?m)^(:{3,})\s*\{\.annotation key="([^"]*)"\}[ \t]*$')
_FENCE = re.compile(r"(?m)^(:{3,})(.*)$")
KEPT = "last-render.json"  # in the job's aux_dir: what the job last rendered, and from what
_MAX_KEPT_BYTES = 64 * 1024 * 1024
# In a lone entry, what would make it depend on the rest of the document: a citation, an
# identifier (unique document-wide), a link within the document (a cross-reference is
# numbered from the whole of it: alone, "@fig:x" would read "??").
_CONTEXT = {
    "latex": re.compile(r"\\(?:citeproc|cite|hypertarget|label|hyperlink|hyperref|ref|pageref|autoref)[\[{]"),
    "html": re.compile(r'class="citation"|\sid="|href="#'),
}


def annotation_blocks(markdown: str) -> list[tuple[str, int, int]]:
    """Each annotation Div of the assembled bibliography: (key, start, end), ``end`` past its closing line.

    Fences are counted (an opening line has text after the colons, a closing one has
    none): the template escapes fence-like lines of a note's body, so only its own
    Divs open and close here.
    """
    blocks = []
    for match in _OPEN.finditer(markdown):
        depth = 0
        for fence in _FENCE.finditer(markdown, match.start()):
            depth += 1 if fence.group(2).strip() else -1
            if depth == 0:
                end = fence.end() + 1 if fence.end() < len(markdown) else fence.end()
                blocks.append((match.group(2), match.start(), end))
                break
    return blocks


def fragment_markdown(markdown: str, key: str) -> tuple[str, str, str] | None:
    """Split the assembled bibliography around ``key``'s annotation.

    Returns (the document with that annotation only, every other annotation's text
    around it, the annotation itself), or None when the blocks are not one unbroken,
    non-nested run with exactly one for ``key``.
    """
    blocks = annotation_blocks(markdown)
    mine = [b for b in blocks if b[0] == key]
    pairs = itertools.pairwise(blocks)  # each block and the next
    if len(mine) != 1 or any(b[2] > c[1] or markdown[b[2] : c[1]].strip() for b, c in pairs):
        return None
    _key, start, end = mine[0]
    first, last = blocks[0][1], blocks[-1][2]
    document = markdown[:first] + markdown[start:end] + markdown[last:]
    return document, markdown[:start] + "\0" + markdown[end:], markdown[start:end]


def changed_key(before: str, now: str) -> str | None:
    """The one key whose annotation block differs between two assembled bibliographies, or None."""
    old = {k: before[s:e] for k, s, e in annotation_blocks(before)}
    new = {k: now[s:e] for k, s, e in annotation_blocks(now)}
    if old.keys() != new.keys():
        return None
    changed = [k for k in new if old[k] != new[k]]
    if len(changed) != 1:
        return None
    key = changed[0]
    split_before, split_now = fragment_markdown(before, key), fragment_markdown(now, key)
    if split_before is None or split_now is None or split_before[1] != split_now[1]:
        return None
    return key


def entry_span(text: str, fmt: str, key: str) -> tuple[int, int] | None:
    """Where the entry ``ref-KEY`` is in a rendering: its element (HTML) or its ``\\bibitem`` lines (LaTeX)."""
    if fmt == "html":
        return htmlsplice.element_span(text, f"ref-{key}")
    head = f"\\bibitem[\\citeproctext]{{ref-{key}}}\n"
    starts = [m.start() for m in re.finditer(re.escape(head), text)]
    if len(starts) != 1 or (starts[0] > 0 and text[starts[0] - 1] != "\n"):
        return None
    ends = [text.find(mark, starts[0] + len(head)) for mark in ("\n\\bibitem[", "\n\\end{CSLReferences}")]
    found = [e for e in ends if e >= 0]
    return (starts[0], min(found) + 1) if found else None


@dataclasses.dataclass(frozen=True)
class Kept:
    """What a job last rendered: its declared context, its digest, the Markdown and pandoc's output.

    After a splice also the entry rendered alone (the lone document's Markdown and output,
    made with ``digest``): when the same note is edited again, it is the "as it was"
    rendering, and only the new one needs pandoc.
    """

    context: str
    digest: str
    markdown: str
    output: str
    lone_markdown: str = ""
    lone_output: str = ""


class Spliced(NamedTuple):
    """A splice's result: pandoc's output for the job, the entry's key, and its lone rendering to keep."""

    text: str
    key: str
    lone_markdown: str
    lone_output: str


def _kept_path(job: RenderJob) -> Path | None:
    return job.aux_dir / KEPT if job.aux_dir is not None and job.context else None


def load_kept(job: RenderJob) -> Kept | None:
    """The job's last rendering, if it was made in the same context (every input but the Markdown)."""
    path = _kept_path(job)
    try:
        if path is None or path.is_symlink() or not path.is_file() or path.stat().st_size > _MAX_KEPT_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        kept = Kept(**{f.name: str(data[f.name]) for f in dataclasses.fields(Kept)})
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return kept if kept.context == job.context else None


def keep(job: RenderJob, output: str, lone: tuple[str, str] = ("", "")) -> None:
    """Remember this rendering (and ``lone``: a spliced entry's lone Markdown and output) for the next build.

    Best effort: it only saves time.
    """
    path = _kept_path(job)
    if path is None:
        return
    try:
        record = Kept(job.context, job.digest, job.markdown.read_text(encoding="utf-8"), output, *lone)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(record)), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 0.03 s less per load
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def job_metadata(job: RenderJob) -> dict[str, object] | None:
    """The job's metadata file as a mapping (None: not one)."""
    meta = yaml.load(job.metadata.read_text(encoding="utf-8"), Loader=_LOADER)  # noqa: S506 - a safe loader
    return meta if isinstance(meta, dict) else None


def dump_metadata(meta: dict[str, object]) -> str:
    """``meta`` as a metadata file for a lone rendering."""
    return str(yaml.dump(meta, Dumper=_DUMPER, allow_unicode=True, sort_keys=True, width=1000))


def lone_metadata(job: RenderJob, key: str) -> str | None:
    """The job's metadata with ``nocite`` reduced to ``key`` (None: the document does not list it)."""
    meta = job_metadata(job)
    if meta is None or f"@{key}" not in str(meta.get("nocite", "")).replace(",", " ").split():
        return None
    meta["nocite"] = f"@{key}"
    return dump_metadata(meta)


def _lone(job: RenderJob, render: Render, metadata: str, markdown: str, digest: str, folder: str) -> str | None:
    """The job's rendering of ``markdown`` (one annotation) with ``metadata``, in a folder of its own."""
    work = job.work_dir.parent / f"{job.work_dir.name}-entry" / folder
    work.mkdir(parents=True, exist_ok=True)
    (work / "page.md").write_text(markdown, encoding="utf-8")
    (work / "page.meta.yaml").write_text(metadata, encoding="utf-8")
    suffix = ".tex" if job.fmt == "latex" else ".html"
    lone = dataclasses.replace(
        job,
        markdown=work / "page.md",
        metadata=work / "page.meta.yaml",
        outputs=(work / "out" / f"page{suffix}",),
        work_dir=work / "render",
        digest=digest,
        make_pdf=False,
        aux_dir=None,
        entries=False,
        shared=None,  # an entry alone: a second pandoc process would cost more than citeproc saves
    )
    try:
        [(rendered, _dest)] = render(lone)
        return rendered.read_text(encoding="utf-8")
    except (BuildFailed, OSError, UnicodeDecodeError):
        return None


def spliced_output(job: RenderJob, render: Render) -> Spliced | None:
    """pandoc's output for ``job``, made by splicing one lone entry (rendered by ``render``) into the kept
    rendering; None: render in full."""
    if job.fmt not in _CONTEXT or job.citations != "citeproc":
        return None
    kept = load_kept(job)
    if kept is None:
        return None
    now = job.markdown.read_text(encoding="utf-8")
    key = changed_key(kept.markdown, now)
    if key is None:
        return None
    old_doc, new_doc = fragment_markdown(kept.markdown, key), fragment_markdown(now, key)
    metadata = lone_metadata(job, key)
    if old_doc is None or new_doc is None or metadata is None:
        return None  # (changed_key has split both documents)
    # The same note edited again: its last lone rendering is the one "as it was".
    again = kept.lone_output if kept.lone_output and kept.lone_markdown == old_doc[0] else None
    with ThreadPoolExecutor(max_workers=2) as pool:  # two pandoc processes: one per core
        old_f = None if again else pool.submit(_lone, job, render, metadata, old_doc[0], kept.digest, "before")
        new_f = pool.submit(_lone, job, render, metadata, new_doc[0], job.digest, "now")
        old_lone, new_lone = again or (old_f.result() if old_f else None), new_f.result()
    if old_lone is None or new_lone is None:
        return None
    spliced = _splice(job.fmt, key, kept, old_lone, new_lone, job.digest)
    return Spliced(spliced, key, new_doc[0], new_lone) if spliced is not None else None


def _splice(fmt: str, key: str, kept: Kept, old_lone: str, new_lone: str, digest: str) -> str | None:
    """The kept output with the new lone entry in place of the old one, if the lone renderings vouch for it."""
    full, old_span, new_span = entry_span(kept.output, fmt, key), entry_span(old_lone, fmt, key), entry_span(
        new_lone, fmt, key
    )
    if full is None or old_span is None or new_span is None:
        return None
    old_entry, new_entry = old_lone[slice(*old_span)], new_lone[slice(*new_span)]
    if kept.output[slice(*full)] != old_entry:
        return None  # the entry read differently among its neighbours
    body = new_entry.split(">", 1)[1] if fmt == "html" else new_entry.split("\n", 1)[1]
    if _CONTEXT[fmt].search(body):
        return None  # a citation or an identifier: their form depends on the rest of the document
    # The job's digest (LaTeX: the PDF's trailer ID) is the only other thing that differs.
    before, after = kept.digest[:32], digest[:32]
    outside_old = (old_lone[: old_span[0]] + "\0" + old_lone[old_span[1] :]).replace(before, after)
    outside_new = new_lone[: new_span[0]] + "\0" + new_lone[new_span[1] :]
    if outside_old != outside_new or kept.output.count(before) != old_lone.count(before):
        return None
    spliced = kept.output[: full[0]] + new_entry + kept.output[full[1] :]
    return spliced.replace(before, after)
