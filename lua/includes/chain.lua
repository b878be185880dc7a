--[[ chain.lua: channel values stored as deltas (see codec.py, "Deltas").

  A blob value is either a full value, the msgpack array [type, bytes] (its first byte is never
  "~"), or a delta "~<base field>\n<start>\n<type>\n<bytes>": the value of the base version cut
  to `start` items, then extended by the list serialized in <bytes>. A base is always an older
  version of the same channel in the same blob hash, so a chain ends at a full value.

  delta_base(v)          -> the base field of a delta value, or nil for a full value
  gather(blob, field, v) -> v itself when it is a full value, else the chain { v, base value,
                            ..., full value }, newest first. The reader (codec.unpack_blob)
                            splices a chain of msgpack appends into one value, or folds it:
                            that work is left to the client, which scales, not to the server.
                            A missing base ends the chain with false: the reader raises.
  MAX_CHAIN guards against a corrupted cycle; the writer keeps chains far shorter (deltas.py).
]]
local MAX_CHAIN = 4096

local function delta_base(v)
  if string.byte(v, 1) ~= 126 then return nil end
  return string.sub(v, 2, string.find(v, '\n', 2, true) - 1)
end

-- values read by gather in this call: consecutive checkpoints (a list page) share their chains
local fetched = {}

local function gather(blob, field, v)
  local base = delta_base(v)
  if not base then return v end
  local chain = {v}
  while base do
    if #chain > MAX_CHAIN then error('delta chain too long at ' .. field) end
    local key = blob .. '\n' .. base
    local b = fetched[key]
    if b == nil then
      b = redis.call('HGET', blob, base)
      fetched[key] = b
    end
    if not b then
      chain[#chain + 1] = false
      return chain
    end
    chain[#chain + 1] = b
    base = delta_base(b)
  end
  return chain
end
