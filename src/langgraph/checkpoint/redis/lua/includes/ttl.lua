--[[ ttl.lua: one deadline per thread (the savers' ttl={"default_ttl", "refresh_on_read"}).

  Every key of a thread carries the same absolute deadline (PEXPIREAT), so the thread vanishes
  at one instant: a checkpoint never outlives its blobs or writes, and no write outlives its
  checkpoint. The thread's deadline is read from its namespace set, which exists exactly as
  long as the thread does. Two keys outlive the thread on purpose: the ledger (`xref`), which
  the sweep (sweep.lua) needs to remove the thread's entries from the cross-thread indexes,
  and the pin marker, which exists only while the thread is pinned (and so never expires).

  Moving the deadline means touching every key of the thread, so it is moved in steps: when a
  write (or a read with refresh_on_read) finds less than `ttl` left, the deadline becomes
  now + ttl + ttl/SLACK, and the next full refresh is due only after ttl/SLACK more. A thread
  therefore expires between ttl and ttl * (1 + 1/SLACK) after its last use, and a busy
  thread's keys are rewritten at most once per ttl/SLACK, not on every step.

  deadline(B)                  -> ms since the epoch; -1: no expiry; -2: the thread is gone
  each_key(B, fn)              calls fn(key) for every key of the thread (but ledger and pin)
  after_write(B, G, TT, keys)  gives the keys a write just touched the thread's deadline,
                               starting or extending it when the saver has a TTL; a pinned
                               thread stays pinned; a saver without TTL that writes into an
                               expiring thread keeps the thread's deadline, never extends it
  on_read(B, G, TT)            refresh_on_read: extends an expiring thread whose deadline is
                               closer than ttl; never starts one
  set_deadline(B, G, at)       every key to `at` (nil: no expiry), and the expiry index
]]
--@include logs
local SLACK = 16

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function deadline(B)
  local ok, at = pcall(redis.call, 'PEXPIRETIME', B.ns_set)
  if ok then return at end
  local left = redis.call('PTTL', B.ns_set) -- Redis 6.2 has no PEXPIRETIME
  if left < 0 then return left end
  return now_ms() + left
end

local function each_key(B, fn)
  fn(B.ns_set)
  for _, ns in ipairs(redis.call('SMEMBERS', B.ns_set)) do
    fn(B.idx .. ns)
    fn(B.blob .. ns)
    fn(B.wo .. ns)
    for _, id in ipairs(logs_of(B.blob .. ns)) do fn(B.blob .. ns .. ':' .. id) end
    local ids = redis.call('ZRANGE', B.idx .. ns, 0, -1)
    for _, cid in ipairs(redis.call('SMEMBERS', B.wo .. ns)) do ids[#ids + 1] = cid end
    for _, cid in ipairs(ids) do
      local cpk = B.cp .. ns .. ':' .. cid
      fn(cpk)
      for _, f in ipairs(redis.call('HKEYS', cpk)) do
        if string.sub(f, 1, 2) == 'w:' then fn(B.write .. ns .. ':' .. cid .. ':' .. string.sub(f, 3)) end
      end
    end
  end
end

local function set_deadline(B, G, at)
  if at then
    each_key(B, function(k) redis.call('PEXPIREAT', k, at) end)
    if G.on then redis.call('ZADD', G.exp, at, B.tag) end
  else
    each_key(B, function(k) redis.call('PERSIST', k) end)
    if G.on then redis.call('ZREM', G.exp, B.tag) end
  end
end

local function extend(B, G, TT, at)
  local now = now_ms()
  if at >= 0 and at >= now + TT.ttl then return at end
  at = now + TT.ttl + math.floor(TT.ttl / SLACK)
  set_deadline(B, G, at)
  return at
end

local function after_write(B, G, TT, keys)
  local at = deadline(B)
  if TT.ttl > 0 then
    if at == -1 and redis.call('EXISTS', B.pin) == 1 then return end
    at = extend(B, G, TT, at)
  end
  if at < 0 then return end
  for _, k in ipairs(keys) do redis.call('PEXPIREAT', k, at) end
end

local function on_read(B, G, TT)
  if TT.ttl <= 0 or not TT.refresh then return end
  local at = deadline(B)
  if at >= 0 then extend(B, G, TT, at) end
end
