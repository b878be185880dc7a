--[[ store_search: every live item under a namespace prefix, for SearchOp, in one call.

  KEYS[1]  namespaces         store_ns        (ZSET, score 0, lexical)
  ARGV[1]  the store prefix   ("store")
  ARGV[2]  P, the encoded namespace prefix (labels joined by ":"), "" for every namespace
  ARGV[3]  unused ("0"): the client re-arms the TTL of the items a search returns, which only
           it knows after ranking (ops.py)
  ARGV[4]  "1" to return the items' vectors too (a query will be scored), "0" not to
  ARGV[5]  the namespace order hash  store_nsseq
  ARGV[6 ..]  prefilter triples (op, key, operand): op "eq", "ne", "gt", "gte", "lt" or "lte";
              key a top-level key of the value; operand "s<string>" or "n<number>"

  The prefilter only drops an item that cannot match (the client re-checks every item it gets
  with InMemoryStore's own comparison): values whose serde type is msgpack are decoded here
  (cmsgpack); anything it cannot judge (other types, booleans, nested values, a server
  without cmsgpack) is kept.

  Namespaces are N == P or N starting with P .. ":" (a label boundary: ("a",) is a prefix of
  ("a", "b"), not of ("ab",)). Index members whose item has expired are removed on the way.
  The items of a namespace share its hash tag; different namespaces are different slots, so
  this script is for standalone servers, like the checkpointer's list(None).

  Returns { {N, nsseq, K, seq, v, c, u, e or false, ttl ms or false}, ... } in no particular
  order (the client orders by namespace and item sequence, as InMemoryStore iterates).
]]
local prefix, p = ARGV[1], ARGV[2]
local conds = {}
for i = 6, #ARGV, 3 do
  local raw = ARGV[i + 2]
  local operand = string.sub(raw, 2)
  if string.sub(raw, 1, 1) == 'n' then operand = tonumber(operand) end
  conds[#conds + 1] = {ARGV[i], ARGV[i + 1], operand}
end

-- false only when the item cannot match (see the header); true when unsure
local function may_match(packed)
  if #conds == 0 or not cmsgpack then return true end
  local ok, wrapper = pcall(cmsgpack.unpack, packed)
  if not ok or type(wrapper) ~= 'table' or wrapper[1] ~= 'msgpack' then return true end
  local ok2, t = pcall(cmsgpack.unpack, wrapper[2])
  if not ok2 or type(t) ~= 'table' then return true end
  for _, c in ipairs(conds) do
    local op, v, x = c[1], t[c[2]], c[3]
    local tv = type(v)
    if op == 'eq' then
      if tv == 'nil' or tv == 'table' or (tv ~= 'boolean' and (tv ~= type(x) or v ~= x)) then
        return false
      end
    elseif op == 'ne' then
      if tv == type(x) and v == x then return false end
    elseif tv == 'number' and type(x) == 'number' then
      if (op == 'gt' and not (v > x)) or (op == 'gte' and not (v >= x))
        or (op == 'lt' and not (v < x)) or (op == 'lte' and not (v <= x)) then
        return false
      end
    end
  end
  return true
end

local want_vectors = ARGV[4] == '1'
local namespaces
if p == '' then
  namespaces = redis.call('ZRANGE', KEYS[1], 0, -1)
else
  namespaces = redis.call('ZRANGEBYLEX', KEYS[1], '[' .. p .. ':', '(' .. p .. ';')
  if redis.call('ZSCORE', KEYS[1], p) then table.insert(namespaces, 1, p) end
end
local out = {}
for _, ns in ipairs(namespaces) do
  local idx = prefix .. '_keys:{' .. ns .. '}'
  local nsseq = redis.call('HGET', ARGV[5], ns) or '0'
  local members = redis.call('ZRANGE', idx, 0, -1, 'WITHSCORES')
  for i = 1, #members, 2 do
    local k = members[i]
    local item = prefix .. ':{' .. ns .. '}:' .. k
    local h = redis.call('HMGET', item, 'v', 'c', 'u', 't', want_vectors and 'e' or 'v')
    if h[1] and not may_match(h[1]) then
      -- cannot match the filter
    elseif h[1] then
      out[#out + 1] = {ns, nsseq, k, members[i + 1], h[1], h[2], h[3],
                       want_vectors and h[5] or false, h[4] or false}
    else
      redis.call('ZREM', idx, k)
    end
  end
end
return out
