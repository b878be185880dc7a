--[[ store_namespaces: the namespaces of RedisStore under a prefix that hold a live item
  (ListNamespacesOp), on one server or on one master of a cluster.

  No KEYS: a fan-out, called as store_search is (see there: once per master on a cluster,
  each bucket's fence touched first, so a migrating slot is refused before any change).

  ARGV[1]  prefix: the store prefix ("store"): the listings are store_ns<b> (ZSET, score 0,
           lexical; <b> the bucket suffix, "" on one server)
  ARGV[2]  buckets: "" on one server; on a cluster the master's bucket suffixes joined by
           "," ("," for none)
  ARGV[3]  ns_prefix: P, the encoded labels before the first wildcard of the op's first prefix
           condition
           (joined by ":"), "" for every namespace: only N == P and N under P .. ":" are read
           (one server reads its one listing whole: the client passes "")
  ARGV[4]  prefix_bucket: P's bucket suffix on a cluster (the only bucket that can list
           N == P), else ""

  A namespace is listed while its index holds a key (includes/store.lua: the forget() that
  empties it unlists it): PostgresStore's answer, not InMemoryStore's (whose dict keeps an
  emptied namespace). Items expire on their own, without a script, so first the namespaces
  read that may hold an expired item (store_nsdue<b>: a time at or before their earliest
  deadline) are expired, with their entries; that may empty and so unlist them. Every other
  namespace costs nothing here, so a listing reads one sorted set per bucket, not each
  namespace.
  An item evicted under maxmemory leaves its entries until a search meets it or its deadline
  passes: keep store data under noeviction or a volatile-* policy (docs/store.md).
  The conditions themselves (wildcards, suffixes), the depth, offset and limit are applied by
  the client.
  Returns { N, ... }: each bucket's namespaces in lexical order, bucket after bucket (the
  client sorts them all).
]]
--@include store
local prefix, p, pb, now = ARGV[1], ARGV[3], ARGV[4], now_ms()
-- one server, and no namespace due: its listing
if ARGV[2] == '' and
    #redis.call('ZRANGEBYSCORE', prefix .. '_nsdue', '-inf', now, 'LIMIT', 0, 1) == 0 then
  return listed(prefix .. '_ns', p, true)
end

-- bucket b's namespaces under P (`names`, read from its listing `key`), once those of them
-- that may hold an expired item (the bucket's due set) were expired: which may unlist them
local function settled(b, key, names, own)
  local due = bk(b, '_nsdue')
  local expiring = redis.call('ZRANGEBYSCORE', due, '-inf', now)
  if #expiring == 0 then return names end
  local wanted, gone = {}, false
  for _, ns in ipairs(names) do wanted[ns] = true end
  for _, ns in ipairs(expiring) do
    if wanted[ns] then
      settle(ns_keys(ns, b), now)
      gone = true
    end
  end
  if gone then return listed(key, p, own) end
  return names
end

if ARGV[2] == '' then
  local b = bucket(prefix, '')
  local key = bk(b, '_ns')
  return settled(b, key, listed(key, p, true), true)
end
local out = {}
for _, pair in ipairs(spans().live(prefix, ARGV[2], p, pb)) do
  local b = pair[1]
  for _, ns in ipairs(settled(b, bk(b, '_ns'), pair[2], b.sfx == pb)) do out[#out + 1] = ns end
end
return out
