--[[ store_search: the live items under a namespace prefix, for SearchOp, in one call.

  KEYS[1]  namespaces         store_ns        (ZSET, score 0, lexical)
  ARGV[1]  the store prefix   ("store")
  ARGV[2]  P, the encoded namespace prefix (labels joined by ":"), "" for every namespace
  ARGV[3]  stop after this many items known to match (offset + limit of a search without a
           query), "0" to return every candidate (a query ranks them all)
  ARGV[4]  "1" to return the items' vectors too (a query will be scored), "0" not to
  ARGV[5]  the namespace order hash  store_nsseq
  ARGV[6]  "1" when the triples below are the whole filter, "0" when the client checks more
  ARGV[7 ..]  filter triples (op, key, operand): op "eq", "ne", "gt", "gte", "lt" or "lte";
              key a top-level key of the value; operand "s<string>" or "n<number>"

  Namespaces are N == P or N starting with P .. ":" (a label boundary: ("a",) is a prefix of
  ("a", "b"), not of ("ab",)). They are walked in the order of their first item and each one's
  items in insertion order: InMemoryStore's order, so a search without a query can stop early.

  The filter is judged here only where that is certain: values whose serde type is msgpack are
  decoded (cmsgpack), and an item is dropped when it cannot match, counted as a match when the
  whole filter surely holds, and returned unjudged otherwise (booleans, nested values, other
  serde types, a server without cmsgpack). The client re-checks every item it gets with
  InMemoryStore's own comparison, so only certainty is needed here, never completeness.
  Index members whose item has expired are removed on the way. The items of a namespace share
  its hash tag; different namespaces are different slots, so this script is for standalone
  servers, like the checkpointer's list(None).

  Returns { rows, stopped }: rows = { {N, nsseq, K, seq, {y, v}, c, u, e or false, ttl ms or
  false}, ... } in that order; stopped = 1 when the walk ended at ARGV[3] sure matches (the
  client asks again without a stop in the rare case its own check disagrees: msgpack cannot
  tell a str from bytes), else 0.
]]
local prefix, p = ARGV[1], ARGV[2]
local stop, want_vectors, whole = tonumber(ARGV[3]), ARGV[4] == '1', ARGV[6] == '1'
local conds = {}
for i = 7, #ARGV, 3 do
  local raw = ARGV[i + 2]
  local operand = string.sub(raw, 2)
  if string.sub(raw, 1, 1) == 'n' then operand = tonumber(operand) end
  conds[#conds + 1] = {ARGV[i], ARGV[i + 1], operand}
end

-- one condition on a decoded value: true, false, or nil when unsure
local function judge(op, v, x)
  local tv, tx = type(v), type(x)
  if tv == 'boolean' then return nil end
  if op == 'eq' then return tv == tx and v == x end
  if op == 'ne' then return not (tv == tx and v == x) end
  if tv ~= 'number' or tx ~= 'number' then return nil end
  if op == 'gt' then return v > x end
  if op == 'gte' then return v >= x end
  if op == 'lt' then return v < x end
  return v <= x
end

-- 0: cannot match; 1: surely matches; 2: unsure (the client decides)
local function verdict(vtype, packed)
  if #conds == 0 then return whole and 1 or 2 end
  if not cmsgpack or vtype ~= 'msgpack' then return 2 end
  local ok, t = pcall(cmsgpack.unpack, packed)
  if not ok or type(t) ~= 'table' then return 2 end
  local sure = whole
  for _, c in ipairs(conds) do
    local v = t[c[2]]
    local j = judge(c[1], v, c[3])
    if j == false then return 0 end
    -- a nested value (table) equal to a scalar never is: judged above; unsure otherwise
    if j == nil or type(v) == 'table' then sure = false end
  end
  return sure and 1 or 2
end

local namespaces
if p == '' then
  namespaces = redis.call('ZRANGE', KEYS[1], 0, -1)
else
  namespaces = redis.call('ZRANGEBYLEX', KEYS[1], '[' .. p .. ':', '(' .. p .. ';')
  if redis.call('ZSCORE', KEYS[1], p) then table.insert(namespaces, 1, p) end
end
local order = {}
for i, ns in ipairs(namespaces) do
  order[i] = {ns, tonumber(redis.call('HGET', ARGV[5], ns) or '0')}
end
table.sort(order, function(a, b) return a[2] < b[2] end)

local out, sure = {}, 0
for _, entry in ipairs(order) do
  local ns = entry[1]
  local idx = prefix .. '_keys:{' .. ns .. '}'
  local members = redis.call('ZRANGE', idx, 0, -1, 'WITHSCORES')
  for i = 1, #members, 2 do
    local k = members[i]
    local item = prefix .. ':{' .. ns .. '}:' .. k
    local h = redis.call('HMGET', item, 'y', 'v', 'c', 'u', 't', want_vectors and 'e' or 'y')
    if not h[1] then
      redis.call('ZREM', idx, k)
    else
      local v = verdict(h[1], h[2])
      if v > 0 then
        out[#out + 1] = {ns, entry[2], k, members[i + 1], {h[1], h[2]}, h[3], h[4],
                         want_vectors and h[6] or false, h[5] or false}
        if v == 1 then sure = sure + 1 end
        if stop > 0 and sure >= stop then return {out, 1} end
      end
    end
  end
end
return {out, 0}
