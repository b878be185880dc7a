--[[ prune.lua: what a namespace keeps when it is pruned, and the pruning itself.

  LangGraph's DeltaChannel stores no value at most steps: a checkpoint's value is rebuilt from
  its ancestors' writes back to the nearest ancestor holding a stored value (a _DeltaSnapshot).
  Pruning those ancestors would make the value silently rebuild as empty (the warning on
  BaseCheckpointSaver.prune). The put script records in the field `h` the channels a checkpoint
  rebuilds that way (the keys of metadata["counters_since_delta_snapshot"]).

  with_history(B, ns, ids) -> set of ids to keep: `ids`, and for each of them the ancestors
    (with their writes) that its `h` channels replay, up to and including the first ancestor
    with a stored value for each: the same walk as delta_history-3.lua.
  prune_namespace(B, G, ns, keep, newest): removes every checkpoint of the namespace not in
    `keep`, and its write-only ids (writes whose checkpoint was never stored: orphans) up to
    `newest`, or all of them when `newest` is nil; then the blobs nobody references
    (gc_namespace). A shallow put passes its own id: ids after it may be writes racing ahead of
    their checkpoint (durability="async"), which a prune called by the user does not expect.
]]
--@include common
--@include delete
local function with_history(B, ns, ids)
  local keep = {}
  for _, cid in ipairs(ids) do
    keep[cid] = true
    local left, n = {}, 0
    for _, ch in ipairs(split(redis.call('HGET', B.cp .. ns .. ':' .. cid, 'h'))) do
      left[ch] = true
      n = n + 1
    end
    local p = redis.call('HGET', B.cp .. ns .. ':' .. cid, 'p')
    while n > 0 and p and p ~= '' do
      local h = redis.call('HMGET', B.cp .. ns .. ':' .. p, 'd', 'b', 'p')
      if not h[1] then break end
      keep[p] = true
      for _, f in ipairs(split(h[2])) do
        local ch = string.sub(f, 1, string.find(f, ':', 1, true) - 1)
        if left[ch] and redis.call('HEXISTS', B.blob .. ns, f) == 1 then
          left[ch] = nil
          n = n - 1
        end
      end
      p = h[3]
    end
  end
  return keep
end

local function prune_namespace(B, G, ns, keep, newest)
  local removed = 0
  for _, cid in ipairs(redis.call('ZRANGE', B.idx .. ns, 0, -1)) do
    if not keep[cid] then
      delete_checkpoint(B, G, ns, cid)
      removed = removed + 1
    end
  end
  for _, cid in ipairs(redis.call('SMEMBERS', B.wo .. ns)) do
    if not newest or cid <= newest then delete_checkpoint(B, G, ns, cid) end
  end
  gc_namespace(B, G, ns)
  return removed
end
