--[[ list_checkpoints: one page of a thread's checkpoints, newest first, with their values.

  KEYS[1]  thread namespaces      checkpoint_ns:{T}
  KEYS[2]  the thread's fence     checkpoint_fence:{T}  (never exists: keys.py)

  ARGV[1..6]  thread: the thread block (common.lua's thread): prefixes, T, cross-thread, TTL, flags
  ARGV[7]  ns: N, the encoded namespace (ignored when ARGV[8] == "1")
  ARGV[8]  every_ns: "1" to list every namespace of the thread, "0" for namespace N only
  ARGV[9]  before: an encoded checkpoint id (exclusive upper bound), or "" for none
  ARGV[10] page: the page size, at most this many checkpoints are returned
  ARGV[11 ..]  filters: filter pairs ("f:<key>", encoded value), applied before loading

  Each namespace's index is walked newest first from `before` in chunks until the page is full;
  the namespaces are merged by id (descending) and cut to the page size. The caller asks for the
  next page with before = the last id returned, until a page comes back short. A shallow
  saver's namespace offers only its latest checkpoint (not the ancestors kept for
  DeltaChannel replay). With
  refresh_on_read, a page that is not empty extends the thread's deadline (ttl.lua).

  Returns { {N, tuple}, ... } with tuple as in load_tuple.
]]
--@include common
--@include filter
--@include load_tuple
--@include ttl
local B, G, TT = thread(1)
local page = tonumber(ARGV[10])
local max = '+'
if ARGV[9] ~= '' then max = '(' .. ARGV[9] end
local names, expected = read_filter(11)

local namespaces = {ARGV[7]}
if ARGV[8] == '1' then namespaces = redis.call('SMEMBERS', KEYS[1]) end

local found = {}
local chunk = math.max(page, 16)
local function shallow_page(ns)
  local top = redis.call('ZREVRANGE', B.idx .. ns, 0, 0)[1]
  if top and (ARGV[9] == '' or top < ARGV[9]) and matches(B.cp .. ns .. ':' .. top, names, expected) then
    found[#found + 1] = {top, ns}
  end
end

local function page_of(ns)
  local taken, upper = 0, max
  while taken < page do
    local ids = redis.call('ZREVRANGEBYLEX', B.idx .. ns, upper, '-', 'LIMIT', 0, chunk)
    for _, cid in ipairs(ids) do
      if matches(B.cp .. ns .. ':' .. cid, names, expected) then
        found[#found + 1] = {cid, ns}
        taken = taken + 1
        if taken >= page then break end
      end
    end
    if #ids < chunk then break end
    upper = '(' .. ids[#ids]
  end
end

for _, ns in ipairs(namespaces) do
  if TT.shallow then shallow_page(ns) else page_of(ns) end
end
if #namespaces > 1 then
  table.sort(found, function(a, b) return a[1] > b[1] end)
end

local out = {}
for i = 1, math.min(page, #found) do
  local t = load_tuple(B, found[i][2], found[i][1])
  if t then out[#out + 1] = {found[i][2], t} end
end
if #out > 0 then on_read(B, G, TT) end
return out
