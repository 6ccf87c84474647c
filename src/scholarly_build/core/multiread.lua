-- A pandoc reader for many Markdown texts at once: input is JSON {"format": F, "texts": [...]},
-- output is one document whose metadata field `docs` lists, for each text, its own
-- metadata and blocks. Each text is read with pandoc.read and the options pandoc itself
-- was given (abbreviations, columns, ...), so each AST equals a separate parse of it.
-- It reads and writes nothing but its input (pandoc runs it with --sandbox).
function Reader(input, opts)
  local request = pandoc.json.decode(tostring(input), false)
  local docs = pandoc.List()
  for _, text in ipairs(request.texts) do
    local doc = pandoc.read(text, request.format, opts)
    docs:insert(pandoc.MetaMap({ meta = pandoc.MetaMap(doc.meta), blocks = pandoc.MetaBlocks(doc.blocks) }))
  end
  return pandoc.Pandoc({}, { docs = docs })
end
