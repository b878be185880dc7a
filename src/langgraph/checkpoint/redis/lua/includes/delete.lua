--[[ delete.lua: remove checkpoints, their cross-thread index entries, and unreferenced blobs.

  The ledger `xref` (HASH, per thread, cross-thread mode only) has one field "N\nC" per
  checkpoint, valued "<run>\n<index entry>\n<index entry>...": the run id ("" for none) and the
  metadata index entries ("checkpoint_by:<key>\t<value>", common.lua's by_entry) that list it,
  besides `checkpoint_all`. It is what lets a checkpoint leave every index without being read,
  even after it expired.

  drop_xref(B, G, ns, cid)     C leaves checkpoint_all, its run set and its value indexes.
  drop_ledger(B, G, fields)    the same for ledger fields ("N\nC"), of checkpoints gone or going.
  clear_for_reput(B, G, ns, cid) -> true when C exists: its filter fields, replay list and
    index entries go, so what is written next replaces them; its writes stay.
  delete_checkpoint(B, G, ns, cid): unlinks the checkpoint hash and every writes hash named by
    its `w:<task>` fields, removes it from the namespace index, the write-only set and the
    cross-thread indexes.
  gc_namespace(B, G, ns): keeps in the blob hash only the fields that a remaining checkpoint's
    `b` names, and the logs those refer to (logs.lua); drops the other logs, the blob hash and
    the namespace itself when nothing is left, and the thread's own keys when no namespace is.
  delete_namespace(B, G, ns), forget_thread(B, G): everything of a namespace, of a thread.
]]
--@include common
--@include logs
local function drop_xref(B, G, ns, cid)
  if not G.on then return end
  local f = ns .. '\n' .. cid
  local member = cid .. '\n' .. B.tag .. '\n' .. ns
  redis.call('ZREM', G.all, member)
  local v = redis.call('HGET', B.xref, f)
  if not v then return end
  local parts = split(v)
  if parts[1] and parts[1] ~= '' then
    redis.call('SREM', G.run_base .. parts[1], B.tag .. '\n' .. ns .. '\n' .. cid)
  end
  for j = 2, #parts do
    local key, pre = by_entry(parts[j])
    redis.call('ZREM', key, pre .. member)
  end
  redis.call('HDEL', B.xref, f)
end

local function drop_ledger(B, G, fields)
  for _, f in ipairs(fields) do
    local cut = string.find(f, '\n', 1, true)
    if cut then drop_xref(B, G, string.sub(f, 1, cut - 1), string.sub(f, cut + 1)) end
  end
end

local function clear_for_reput(B, G, ns, cid)
  local cpk = B.cp .. ns .. ':' .. cid
  if redis.call('HEXISTS', cpk, 'd') == 0 then return false end
  local stale = {'h'}
  for _, f in ipairs(redis.call('HKEYS', cpk)) do
    if string.sub(f, 1, 2) == 'f:' then stale[#stale + 1] = f end
  end
  redis.call('HDEL', cpk, unpack(stale))
  drop_xref(B, G, ns, cid)
  return true
end

local function forget_thread(B, G)
  if G.on then
    drop_ledger(B, G, redis.call('HKEYS', B.xref))
    redis.call('ZREM', G.exp, B.tag)
  end
  redis.call('UNLINK', B.xref, B.pin)
end

local function delete_checkpoint(B, G, ns, cid)
  local cpk = B.cp .. ns .. ':' .. cid
  local dels = {cpk}
  for _, f in ipairs(redis.call('HKEYS', cpk)) do
    if string.sub(f, 1, 2) == 'w:' then
      dels[#dels + 1] = B.write .. ns .. ':' .. cid .. ':' .. string.sub(f, 3)
    end
  end
  unlink_all(dels)
  redis.call('ZREM', B.idx .. ns, cid)
  redis.call('SREM', B.wo .. ns, cid)
  drop_xref(B, G, ns, cid)
end

local function drop_logs(blob, ids)
  local keys = {}
  for i, id in ipairs(ids) do
    keys[i] = blob .. ':' .. id
    ids[i] = '@' .. id
  end
  unlink_all(keys)
  if #ids > 0 then call_chunked('HDEL', blob, ids) end
end

local function gc_namespace(B, G, ns)
  local ids = redis.call('ZRANGE', B.idx .. ns, 0, -1)
  local blob = B.blob .. ns
  if #ids == 0 then
    drop_logs(blob, logs_of(blob))
    redis.call('UNLINK', blob)
    if redis.call('SCARD', B.wo .. ns) == 0 then
      redis.call('SREM', B.ns_set, ns)
      if redis.call('EXISTS', B.ns_set) == 0 then forget_thread(B, G) end
    end
    return
  end
  local keep = {}
  for _, cid in ipairs(ids) do
    for _, f in ipairs(split(redis.call('HGET', B.cp .. ns .. ':' .. cid, 'b'))) do
      keep[f] = true
    end
  end
  local drop, used = {}, {}
  for _, f in ipairs(redis.call('HKEYS', blob)) do
    if string.byte(f, 1) ~= 64 and not keep[f] then drop[#drop + 1] = f end
  end
  call_chunked('HDEL', blob, drop)
  -- the logs still referred to: a reference is under 64 bytes (logs.lua), so HSTRLEN keeps
  -- the kept full values, however large, out of Lua
  for f in pairs(keep) do
    local n = redis.call('HSTRLEN', blob, f)
    if n > 0 and n < 64 then
      local id = log_ref(redis.call('HGET', blob, f))
      if id then used[id] = true end
    end
  end
  local gone = {}
  for _, id in ipairs(logs_of(blob)) do
    if not used[id] then gone[#gone + 1] = id end
  end
  drop_logs(blob, gone)
end

local function delete_namespace(B, G, ns)
  local ids = redis.call('ZRANGE', B.idx .. ns, 0, -1)
  for _, cid in ipairs(redis.call('SMEMBERS', B.wo .. ns)) do ids[#ids + 1] = cid end
  for _, cid in ipairs(ids) do delete_checkpoint(B, G, ns, cid) end
  drop_logs(B.blob .. ns, logs_of(B.blob .. ns))
  redis.call('UNLINK', B.blob .. ns, B.idx .. ns, B.wo .. ns)
  redis.call('SREM', B.ns_set, ns)
end
