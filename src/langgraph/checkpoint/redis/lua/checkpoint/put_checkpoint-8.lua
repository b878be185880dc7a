--[[ put_checkpoint: store one checkpoint, its new channel values and every index, atomically.
  This is the whole write path of one LangGraph step: one call, one round trip.

  KEYS[1]  checkpoint hash        checkpoint:{T}:N:C
  KEYS[2]  namespace index        checkpoint_idx:{T}:N   (ZSET, score 0, lex order of ids)
  KEYS[3]  thread namespaces      checkpoint_ns:{T}      (SET)
  KEYS[4]  blob hash              checkpoint_blob:{T}:N
  KEYS[5]  cross-thread index     checkpoint_all         (cross-thread mode)
  KEYS[6]  run index              checkpoint_run:R       (cross-thread mode, when ARGV[12] ~= "")
  KEYS[7]  write-only set         checkpoint_wo:{T}:N    (C leaves it: its writes came first)
  KEYS[8]  the thread's fence     checkpoint_fence:{T}  (never exists: keys.py)

  ARGV[1..6]  thread: the thread block (common.lua's thread): prefixes, T, cross-thread, TTL, flags
  ARGV[7]  cid: C, the encoded checkpoint id
  ARGV[8]  ns: N, the encoded namespace
  ARGV[9]  envelope: d, the msgpack envelope (serialized checkpoint and metadata), opaque here
  ARGV[10] parent: p, the encoded parent checkpoint id, "" for none
  ARGV[11] blob_fields: b, "\n"-joined blob fields "<channel>:<version>" of every channel in
           channel_versions
  ARGV[12] run: r, the encoded run id, "" for none
  ARGV[13] replays: h, "\n"-joined encoded channels that C rebuilds from its ancestors' writes
           (LangGraph's DeltaChannel; prune.lua keeps those ancestors), "" for none
  ARGV[14] nblobs: n, the number of blob field/value pairs that follow
  ARGV[15 .. 14+2n]  blobs: blob field, blob value or delta (only the channels in new_versions)
  ARGV[15+2n ..]     triples: filter field "f:<key>", encoded scalar value (metadata for list
                     filters), and that value's cross-thread index entry
                     "checkpoint_by:<key>\t<value>" (common.lua's by_entry) or "" for none
                     (cross-thread mode; the ledger keeps the list, delete.lua)

  Steps: when C already exists (a re-put), its old filter fields and index entries are removed
  first, so a re-put replaces the checkpoint as InMemorySaver's dict update does; writes already
  stored for C are kept. Then the hash, the blobs and every index are written. The namespace
  index is also the latest pointer: its greatest member is the latest checkpoint, so "latest"
  never moves backwards when an older id is re-put. A shallow saver's put then prunes the
  namespace to C (and the ancestors `h` needs). Last, every key written gets the thread's deadline (ttl.lua), and in cross-thread mode one
  expired thread, if any is due, leaves the cross-thread indexes (sweep.lua).

  A list channel's value may come as a claim on a log (logs.lua): the server resolves it to a
  reference, growing the claimed log or starting a new one. Before writing anything, every
  claim is checked: when a claimed log is gone (pruned, deleted or expired behind the writer's
  back), nothing is written and the call returns the fields of those claims, so the caller
  re-sends them with no claim (the server then tries the parent's version itself).

  Returns { created, field, reference, ... }: created is 1 for a new checkpoint, 0 for a
  re-put, and each list field sent as a claim comes with the reference stored for it; or
  { -1, field, ... } when claims lost their log (nothing written). Errors: only Redis' own
  (OOM, wrong type).
]]
--@include common
--@include logs
--@include delete
--@include prune
--@include ttl
--@include sweep
local cp, idx, blob, all, run, wo = KEYS[1], KEYS[2], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local B, G, TT = thread(1)
local cid, ns, run_id = ARGV[7], ARGV[8], ARGV[12]
local nblob = tonumber(ARGV[14])
local first = 15 + 2 * nblob

local lost = {-1}
for i = 15, first - 1, 2 do
  if claim_lost(blob, ARGV[i + 1]) then lost[#lost + 1] = ARGV[i] end
end
if #lost > 1 then return lost end

-- a thread that expired (or was emptied) may have left its ledger behind: clear it first
if G.on and redis.call('EXISTS', B.ns_set) == 0 and redis.call('EXISTS', B.xref) == 1 then
  forget_thread(B, G)
end

local created = 1
if clear_for_reput(B, G, ns, cid) then created = 0 end

local fields = {'d', ARGV[9], 'p', ARGV[10], 'b', ARGV[11]}
if ARGV[13] ~= '' then
  fields[#fields + 1] = 'h'
  fields[#fields + 1] = ARGV[13]
end
local by = {}
for i = first, #ARGV, 3 do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
  if ARGV[i + 2] ~= '' then by[#by + 1] = ARGV[i + 2] end
end
redis.call('HSET', cp, unpack(fields))
-- A version names one value, but a re-put may store another reference where one is stored:
-- the log it named may then be referenced by nothing, so the namespace's blobs are collected.
local replaced = false
local refs = {created}
local written = {cp, idx, blob, wo, B.ns_set}
if nblob > 0 then
  local names, pairs_ = {}, {}
  local parent_b = nil
  local function parent_b_once()  -- the parent's `b`, read once, and only when a claim needs it
    if parent_b == nil then
      parent_b = ARGV[10] ~= '' and redis.call('HGET', B.cp .. ns .. ':' .. ARGV[10], 'b') or ''
    end
    return parent_b or ''
  end
  for i = 15, first - 1, 2 do
    local f, v = ARGV[i], ARGV[i + 1]
    names[#names + 1] = f
    if is_claim(v) then
      local nid
      v, nid = resolve(blob, f, v, parent_b_once)
      refs[#refs + 1] = f
      refs[#refs + 1] = v
      if nid then written[#written + 1] = blob .. ':' .. nid end
    end
    pairs_[#pairs_ + 1] = f
    pairs_[#pairs_ + 1] = v
  end
  local olds = redis.call('HMGET', blob, unpack(names))
  for j, old in ipairs(olds) do
    if old and old ~= pairs_[2 * j] and log_ref(old) then replaced = true end
  end
  redis.call('HSET', blob, unpack(pairs_))
end
redis.call('ZADD', idx, 0, cid)
-- With durability="async" a task's writes can land before its checkpoint; from now on C is a
-- checkpoint, not a write-only id (prune and delete treat those as disposable).
redis.call('SREM', wo, cid)
redis.call('SADD', B.ns_set, ns)
if G.on then
  local member = cid .. '\n' .. B.tag .. '\n' .. ns
  redis.call('ZADD', all, 0, member)
  for _, e in ipairs(by) do
    local key, pre = by_entry(e)
    redis.call('ZADD', key, 0, pre .. member)
  end
  if run_id ~= '' then redis.call('SADD', run, B.tag .. '\n' .. ns .. '\n' .. cid) end
  local ledger = run_id
  if #by > 0 then ledger = ledger .. '\n' .. table.concat(by, '\n') end
  redis.call('HSET', B.xref, ns .. '\n' .. cid, ledger)
end
if TT.shallow then
  prune_namespace(B, G, ns, with_history(B, ns, {cid}), cid)
elseif replaced then
  gc_namespace(B, G, ns)
end
after_write(B, G, TT, written)
if G.on then sweep_due(G, 1, 256) end
return refs
