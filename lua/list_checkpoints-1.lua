--[[ list_checkpoints: one page of a thread's checkpoints, newest first, with their values.

  KEYS[1]  thread namespaces      checkpoint_ns:{T}

  ARGV[1..5]  the thread's key bases: cp, write, blob, idx, wo
  ARGV[6]  N, the encoded namespace (ignored when ARGV[7] == "1")
  ARGV[7]  "1" to list every namespace of the thread, "0" for namespace N only
  ARGV[8]  before: an encoded checkpoint id (exclusive upper bound), or "" for none
  ARGV[9]  page size: at most this many checkpoints are returned
  ARGV[10 ..]  filter pairs ("f:<key>", encoded value), applied before loading

  Each namespace's index is walked newest first from `before` in chunks until the page is full;
  the namespaces are merged by id (descending) and cut to the page size. The caller asks for the
  next page with before = the last id returned, until a page comes back short.

  Returns { {N, tuple}, ... } with tuple as in load_tuple.
]]
--@include common
--@include filter
--@include chain
--@include load_tuple
local B = bases(1)
local page = tonumber(ARGV[9])
local max = '+'
if ARGV[8] ~= '' then max = '(' .. ARGV[8] end
local names, expected = read_filter(10)

local namespaces = {ARGV[6]}
if ARGV[7] == '1' then namespaces = redis.call('SMEMBERS', KEYS[1]) end

local found = {}
local chunk = math.max(page, 16)
for _, ns in ipairs(namespaces) do
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
if #namespaces > 1 then
  table.sort(found, function(a, b) return a[1] > b[1] end)
end

local out = {}
for i = 1, math.min(page, #found) do
  local t = load_tuple(B, found[i][2], found[i][1])
  if t then out[#out + 1] = {found[i][2], t} end
end
return out
