-- The CSL "annotated" styles print only the CSL `note` variable, and pandoc maps
-- BibTeX `annote` to `annote`, which they drop. So the assembled bibliography
-- carries each annotation in a Div `.annotation` with `data-key`, and this
-- filter, run after citeproc, moves it under the entry `ref-<key>`.

function Pandoc(doc)
  local annotations = {}
  doc.blocks = doc.blocks:walk({
    Div = function(div)
      if div.classes:includes("annotations") then
        div:walk({ Div = function(inner)
          if inner.classes:includes("annotation") then
            annotations[inner.attributes["key"]] = inner
          end
        end })
        return {}
      end
    end,
  })
  return doc:walk({
    Div = function(div)
      local key = div.identifier:match("^ref%-(.+)$")
      if key and annotations[key] then
        local note = annotations[key]
        note.attributes["key"] = nil
        if FORMAT:match("latex") then
          -- The writer ignores Div classes; these environments are defined in our template.
          note.content = note.content:walk({ Div = function(inner)
            if inner.classes:includes("provenance") then
              local blocks = pandoc.Blocks({ pandoc.RawBlock("latex", "\\begin{provenance}") })
              blocks:extend(inner.content)
              blocks:insert(pandoc.RawBlock("latex", "\\end{provenance}"))
              return blocks
            end
          end })
          div.content:insert(pandoc.RawBlock("latex", "\\begin{annotation}"))
          div.content:extend(note.content)
          div.content:insert(pandoc.RawBlock("latex", "\\end{annotation}"))
        else
          if FORMAT:match("html") then
            -- The HTML writer prints every paragraph inside a csl-entry as bare text,
            -- so an annotation's paragraphs would run together: mark each break.
            local blocks = pandoc.Blocks({})
            for i, block in ipairs(note.content) do
              if i > 1 then
                blocks:insert(pandoc.RawBlock("html", '<span class="annotation-break"></span>'))
              end
              blocks:insert(block)
            end
            note.content = blocks
          end
          div.content:insert(note)
        end
        return div
      end
    end,
  })
end
