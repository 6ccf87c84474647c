-- Citation cards (paper.html): the metadata field `annotation-previews` maps each
-- note's key to its annotation's first paragraph (assembly.paper_metadata). Run
-- before citeproc, this filter flattens each cited work's preview to plain text cut
-- to its opening words, so a note can add neither a citation nor markup to the
-- paper, and puts them in a hidden Div `#citation-cards` that the card script
-- reads. Other formats get none of it, and the link metadata is dropped from them
-- (the DOCX writer would print unknown metadata as document properties). Written as
-- JSON (the citeproc step a document's formats share, see shared.yaml), the cards
-- are made; the filter runs again for each format (after-citeproc.yaml), where any
-- other format than HTML drops them.

local OPENING_WORDS = 45

local function opening(value)
  local words = {}
  for word in pandoc.utils.stringify(value):gmatch("%S+") do
    words[#words + 1] = word
    if #words > OPENING_WORDS then
      words[#words] = nil
      return table.concat(words, " ") .. " …"
    end
  end
  return table.concat(words, " ")
end

local function cited_keys(blocks)
  local keys = {}
  blocks:walk({ Cite = function(cite)
    for _, citation in ipairs(cite.citations) do keys[citation.id] = true end
  end })
  return keys
end

function Pandoc(doc)
  local previews = doc.meta["annotation-previews"]
  doc.meta["annotation-previews"] = nil
  if not FORMAT:match("html") and FORMAT ~= "json" then
    for _, name in ipairs({ "other-formats", "linked-bibliography", "linked-paper" }) do doc.meta[name] = nil end
    doc.blocks = doc.blocks:filter(function(block) return block.identifier ~= "citation-cards" end)
    return doc
  end
  if previews == nil then return doc end
  local cited = cited_keys(doc.blocks)
  local keys = {}
  for key, _ in pairs(previews) do
    if cited[key] then keys[#keys + 1] = key end
  end
  table.sort(keys)  -- pairs() has no order: sorted, the HTML is the same on every build
  if #keys == 0 then return doc end
  local cards = {}
  for _, key in ipairs(keys) do
    cards[#cards + 1] = pandoc.Div({ pandoc.Plain({ pandoc.Str(opening(previews[key])) }) },
      pandoc.Attr("", { "card-opening" }, { { "key", key } }))
  end
  doc.blocks:insert(pandoc.Div(cards, pandoc.Attr("citation-cards", {}, { { "hidden", "" } })))
  return doc
end
