--[[ store_buckets: which buckets of one master hold RedisStore namespaces (a cluster only).

  On a cluster the store's namespace listing is split per slot (includes/store.lua: Buckets),
  and most of a master's 5,461 buckets are usually empty. A search over a namespace prefix, or
  a listing of namespaces, first asks each master which of its buckets exist (this script, one
  call per master, sent with `#!lua flags=allow-cross-slot-keys`: scripts.py), then calls
  store_search or store_namespaces once per bucket found, pipelined per node.

  ARGV[1]  the bucket listing's base name ("store_ns")
  ARGV[2]  the suffixes of the master's slots, joined by "," (one argument: see list_buckets)

  Returns the suffixes whose listing exists, in the order given.
]]
local base, out = ARGV[1], {}
for sfx in string.gmatch(ARGV[2], '[^,]+') do
  if redis.call('EXISTS', base .. sfx) == 1 then out[#out + 1] = sfx end
end
return out
