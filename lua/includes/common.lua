--[[ common.lua: helpers spliced into every script by the loader (scripts.py).

  unpack         Lua 5.1 has a global `unpack`, later versions `table.unpack`.
  split(s)       splits a "\n"-joined list (the `b` field of a checkpoint); encoded ids never
                 contain "\n", so the separator cannot occur inside an element.
  call_chunked   runs CMD KEY e1 e2 ... in chunks, because unpack() of thousands of values
                 overflows the Lua C stack.
  unlink_all(l)  UNLINK of a list of keys, in chunks for the same reason.
  bases(i)       the five per-thread key bases, ARGV[i..i+4], as a table.
]]
local unpack = unpack or table.unpack

local function split(s)
  local out = {}
  if s == nil or s == false or s == '' then return out end
  local pos = 1
  while true do
    local i = string.find(s, '\n', pos, true)
    if not i then
      out[#out + 1] = string.sub(s, pos)
      return out
    end
    out[#out + 1] = string.sub(s, pos, i - 1)
    pos = i + 1
  end
end

local function call_chunked(cmd, key, list)
  local n = #list
  local i = 1
  while i <= n do
    local j = math.min(i + 999, n)
    redis.call(cmd, key, unpack(list, i, j))
    i = j + 1
  end
end

local function unlink_all(list)
  local i = 1
  while i <= #list do
    local j = math.min(i + 999, #list)
    redis.call('UNLINK', unpack(list, i, j))
    i = j + 1
  end
end

local function bases(i)
  return {cp = ARGV[i], write = ARGV[i + 1], blob = ARGV[i + 2], idx = ARGV[i + 3],
          wo = ARGV[i + 4]}
end
