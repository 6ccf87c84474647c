-- The CSL "annotated" styles print only the CSL `note` variable, and pandoc maps
-- BibTeX `annote` to `annote`, which they drop. So the assembled bibliography
-- carries each annotation in a Div `.annotation` with `data-key`, and this
-- filter, run after citeproc, moves it under the entry `ref-<key>`.

-- A short label for an entry, "Family Year", read from the formatted entry:
-- the text before its first comma or full stop, and its first year (or n.d.).
local function entry_label(div)
  local text = pandoc.utils.stringify(div.content):gsub("%s+", " ")
  local name = text:match("^([^,.]+)") or text
  -- With the style's disambiguating letter: 2016a, n.d.b.
  local at_year, _, year = text:find("%f[%d](%d%d%d%d%l?)%f[^%w]")
  local at_nd, _, letter = text:find("n%.d%.%-?(%l?)")
  if at_nd and (not at_year or at_nd < at_year) then year = "n.d." .. letter end
  local label = year and (name .. " " .. year) or text:sub(1, 60)
  return (label:gsub("^%s+", ""):gsub("%s+$", ""))
end

local function is_entry(div)
  return div.identifier:match("^ref%-.+") ~= nil and div.classes:includes("csl-entry")
end

local function entry_labels(doc)
  local labels = {}
  doc.blocks:walk({ Div = function(div)
    if is_entry(div) then labels[div.identifier] = entry_label(div) end
  end })
  return labels
end

-- Navigation over the entries: a PDF bookmark per entry, and in HTML a list of
-- links before the entries, with the same labels in the same order.
local function index_entries(doc, labels)
  local entries = {}
  doc.blocks:walk({
    Div = function(div)
      if is_entry(div) then entries[#entries + 1] = { id = div.identifier, label = labels[div.identifier] } end
    end,
  })
  if #entries == 0 then return doc end
  if FORMAT:match("latex") then
    return doc:walk({
      Div = function(div)
        if is_entry(div) then
          -- pandoc's LaTeX writer escapes the label: entry text is untrusted data.
          local label = pandoc.write(pandoc.Pandoc({ pandoc.Plain(pandoc.Str(labels[div.identifier])) }), "latex")
          label = label:gsub("%s+$", "")
          local anchor = "entry-" .. div.identifier:gsub("[^%w%-]", "-")
          div.content:insert(1, pandoc.RawBlock("latex", "\\pdfbookmark[1]{" .. label .. "}{" .. anchor .. "}"))
          return div
        end
      end,
    })
  end
  if FORMAT:match("html") then
    local items = {}
    for _, e in ipairs(entries) do
      items[#items + 1] = { pandoc.Plain({ pandoc.Link(pandoc.Str(e.label), "#" .. e.id) }) }
    end
    local nav = pandoc.Div({ pandoc.BulletList(items) },
      pandoc.Attr("entry-index", { "entry-index" }, { { "role", "navigation" }, { "aria-label", "Entries" } }))
    doc.blocks = doc.blocks:walk({
      Div = function(div)
        if div.identifier == "refs" then return { nav, div } end
      end,
    })
  end
  return doc
end

local function place_annotations(doc)
  local annotations = {}
  local found = false
  doc.blocks = doc.blocks:walk({
    Div = function(div)
      if div.classes:includes("annotations") then
        div:walk({ Div = function(inner)
          if inner.classes:includes("annotation") then
            annotations[inner.attributes["key"]] = inner
            found = true
          end
        end })
        return {}
      end
    end,
  })
  return found, doc:walk({
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

function Pandoc(doc)
  local labels = entry_labels(doc)  -- before the annotations join the entries' text
  local annotated, placed = place_annotations(doc)
  if annotated then return index_entries(placed, labels) end
  return placed
end
