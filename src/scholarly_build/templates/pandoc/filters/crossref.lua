-- Numbered cross-references for figures and tables, run before citeproc so
-- that `@fig:x` / `@tbl:x` are never taken for citations. Figures are pandoc
-- Figure elements with an id `fig:...`; tables are Divs with an id `tbl:...`.
-- LaTeX numbers floats itself, so captions are only prefixed for other formats.
-- Written as JSON (the citeproc step a document's formats share, see shared.yaml),
-- nothing is prefixed: the filter runs again for each format (after-citeproc.yaml),
-- where it only numbers and prefixes, since no `@fig:x` is left by then.

local prefixes = { "fig:", "tbl:", "eq:", "sec:" }
local labels = {}   -- id -> "Figure 1"
-- Labels from the whole paper (metadata `crossref-known`, id -> label) when the preview
-- renders one section of it alone: for targets elsewhere, and for this section's own
-- floats, whose numbers count those before it. A build never sets it.
local known = {}
local prefixed = FORMAT:match("latex") == nil and FORMAT ~= "json"

-- `@Fig:x` (capitalised at the start of a sentence) refers to `fig:x`.
local function has_prefix(id)
  for _, p in ipairs(prefixes) do
    if id:sub(1, #p):lower() == p:lower() then return true end
  end
  return false
end

local function prefix_caption(caption, text)
  local label = pandoc.Inlines({ pandoc.Strong({ pandoc.Str(text .. ":") }), pandoc.Space() })
  if #caption.long > 0 and caption.long[1].content then
    caption.long[1].content = label .. caption.long[1].content
  else
    caption.long = pandoc.Blocks({ pandoc.Plain(label) })
  end
  return caption
end

local function number(doc)
  local nfig, ntbl = 0, 0
  doc.blocks = doc.blocks:walk({
    Figure = function(fig)
      if fig.identifier:match("^fig:") then
        nfig = nfig + 1
        labels[fig.identifier] = known[fig.identifier] or ("Figure " .. nfig)
        if prefixed then fig.caption = prefix_caption(fig.caption, labels[fig.identifier]) end
      end
      return fig
    end,
    Div = function(div)
      if div.identifier:match("^tbl:") then
        ntbl = ntbl + 1
        labels[div.identifier] = known[div.identifier] or ("Table " .. ntbl)
        if prefixed then
          div = div:walk({ Table = function(t)
            t.caption = prefix_caption(t.caption, labels[div.identifier])
            return t
          end })
        end
      end
      return div
    end,
    Header = function(h)
      if h.identifier:match("^sec:") then
        labels[h.identifier] = "“" .. pandoc.utils.stringify(h.content) .. "”"
      end
      return h
    end,
  })
  return doc
end

local function resolve(cite)
  local parts = {}
  for _, c in ipairs(cite.citations) do
    if not has_prefix(c.id) then return nil end
    local id = c.id:sub(1, 1):lower() .. c.id:sub(2)
    local text = labels[id] or known[id]
    if text == nil then
      io.stderr:write("[WARNING] crossref: unknown reference @" .. c.id .. "\n")
      text = "??"
    end
    parts[#parts + 1] = pandoc.Link(pandoc.Inlines(text), "#" .. id)
  end
  local out = pandoc.Inlines({})
  for i, link in ipairs(parts) do
    if i > 1 then out:insert(pandoc.Str(", ")) end
    out:insert(link)
  end
  return out
end

function Pandoc(doc)
  local configured = doc.meta["crossref-prefixes"]
  if configured then
    prefixes = {}
    for _, p in ipairs(configured) do prefixes[#prefixes + 1] = pandoc.utils.stringify(p) end
  end
  local given = doc.meta["crossref-known"]
  if given then
    for id, label in pairs(given) do known[id] = pandoc.utils.stringify(label) end
  end
  doc = number(doc)
  return doc:walk({ Cite = function(cite) return resolve(cite) end })
end
