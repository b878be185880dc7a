--[[ store_knn: a query without a filter through the server's vector index (RediSearch; see
  src/langgraph/store/redis/ftindex.py), in one call: the index's nearest vectors, scored again
  in float64 and ordered as InMemoryStore orders a query, the page's items read and re-armed.

  ARGV[1]  prefix: the store prefix ("store")
  ARGV[2]  index: the index name, store_fvidx
  ARGV[3]  ft_query: the FT query, "(@p:{<tag of the namespace prefix>})=>[KNN k @v $q AS
           __d]" or "(*)=>..."
  ARGV[4]  vector32: the query vector, float32 (the index's parameter)
  ARGV[5]  vector64: the query vector, float64 little-endian (the scores)
  ARGV[6]  k: the documents asked for
  ARGV[7]  offset: the search's offset
  ARGV[8]  limit: the search's limit
  ARGV[9]  refresh: "1" to re-arm the TTLs of the items returned (SearchOp.refresh_ttl), "0"
           not to
  ARGV[10] gap: the gap (float32 distances against float64 scores)
  ARGV[11] ns_prefix: P, the encoded namespace prefix ("" for all)

  The page is settled here when it is exact: every vector under the prefix came back (fewer
  than k), or the page's last score exceeds 1 - the k-th distance (nothing left out can score
  above that) by the gap. Ties keep the insertion order (the namespace's first seq o, then the
  item's seq s). When every vector came back and the page is short, items without vectors
  fill it, in insertion order, as InMemoryStore fills it (not offset, up to limit in all).
  A document whose item is gone (expired, evicted) is removed with the item's other entries.
  Returns {"ok", rows} with rows = { {N, K, score as a string or false, y, v, c, u}, ... }; {"scan"}
  when the page is not settled here (the client scans, as without an index); {"error", text}
  when the index cannot be searched (dropped, another server).
]]
--@include store
local prefix, k, p = ARGV[1], tonumber(ARGV[6]), ARGV[11]
local one = bucket(prefix, '')  -- one server only: the store's one bucket
local zero = prefix .. '_fvzero'
if (p == '' and redis.call('ZCARD', zero) > 0) or (p ~= '' and (redis.call('ZSCORE', zero, p)
    or #redis.call('ZRANGEBYLEX', zero, '[' .. p .. ':', '(' .. p .. ';', 'LIMIT', 0, 1) > 0)) then
  return {'scan'}  -- a zero vector under the prefix: the index cannot rank it (store.lua)
end
local offset, limit, refresh = tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9] == '1'
local gap = tonumber(ARGV[10])
local ok, res = pcall(redis.call, 'FT.SEARCH', ARGV[2], ARGV[3], 'PARAMS', '2', 'q', ARGV[4],
  'SORTBY', '__d', 'LIMIT', '0', k, 'RETURN', '4', '__d', 's', 'o', 'v', 'DIALECT', '2')
if not ok then
  return {'error', type(res) == 'table' and (res.err or 'FT.SEARCH failed') or tostring(res)}
end
local dims = #ARGV[5] / 8
local q = {struct.unpack('<' .. string.rep('d', dims), ARGV[5])}
local qn = 0
for i = 1, dims do qn = qn + q[i] * q[i] end
qn = math.sqrt(qn)

local fmt = '<' .. string.rep('f', dims)
local best, order, dead, found = {}, {}, {}, 0

-- one document's vector, scored; an item keeps its best
local function take(ns, key, a)
  local v = {struct.unpack(fmt, a.v)}
  local dot, vn = 0, 0
  for x = 1, dims do
    dot = dot + v[x] * q[x]
    vn = vn + v[x] * v[x]
  end
  local score = 0
  if vn > 0 and qn > 0 then score = dot / (math.sqrt(vn) * qn) end
  local id = ns .. '}' .. key
  local b = best[id]
  if not b then
    b = {ns, key, score, tonumber(a.o), tonumber(a.s)}
    best[id] = b
    order[#order + 1] = b
  elseif score > b[3] then
    b[3] = score
  end
end

for i = 2, #res, 2 do
  local id, flat = res[i], res[i + 1]
  local a = {}
  if type(flat) == 'table' then
    for j = 1, #flat, 2 do a[flat[j]] = flat[j + 1] end
  end
  found = found + 1
  local rest = string.sub(id, #prefix + 6)  -- after "<prefix>_fv:{"
  local cut = string.find(rest, '}:', 1, true)
  local ns, tail = string.sub(rest, 1, cut - 1), string.sub(rest, cut + 2)
  local key = string.match(tail, '^(.*):[^:]*$')
  if not a.v then
    dead[#dead + 1] = {ns, key}  -- expired: the index may list a key in its last moments
  elseif #a.v ~= 4 * dims then
    return {'scan'}
  else
    take(ns, key, a)
  end
end
for _, d in ipairs(dead) do
  local nk = ns_keys(d[1], one)
  if redis.call('EXISTS', nk.items .. d[2]) == 0 then forget(nk, d[2]) end
end
table.sort(order, function(x, y)
  if x[3] ~= y[3] then return x[3] > y[3] end
  if x[4] ~= y[4] then return x[4] < y[4] end
  return x[5] < y[5]
end)
if limit <= 0 then return {'ok', {}} end
local now = now_ms()
local chosen = {}
for i = offset + 1, math.min(offset + limit, #order) do chosen[#chosen + 1] = order[i] end
if found < k then
  -- every vector under the prefix is in hand: fill a short page with the items that have none
  local room = limit - #chosen
  local F = room > 0 and spans()
  for _, entry in ipairs(F and F.under(F.live(prefix, '', p, '')) or {}) do
    local nk = ns_keys(entry[1], one)
    expire(nk, now)
    for _, key in ipairs(redis.call('ZRANGE', nk.index, 0, -1)) do
      if room == 0 then break end
      if redis.call('HEXISTS', nk.vectors, key) == 0 then
        chosen[#chosen + 1] = {entry[1], key, false}
        room = room - 1
      end
    end
    if room == 0 then break end
  end
elseif #order < offset + limit then
  return {'scan'}  -- items with several vectors took more of the k than the page has room for
else
  local last = res[#res]
  local d
  if type(last) == 'table' then
    for j = 1, #last, 2 do if last[j] == '__d' then d = tonumber(last[j + 1]) end end
  end
  if not d or order[offset + limit][3] <= 1 - d + gap then return {'scan'} end
end
-- the items ranked before the page must exist too (the page's own are read below): one
-- evicted under maxmemory leaves its documents, and would take a place it no longer has
for i = 1, math.min(offset, #order) do
  local nk = ns_keys(order[i][1], one)
  if redis.call('EXISTS', nk.items .. order[i][2]) == 0 then
    forget(nk, order[i][2])
    return {'scan'}
  end
end

local rows = {}
for _, b in ipairs(chosen) do
  local nk = ns_keys(b[1], one)
  local h = redis.call('HMGET', nk.items .. b[2], 'y', 'v', 'c', 'u', 't')
  if not h[1] then
    forget(nk, b[2])  -- expired or evicted: its documents go with its other entries
    return {'scan'}
  end
  if refresh and h[5] then arm(nk, b[2], tonumber(h[5]), now) end
  local score = b[3] and string.format('%.17g', b[3]) or false
  rows[#rows + 1] = {b[1], b[2], score, h[1], h[2], h[3], h[4]}
end
return {'ok', rows}
