--[[ delete.lua: remove checkpoints and the blobs nobody references any more.

  delete_checkpoint(B, G, ns, cid): unlinks the checkpoint hash and every writes hash named by
    its `w:<task>` fields, removes it from the namespace index, the write-only set and, when
    G.on, from the cross-thread indexes (G.all, G.run_base .. <run>, and the metadata value
    indexes its `x` field lists).
  gc_namespace(B, ns_set, ns): keeps in the blob hash only the fields that a remaining
    checkpoint's `b` names, with the bases of those stored as deltas (chain.lua); drops the
    blob hash and the namespace itself when nothing is left.
  G = { on = bool, all = key, run_base = prefix, tag = encoded thread id }
]]
local function delete_checkpoint(B, G, ns, cid)
  local cpk = B.cp .. ns .. ':' .. cid
  local h = redis.call('HGETALL', cpk)
  local dels = {cpk}
  for i = 1, #h, 2 do
    local f = h[i]
    if string.sub(f, 1, 2) == 'w:' then
      dels[#dels + 1] = B.write .. ns .. ':' .. cid .. ':' .. string.sub(f, 3)
    elseif f == 'r' and G.on then
      redis.call('SREM', G.run_base .. h[i + 1], G.tag .. '\n' .. ns .. '\n' .. cid)
    elseif f == 'x' and G.on then
      for _, by in ipairs(split(h[i + 1])) do
        redis.call('ZREM', by, cid .. '\n' .. G.tag .. '\n' .. ns)
      end
    end
  end
  unlink_all(dels)
  redis.call('ZREM', B.idx .. ns, cid)
  redis.call('SREM', B.wo .. ns, cid)
  if G.on then redis.call('ZREM', G.all, cid .. '\n' .. G.tag .. '\n' .. ns) end
end

local function gc_namespace(B, ns_set, ns)
  local ids = redis.call('ZRANGE', B.idx .. ns, 0, -1)
  if #ids == 0 then
    redis.call('UNLINK', B.blob .. ns)
    if redis.call('SCARD', B.wo .. ns) == 0 then redis.call('SREM', ns_set, ns) end
    return
  end
  local keep = {}
  local blob = B.blob .. ns
  for _, cid in ipairs(ids) do
    for _, f in ipairs(split(redis.call('HGET', B.cp .. ns .. ':' .. cid, 'b'))) do
      -- a kept value stored as a delta keeps its whole chain down to the snapshot
      while f and not keep[f] do
        keep[f] = true
        local v = redis.call('HGET', blob, f)
        f = v and delta_base(v)
      end
    end
  end
  local drop = {}
  for _, f in ipairs(redis.call('HKEYS', B.blob .. ns)) do
    if not keep[f] then drop[#drop + 1] = f end
  end
  call_chunked('HDEL', blob, drop)
end

local function delete_namespace(B, G, ns_set, ns)
  local ids = redis.call('ZRANGE', B.idx .. ns, 0, -1)
  for _, cid in ipairs(redis.call('SMEMBERS', B.wo .. ns)) do ids[#ids + 1] = cid end
  for _, cid in ipairs(ids) do delete_checkpoint(B, G, ns, cid) end
  redis.call('UNLINK', B.blob .. ns, B.idx .. ns, B.wo .. ns)
  redis.call('SREM', ns_set, ns)
end
