--[[ delete_thread: remove every namespace, checkpoint, write and blob of one thread.

  KEYS[1]  thread namespaces      checkpoint_ns:{T}
  KEYS[2]  cross-thread index     checkpoint_all    (cross-thread mode)
  KEYS[3]  the thread's fence     checkpoint_fence:{T}  (never exists: keys.py)

  ARGV[1..6]  thread: the thread block (common.lua's thread): prefixes, T, cross-thread, TTL, flags

  Nothing outside the thread is touched except its own entries in the cross-thread indexes
  (and the expiry index). Also prune(strategy="delete") and prune(keep_last=0).
  Returns the number of namespaces removed.
]]
--@include common
--@include delete
local B, G = thread(1)
local namespaces = redis.call('SMEMBERS', KEYS[1])
for _, ns in ipairs(namespaces) do delete_namespace(B, G, ns) end
redis.call('UNLINK', KEYS[1])
forget_thread(B, G)
return #namespaces
