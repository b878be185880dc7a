--[[ delete_thread: remove every namespace, checkpoint, write and blob of one thread.

  KEYS[1]  thread namespaces      checkpoint_ns:{T}
  KEYS[2]  cross-thread index     checkpoint_all    (used when ARGV[8] == "1")

  ARGV[1..5]  the thread's key bases: cp, write, blob, idx, wo
  ARGV[6]  T, the encoded thread id
  ARGV[7]  the run index prefix   checkpoint_run:
  ARGV[8]  "1" when the cross-thread indexes are maintained

  Nothing outside the thread is touched except its own entries in the cross-thread indexes.
  Returns the number of namespaces removed.
]]
--@include common
--@include chain
--@include delete
local B = bases(1)
local G = {on = ARGV[8] == '1', all = KEYS[2], run_base = ARGV[7], tag = ARGV[6]}
local namespaces = redis.call('SMEMBERS', KEYS[1])
for _, ns in ipairs(namespaces) do delete_namespace(B, G, KEYS[1], ns) end
redis.call('UNLINK', KEYS[1])
return #namespaces
