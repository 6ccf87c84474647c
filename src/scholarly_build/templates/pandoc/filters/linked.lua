-- Links between the two HTML documents, run last (after safety.lua, which unwraps
-- the relative links that data could write). The targets are fixed file names the
-- engine puts in the metadata only when the build writes that file:
-- - paper (`linked-bibliography`): each reference-list entry with a card (a note)
--   links to its annotation, and the card script is embedded once;
-- - annotated bibliography (`linked-paper`): each "cited in" section name (a Span
--   `.paper-section` with `section=ID`) becomes a link to that section of the paper.
-- In other formats, and without the target, the section names stay plain text.

local CARD_SCRIPT = pandoc.path.join({ pandoc.path.directory(PANDOC_SCRIPT_FILE), "..", "..", "html", "cards.js" })

local function meta_text(meta, name)
  if meta[name] == nil then return nil end
  return pandoc.utils.stringify(meta[name])
end

local function read_script()
  local file = assert(io.open(CARD_SCRIPT, "r"))
  local text = file:read("a")
  file:close()
  return text
end

local function section_links(doc, paper)
  return doc:walk({ Span = function(span)
    if not span.classes:includes("paper-section") then return nil end
    local target = span.attributes["section"]
    if paper == nil or target == nil or not FORMAT:match("html") then return span.content end
    return pandoc.Link(span.content, paper .. "#" .. target)
  end })
end

-- Keys that have a card (a note), read from the Div previews.lua made.
local function card_keys(doc)
  local keys = {}
  doc.blocks:walk({ Div = function(div)
    if div.classes:includes("card-opening") then keys[div.attributes["key"]] = true end
  end })
  return keys
end

local function entry_links(doc, bibliography, keys)
  return doc:walk({ Div = function(div)
    local key = div.identifier:match("^ref%-(.+)$")
    if not (key and keys[key] and div.classes:includes("csl-entry")) then return nil end
    local last = div.content[#div.content]
    if last == nil or (last.t ~= "Para" and last.t ~= "Plain") then return nil end
    last.content:insert(pandoc.Space())
    last.content:insert(pandoc.Link({ pandoc.Str("Annotation") }, bibliography .. "#ref-" .. key, "",
      pandoc.Attr("", { "annotation-link" })))
    return div
  end })
end

local function add_cards(doc, bibliography)
  local found = false
  doc.blocks = doc.blocks:walk({ Div = function(div)
    if div.identifier ~= "citation-cards" then return nil end
    found = true
    if bibliography ~= nil then div.attributes["bibliography"] = bibliography end
    return div
  end })
  if found then doc.blocks:insert(pandoc.RawBlock("html", "<script>\n" .. read_script() .. "</script>")) end
  return doc
end

function Pandoc(doc)
  doc = section_links(doc, meta_text(doc.meta, "linked-paper"))
  if not FORMAT:match("html") then return doc end
  local bibliography = meta_text(doc.meta, "linked-bibliography")
  if bibliography ~= nil then doc = entry_links(doc, bibliography, card_keys(doc)) end
  return add_cards(doc, bibliography)
end
