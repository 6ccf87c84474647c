-- Untrusted notes and sections must not pull files into the output or plant
-- active links. Images are limited to the figures the build declared (metadata
-- `allowed-images`); links to anything but http(s), mailto and in-document
-- anchors are unwrapped to their text. For LaTeX, figures use their PDF version.

local allowed = {}
local is_latex = FORMAT:match("latex") ~= nil

local function meta_list(value)
  local out = {}
  if value == nil then return out end
  if pandoc.utils.type(value) ~= "List" then return { pandoc.utils.stringify(value) } end
  for _, item in ipairs(value) do out[#out + 1] = pandoc.utils.stringify(item) end
  return out
end

-- The filter runs more than once (before and after citeproc; when a document's
-- formats share citeproc, once more for each format: see shared.yaml) and a LaTeX
-- pass renames `x.png` to `x.pdf`, so a declared figure is allowed under both names.
local function latex_name(src)
  return (src:gsub("%.png$", ".pdf"))
end

function Meta(meta)
  for _, name in ipairs(meta_list(meta["allowed-images"])) do
    allowed[name] = true
    if is_latex then allowed[latex_name(name)] = true end
  end
  return nil
end

local function safe_target(target)
  if target:match("^#") then return true end
  local scheme = target:match("^([%a][%w+.-]*):")
  if scheme == nil then return false end  -- relative paths could point at local files
  scheme = scheme:lower()
  return scheme == "http" or scheme == "https" or scheme == "mailto"
end

function Image(img)
  if not allowed[img.src] then
    return pandoc.Emph({ pandoc.Str("[image not included: " .. img.src .. "]") })
  end
  if is_latex then img.src = latex_name(img.src) end
  return img
end

function Link(link)
  if not safe_target(link.target) then return link.content end
  return link
end

-- Attributes become HTML attributes: drop event handlers and anything that can
-- carry a URL or a document, whatever element pandoc's `{...}` syntax put them on.
local function dangerous(key)
  key = key:lower()
  return key:match("^on") ~= nil or key == "href" or key == "src" or key == "srcdoc" or key == "action"
    or key == "formaction" or key == "xlink:href" or key == "style"
end

local function clean(el)
  -- A list of pairs keeps the attributes' order: a plain Lua table would not, and
  -- the HTML would then differ from build to build.
  local keep = {}
  for k, v in pairs(el.attributes) do
    if not dangerous(k) then keep[#keep + 1] = { k, v } end
  end
  el.attributes = keep
  return el
end

local filter = { Image = function(img) return Image(clean(img)) end,
                 Link = function(link) return Link(clean(link)) end }
for _, name in ipairs({ "Span", "Div", "Header", "Code", "CodeBlock", "Table", "Figure" }) do
  filter[name] = clean
end

return { { Meta = Meta }, filter }
