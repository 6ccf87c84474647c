-- Tells the LaTeX template whether the document has any math (metadata `has-math`).
-- Runs after citeproc, so math in a formatted reference (a BibTeX title's $...$)
-- counts. Without math the template loads fontspec instead of unicode-math, whose
-- tables and math fonts cost about 0.6 s of every XeLaTeX pass. With biblatex the
-- references are typeset by TeX from the .bib, unseen here: math is assumed.
function Pandoc(doc)
  local found = PANDOC_WRITER_OPTIONS.cite_method == "biblatex"
  if not found then
    doc:walk({
      Math = function(m)
        found = true
        return m
      end,
    })
  end
  if found then
    doc.meta["has-math"] = true
  end
  return doc
end
