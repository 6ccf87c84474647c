-- scholarly_build: Lua's sandbox for LuaLaTeX, run before the document is read.
--
-- LuaTeX's Lua `io`, `os` and `lfs` ignore openin_any/openout_any, and --safer stops
-- luaotfload (so fontspec) from working. Instead, every Lua function that opens,
-- writes, removes or lists a file is replaced by one that allows only:
--   reading: this folder, the TeX trees and the font folders;
--   writing: this folder and LuaTeX's cache (the font cache);
-- and process, C-library and upvalue access is removed. No input of the build
-- reaches TeX raw; this is the second wall.
local cwd = lfs.currentdir()
local home = os.getenv("HOME") or "/nonexistent"

local function normalize(path)
  if type(path) ~= "string" or path == "" or path:find("%z") then
    return nil
  end
  if path:sub(1, 1) ~= "/" then
    path = cwd .. "/" .. path
  end
  local parts = {}
  for segment in path:gmatch("[^/]+") do
    if segment == ".." then
      if #parts == 0 then
        return nil
      end
      table.remove(parts)
    elseif segment ~= "." then
      parts[#parts + 1] = segment
    end
  end
  return "/" .. table.concat(parts, "/")
end

local function expand_dirs(var)
  local out = {}
  local value = kpse.expand_var("$" .. var) or ""
  for dir in value:gmatch("[^:;{},!]+") do
    local n = normalize(dir)
    if n and n ~= "/" then
      out[#out + 1] = n
    end
  end
  return out
end

local writable = { cwd }
for _, var in ipairs({ "TEXMFVAR", "TEXMFCACHE" }) do
  for _, dir in ipairs(expand_dirs(var)) do
    writable[#writable + 1] = dir .. "/luatex-cache"
  end
end

local readable = { cwd, "/usr/share/texlive", "/usr/share/texmf", "/usr/local/share/texmf", "/usr/local/texlive",
  "/var/lib/texmf", "/etc/texmf", "/usr/share/fonts", "/usr/local/share/fonts", "/etc/fonts",
  "/var/cache/fontconfig", home .. "/.fonts", home .. "/.local/share/fonts", home .. "/.cache/fontconfig" }
for _, var in ipairs({ "TEXMFDIST", "TEXMFMAIN", "TEXMFLOCAL", "TEXMFSYSVAR", "TEXMFSYSCONFIG", "TEXMFVAR",
  "TEXMFCONFIG", "TEXMFHOME", "TEXMFCACHE", "OSFONTDIR" }) do
  for _, dir in ipairs(expand_dirs(var)) do
    readable[#readable + 1] = dir
  end
end

local function under(path, dirs)
  for _, dir in ipairs(dirs) do
    if path == dir or path:sub(1, #dir + 1) == dir .. "/" then
      return true
    end
  end
  return false
end

local function allowed(path, write)
  local n = normalize(path)
  return n ~= nil and under(n, write and writable or readable)
end

local function refuse(what, path)
  return nil, "scholarly_build: Lua may not " .. what .. " " .. tostring(path)
end

local function writes(mode)
  return type(mode) == "string" and mode:find("[wa+]") ~= nil
end

local io_open, io_lines, io_input, io_output = io.open, io.lines, io.input, io.output
io.open = function(path, mode)
  if not allowed(path, writes(mode)) then
    return refuse(writes(mode) and "write" or "read", path)
  end
  return io_open(path, mode)
end
io.lines = function(path, ...)
  if path ~= nil and not allowed(path, false) then
    error("scholarly_build: Lua may not read " .. tostring(path))
  end
  return io_lines(path, ...)
end
io.input = function(file)
  if type(file) == "string" and not allowed(file, false) then
    error("scholarly_build: Lua may not read " .. file)
  end
  return io_input(file)
end
io.output = function(file)
  if type(file) == "string" and not allowed(file, true) then
    error("scholarly_build: Lua may not write " .. file)
  end
  return io_output(file)
end
io.popen = function() return refuse("run", "a process") end

local function no_process()
  return nil, "scholarly_build: Lua may not run processes"
end
os.execute = function(cmd)
  if cmd == nil then
    return false
  end
  return no_process()
end
os.exec, os.spawn, os.kpsepopen = no_process, no_process, no_process
os.tmpname = function() error("scholarly_build: os.tmpname is disabled") end
local os_remove, os_rename = os.remove, os.rename
os.remove = function(path)
  if not allowed(path, true) then return refuse("remove", path) end
  return os_remove(path)
end
os.rename = function(a, b)
  if not (allowed(a, true) and allowed(b, true)) then return refuse("rename", a) end
  return os_rename(a, b)
end

local lfs_mkdir, lfs_rmdir, lfs_touch, lfs_dir = lfs.mkdir, lfs.rmdir, lfs.touch, lfs.dir
lfs.mkdir = function(path, ...)
  if not allowed(path, true) then return refuse("create", path) end
  return lfs_mkdir(path, ...)
end
lfs.rmdir = function(path)
  if not allowed(path, true) then return refuse("remove", path) end
  return lfs_rmdir(path)
end
lfs.touch = function(path, ...)
  if not allowed(path, true) then return refuse("touch", path) end
  return lfs_touch(path, ...)
end
lfs.dir = function(path)
  if not allowed(path, false) then
    return function() return nil end -- an empty listing, as for a folder that is not there
  end
  return lfs_dir(path)
end
lfs.link = function() return refuse("link", "files") end
lfs.chdir = function() return refuse("change", "folder") end
lfs.lock_dir = function() return refuse("lock", "folder") end

local loadfile_, dofile_ = loadfile, dofile
loadfile = function(path, mode, ...)
  if path == nil or not allowed(path, false) then return refuse("read", path) end
  if under(normalize(path), { cwd }) then
    mode = "t" -- this folder is writable from Lua: no bytecode from it
  end
  return loadfile_(path, mode, ...)
end
dofile = function(path)
  if path == nil or not allowed(path, false) then error("scholarly_build: Lua may not read " .. tostring(path)) end
  return dofile_(path)
end
local load_ = load
load = function(chunk, name, _, env)
  -- Text only: crafted bytecode can break out of any Lua sandbox.
  if env == nil then return load_(chunk, name, "t") end
  return load_(chunk, name, "t", env)
end

for _, lib in ipairs({ "pdfe", "epdf" }) do
  local t = rawget(_G, lib)
  if type(t) == "table" and t.open then
    local open = t.open
    t.open = function(path, ...)
      if not allowed(path, false) then return refuse("read", path) end
      return open(path, ...)
    end
  end
end
if type(fontloader) == "table" and fontloader.open then
  local open = fontloader.open
  fontloader.open = function(path, ...)
    if not allowed(path, false) then return refuse("read", path) end
    return open(path, ...)
  end
end

-- Callbacks that name a file TeX then opens itself: the name they return must be allowed too.
local function guard_finder(name, func)
  if type(name) ~= "string" or type(func) ~= "function" or not name:match("^find_") then
    return func
  end
  local write = name == "find_write_file" or name == "find_output_file"
  return function(...)
    local found = func(...)
    if type(found) == "string" and not allowed(found, write) then
      texio.write_nl("log", "scholarly_build: refused file " .. found)
      return nil
    end
    return found
  end
end
if type(luatexbase) == "table" and luatexbase.add_to_callback then
  local add_to_callback = luatexbase.add_to_callback
  luatexbase.add_to_callback = function(name, func, ...)
    return add_to_callback(name, guard_finder(name, func), ...)
  end
end
if type(callback) == "table" and callback.register then
  local register = callback.register
  callback.register = function(name, func, ...)
    return register(name, guard_finder(name, func), ...)
  end
end
if type(mplib) == "table" and mplib.new then
  local new = mplib.new
  mplib.new = function(options)
    if type(options) == "table" and type(options.find_file) == "function" then
      local find = options.find_file
      options.find_file = function(name, mode, ...)
        local found = find(name, mode, ...)
        if type(found) == "string" and not allowed(found, mode == "w") then
          return nil
        end
        return found
      end
    end
    return new(options)
  end
end

package.loadlib = function() return refuse("load", "a C library") end
package.cpath = ""
if package.loaded then
  package.loaded.socket, package.loaded.mime = nil, nil
end
socket, mime = nil, nil

-- The debug library would hand back the original functions (as upvalues of these).
local traceback, getinfo = debug.traceback, debug.getinfo
debug = { traceback = traceback, getinfo = getinfo }
package.loaded.debug = debug
