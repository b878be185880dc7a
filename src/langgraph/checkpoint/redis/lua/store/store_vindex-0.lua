--[[ store_vindex: gives the vectors stored so far their documents in the server's vector
  index (src/langgraph/store/redis/ftindex.py), a few namespaces per call. setup() calls it
  after it created the index and set the marker, until it returns -1: from then on every
  script that writes, re-arms or removes an item does the same to its documents
  (includes/store.lua), so the index and the items agree. Idempotent.

  ARGV[1]  prefix: the store prefix ("store")
  ARGV[2]  start: the rank in store_ns to start at
  ARGV[3]  count: how many namespaces this call does

  Returns the rank to go on from, or -1 when every namespace is done.
]]
--@include store
local prefix, start, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local one = bucket(prefix, '')  -- one server only: the store's one bucket
local namespaces = redis.call('ZRANGE', prefix .. '_ns', start, start + n - 1)
local now = now_ms()
for _, ns in ipairs(namespaces) do
  local nk = ns_keys(ns, one)
  expire(nk, now)
  local D = docs(nk)  -- nil while prefix_fvon is not set: nothing to index
  local vecs = D and redis.call('HGETALL', nk.vectors) or {}
  for i = 1, #vecs, 2 do
    local at = redis.call('ZSCORE', nk.deadlines, vecs[i])
    D.write(nk, vecs[i], vecs[i + 1], at and tonumber(at))
  end
end
if #namespaces < n then return -1 end
return start + n
