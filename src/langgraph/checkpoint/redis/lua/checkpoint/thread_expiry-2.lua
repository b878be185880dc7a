--[[ thread_expiry: pin a thread, unpin it, or give a copied thread its deadline.

  KEYS[1]  thread namespaces      checkpoint_ns:{T}
  KEYS[2]  the thread's fence     checkpoint_fence:{T}  (never exists: keys.py)

  ARGV[1..6]  thread: the thread block (common.lua's thread): prefixes, T, cross-thread, TTL, flags
  ARGV[7]  mode: one of
           "pin":   every key of the thread loses its expiry, and the pin marker
                    (checkpoint_pin:{T}) keeps savers with a TTL from setting one again
           "unpin": the marker goes; with a TTL, the thread expires ttl after now
           "touch": after copy_thread wrote the thread's keys, they get the thread's
                    deadline as a write would give it (ttl.lua's after_write)

  Returns 1 when the thread exists, 0 when it does not (then nothing is marked).
]]
--@include common
--@include ttl
local B, G, TT = thread(1)
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local mode = ARGV[7]
if mode == 'pin' then
  redis.call('SET', B.pin, '1')
  set_deadline(B, G, nil)
elseif mode == 'unpin' then
  redis.call('UNLINK', B.pin)
  if TT.ttl > 0 then extend(B, G, TT, -1) end
else
  local at = deadline(B)
  if TT.ttl > 0 and not (at == -1 and redis.call('EXISTS', B.pin) == 1) then
    extend(B, G, TT, -1)
  elseif at >= 0 then
    set_deadline(B, G, at)
  end
end
return 1
