--[[ import_thread: write a copied thread (copy_thread's second half) in one atomic script.

  copy_thread reads the source with export_thread-2.lua (atomic on the source's slot), then
  sends this script to the target's slot: the target is written whole or not at all, so an
  interrupted copy (a connection lost, a failover, a slot migration: the fence makes Redis
  refuse the script before it starts) leaves the target as it was, and the copy can be retried
  as it is (a checkpoint already there is replaced, as by a re-put).

  KEYS[1]  target thread namespaces   checkpoint_ns:{T}
  KEYS[2]  the target's fence         checkpoint_fence:{T}

  ARGV[1..6]  thread: the target's thread block (common.lua's thread)
  ARGV[7]  source_by: the source's value-index base ("checkpoint_by<sfx>:"): ledger values name the
           source bucket's indexes, which become the target bucket's
  ARGV[8]  np: the number of N, C pairs that follow
  ARGV[9 ..]  pairs: np N, C pairs, every checkpoint about to be copied (not write-only ids)
  then records, each a type letter and its fields (n: the count of the items that follow):
    L N id bytes        a log of N (logs.lua), sent before N's blob hash: it gets a new id
                        here, and the blob hash's references to it are rewritten
    B N n f v ...       the blob hash of N (its log counter and registry are the target's own)
    C N C ledger d n f v ...   a checkpoint hash; d = "1" when it is a checkpoint (has `d`),
                        "0" for a write-only id; ledger = the source's ledger value or ""
    W N C K n f v ...   the writes hash of task K on C
    O N n id ...        the write-only ids of N

  A target that expired and left its ledger behind loses those leftovers, and a checkpoint the
  target already has is prepared as for a re-put (put_checkpoint-8.lua does the same). A copy
  sent again writes its logs again, under new ids: each namespace copied is then collected
  (delete.lua's gc_namespace), which drops the logs the first copy left unreferenced. Then the
  keys get the thread's deadline, as a write would give it.

  One id may be a checkpoint on one side and write-only (writes before their checkpoint) on
  the other: the checkpoint stays, whole, and the writes of both sides are its writes. So a
  source's write-only id leaves the target's checkpoint of that id as it is (and out of the
  target's write-only set), and a copied checkpoint leaves the target's write-only set.

  Returns the number of checkpoints the target already had.
]]
--@include common
--@include logs
--@include delete
--@include ttl
local B, G, TT = thread(1)
local src_by = ARGV[7]
if G.on and redis.call('EXISTS', KEYS[1]) == 0 and redis.call('EXISTS', B.xref) == 1 then
  forget_thread(B, G)
end
local existing = 0
local np = tonumber(ARGV[8])
for i = 9, 8 + 2 * np, 2 do
  if clear_for_reput(B, G, ARGV[i], ARGV[i + 1]) then existing = existing + 1 end
end

local function hset_from(key, i, n)
  local j = i
  while j < i + n do
    local k = math.min(j + 999, i + n - 1)
    redis.call('HSET', key, unpack(ARGV, j, k))
    j = k + 1
  end
end

local function index(ns, cid, ledger)
  local member = cid .. '\n' .. B.tag .. '\n' .. ns
  redis.call('ZADD', G.all, 0, member)
  local parts = split(ledger)
  local out = {parts[1] or ''}
  if parts[1] and parts[1] ~= '' then
    redis.call('SADD', G.run_base .. parts[1], B.tag .. '\n' .. ns .. '\n' .. cid)
  end
  for j = 2, #parts do
    local e = parts[j]
    if string.sub(e, 1, #src_by) == src_by then e = G.by_base .. string.sub(e, #src_by + 1) end
    local key, pre = by_entry(e)
    redis.call('ZADD', key, 0, pre .. member)
    out[#out + 1] = e
  end
  redis.call('HSET', B.xref, ns .. '\n' .. cid, table.concat(out, '\n'))
end

local seen, renamed = {}, {}
local i = 9 + 2 * np
while i <= #ARGV do
  local kind, ns = ARGV[i], ARGV[i + 1]
  seen[ns] = true
  if kind == 'L' then
    local blob = B.blob .. ns
    local nid = new_id(blob)
    redis.call('SET', blob .. ':' .. nid, ARGV[i + 3])
    renamed[ns .. '\n' .. ARGV[i + 2]] = nid
    i = i + 4
  elseif kind == 'B' then
    local n = tonumber(ARGV[i + 2])
    local blob, fields = B.blob .. ns, {}
    for j = i + 3, i + 2 + n, 2 do
      local f, v = ARGV[j], ARGV[j + 1]
      if string.byte(f, 1) == 64 then
        local nid = renamed[ns .. '\n' .. string.sub(f, 2)]
        if nid then
          fields[#fields + 1] = '@' .. nid
          fields[#fields + 1] = v
        end
      else
        local id, len, count = log_ref(v)
        if id then v = '@' .. (renamed[ns .. '\n' .. id] or id) .. '\n' .. len .. '\n' .. count end
        fields[#fields + 1] = f
        fields[#fields + 1] = v
      end
    end
    if #fields > 0 then call_chunked('HSET', blob, fields) end
    i = i + 3 + n
  elseif kind == 'C' then
    local cid, ledger, d, n = ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], tonumber(ARGV[i + 5])
    hset_from(B.cp .. ns .. ':' .. cid, i + 6, n)
    if d == '1' then
      redis.call('SREM', B.wo .. ns, cid)
      redis.call('ZADD', B.idx .. ns, 0, cid)
      if G.on then index(ns, cid, ledger) end
    end
    i = i + 6 + n
  elseif kind == 'W' then
    local cid, k, n = ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4])
    hset_from(B.write .. ns .. ':' .. cid .. ':' .. k, i + 5, n)
    i = i + 5 + n
  else -- 'O'
    local n = tonumber(ARGV[i + 2])
    local ids = {}
    for j = i + 3, i + 2 + n do
      if redis.call('HEXISTS', B.cp .. ns .. ':' .. ARGV[j], 'd') == 0 then
        ids[#ids + 1] = ARGV[j]
      end
    end
    if #ids > 0 then call_chunked('SADD', B.wo .. ns, ids) end
    i = i + 3 + n
  end
end
for ns in pairs(seen) do redis.call('SADD', KEYS[1], ns) end
for ns in pairs(seen) do gc_namespace(B, G, ns) end

-- the copy's deadline, as thread_expiry-2.lua's "touch"
local at = deadline(B)
if TT.ttl > 0 and not (at == -1 and redis.call('EXISTS', B.pin) == 1) then
  extend(B, G, TT, -1)
elseif at >= 0 then
  set_deadline(B, G, at)
end
return existing
