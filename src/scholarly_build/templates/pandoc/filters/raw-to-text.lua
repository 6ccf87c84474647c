-- Runs after citeproc. pandoc's BibTeX reader keeps LaTeX commands it does not
-- know as raw TeX; from an untrusted .bib they must not reach the LaTeX output
-- (or the HTML) as code, so every raw element becomes literal text.
function RawInline(raw)
  return pandoc.Str(raw.text)
end

function RawBlock(raw)
  return pandoc.Para({ pandoc.Str(raw.text) })
end
