-- Marks reconstructed entries in the printed reference list. The assembled
-- Markdown carries, after the `#refs` Div, a Div `.reconstructed-legend` whose
-- `keys` attribute lists every entry whose note says `metadata` is not
-- `complete`, and whose text explains the mark. Run after citeproc, this filter
-- appends " †" to the formatted entry `ref-<key>` of each listed key, drops the
-- `keys` attribute, and removes the legend when no entry was marked (for
-- example with biblatex, where the list is not formatted by pandoc). Working on
-- the document tree, it gives HTML, LaTeX and DOCX the same mark.

local MARK = "†"

local function keys_of(doc)
  local keys = {}
  doc.blocks:walk({
    Div = function(div)
      if div.classes:includes("reconstructed-legend") then
        for key in (div.attributes["keys"] or ""):gmatch("%S+") do
          keys[key] = true
        end
      end
    end,
  })
  return keys
end

local function append_mark(block)
  if block.t == "Para" or block.t == "Plain" then
    block.content:insert(pandoc.Space())
    block.content:insert(pandoc.Str(MARK))
    return true
  end
  return false
end

function Pandoc(doc)
  local keys = keys_of(doc)
  local marked = 0
  doc.blocks = doc.blocks:walk({
    Div = function(div)
      local key = div.identifier:match("^ref%-(.+)$")
      if key and keys[key] and div.classes:includes("csl-entry") then
        -- The formatted entry is the Div's first block (an annotation, if any,
        -- is added after it).
        local first = div.content[1]
        if first and append_mark(first) then
          marked = marked + 1
          return div
        end
      end
    end,
  })
  doc.blocks = doc.blocks:walk({
    Div = function(div)
      if div.classes:includes("reconstructed-legend") then
        if marked == 0 then
          return {}
        end
        div.attributes["keys"] = nil
        return div
      end
    end,
  })
  return doc
end
