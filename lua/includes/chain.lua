--[[ chain.lua: channel values stored as deltas (see codec.py, "Deltas").

  A blob value is either a full value (an msgpack array: its first byte is never "~") or a delta
  "~<base field>\n<msgpack [type, bytes, start]>": the value of the base version cut to `start`
  items, then extended by the list in `bytes`. A base is always an older version of the same
  channel in the same blob hash, so a chain ends at a full value (the snapshot).

  delta_base(v)          -> the base field of a delta value, or nil for a full value
  gather(blob, field, v) -> v when it is a full value, else the chain { v, base value, ...,
                            snapshot }, newest first; a missing base ends the chain with
                            false, which the reader reports as an error (never silently).
  MAX_CHAIN guards against a corrupted cycle; the writer keeps chains far shorter (ops.py).
]]
local MAX_CHAIN = 4096

local function delta_base(v)
  if string.byte(v, 1) ~= 126 then return nil end
  local nl = string.find(v, '\n', 2, true)
  return string.sub(v, 2, nl - 1)
end

local function gather(blob, field, v)
  local base = delta_base(v)
  if not base then return v end
  local chain = {v}
  while base do
    if #chain > MAX_CHAIN then error('delta chain too long at ' .. field) end
    local b = redis.call('HGET', blob, base)
    if not b then
      chain[#chain + 1] = false
      return chain
    end
    chain[#chain + 1] = b
    base = delta_base(b)
  end
  return chain
end
