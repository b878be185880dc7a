--[[ chain.lua: channel values stored as deltas (see codec.py, "Deltas").

  A blob value is either a full value, the msgpack array [type, bytes] (its first byte is never
  "~"), or a delta "~<base field>\n<start>\n<type>\n<bytes>": the value of the base version cut
  to `start` items, then extended by the list serialized in <bytes>. A base is always an older
  version of the same channel in the same blob hash, so a chain ends at a full value.

  delta_base(v)          -> the base field of a delta value, or nil for a full value
  gather(blob, field, v) -> the value to hand to the reader: v itself when it is a full value;
                            when every part is a plain msgpack list ("msgpack" type) and every
                            delta appends, one full value spliced from the parts (the reader
                            pays as for a value stored whole); else the chain { v, base value,
                            ..., full value }, newest first, which codec.unpack_blob folds. A
                            missing base ends the chain with false: the reader raises an error.
  MAX_CHAIN guards against a corrupted cycle; the writer keeps chains far shorter (deltas.py).
]]
local MAX_CHAIN = 4096

local function delta_base(v)
  if string.byte(v, 1) ~= 126 then return nil end
  return string.sub(v, 2, string.find(v, '\n', 2, true) - 1)
end

-- big-endian unsigned integer of n bytes of s at i
local function be(s, i, n)
  local x = 0
  for k = i, i + n - 1 do x = x * 256 + string.byte(s, k) end
  return x
end

local function be_bytes(x, n)
  local out = {}
  for k = n, 1, -1 do
    out[k] = string.char(x % 256)
    x = math.floor(x / 256)
  end
  return table.concat(out)
end

-- count and first element position of the msgpack array at s[i..], or nil
local function array_at(s, i)
  local b = string.byte(s, i)
  if not b then return nil end
  if b >= 0x90 and b <= 0x9f then return b - 0x90, i + 1 end
  if b == 0xdc then return be(s, i + 1, 2), i + 3 end
  if b == 0xdd then return be(s, i + 1, 4), i + 5 end
  return nil
end

-- type and payload of a full value [type, bytes] (fixarray 2, str, bin), or nil
local function envelope(v)
  if string.byte(v, 1) ~= 0x92 then return nil end
  local b, i = string.byte(v, 2), 0
  local tlen
  if b >= 0xa0 and b <= 0xbf then tlen, i = b - 0xa0, 3
  elseif b == 0xd9 then tlen, i = string.byte(v, 3), 4
  else return nil end
  local vtype = string.sub(v, i, i + tlen - 1)
  i = i + tlen
  local h, plen = string.byte(v, i), nil
  if h == 0xc4 then plen, i = string.byte(v, i + 1), i + 2
  elseif h == 0xc5 then plen, i = be(v, i + 1, 2), i + 3
  elseif h == 0xc6 then plen, i = be(v, i + 1, 4), i + 5
  else return nil end
  if i + plen - 1 ~= #v then return nil end
  return vtype, string.sub(v, i)
end

local function splice(chain)
  local vtype, payload = envelope(chain[#chain])
  if vtype ~= 'msgpack' then return nil end
  local count, first = array_at(payload, 1)
  if not count then return nil end
  local parts = {string.sub(payload, first)}
  for k = #chain - 1, 1, -1 do
    local d = chain[k]
    local a = string.find(d, '\n', 2, true)
    local b = string.find(d, '\n', a + 1, true)
    local c = string.find(d, '\n', b + 1, true)
    if tonumber(string.sub(d, a + 1, b - 1)) ~= count then return nil end
    if string.sub(d, b + 1, c - 1) ~= 'msgpack' then return nil end
    local n, at = array_at(d, c + 1)
    if not n then return nil end
    parts[#parts + 1] = string.sub(d, at)
    count = count + n
  end
  local header
  if count < 16 then header = string.char(0x90 + count)
  elseif count < 65536 then header = '\220' .. be_bytes(count, 2)
  else header = '\221' .. be_bytes(count, 4) end
  local body = header .. table.concat(parts)
  local bin
  if #body < 256 then bin = '\196' .. string.char(#body)
  elseif #body < 65536 then bin = '\197' .. be_bytes(#body, 2)
  else bin = '\198' .. be_bytes(#body, 4) end
  return '\146\167msgpack' .. bin .. body
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
  return splice(chain) or chain
end
