--[[ put_checkpoint: store one checkpoint, its new channel values and every index, atomically.
  This is the whole write path of one LangGraph step: one call, one round trip.

  KEYS[1]  checkpoint hash        checkpoint:{T}:N:C
  KEYS[2]  namespace index        checkpoint_idx:{T}:N   (ZSET, score 0, lex order of ids)
  KEYS[3]  thread namespaces      checkpoint_ns:{T}      (SET)
  KEYS[4]  blob hash              checkpoint_blob:{T}:N
  KEYS[5]  cross-thread index     checkpoint_all         (used when ARGV[8] == "1")
  KEYS[6]  run index              checkpoint_run:R       (used when ARGV[7] ~= "" and ARGV[8] == "1")
  KEYS[7]  write-only set         checkpoint_wo:{T}:N    (C leaves it: its writes came first)

  ARGV[1]  C, the encoded checkpoint id
  ARGV[2]  N, the encoded namespace
  ARGV[3]  T, the encoded thread id (hash tag)
  ARGV[4]  d: the msgpack envelope (serialized checkpoint and metadata), opaque here
  ARGV[5]  p: the encoded parent checkpoint id, "" for none
  ARGV[6]  b: "\n"-joined blob fields "<channel>:<version>" of every channel in channel_versions
  ARGV[7]  r: the encoded run id, "" for none
  ARGV[8]  "1" to maintain the cross-thread indexes, "0" to leave them alone
  ARGV[9]  the run index prefix   checkpoint_run:   (to leave the old run on a re-put)
  ARGV[10] n: the number of blob field/value pairs that follow
  ARGV[11 .. 10+2n]  blob field, blob value or delta (only the channels in new_versions)
  ARGV[11+2n ..]     triples: filter field "f:<key>", encoded scalar value (metadata for list
                     filters), and that value's cross-thread index key "checkpoint_by:<key>:<value>"
                     or "" for none (used when ARGV[8] == "1"; the hash keeps the list in `x`)

  Steps: when C already exists (a re-put), its old filter fields and run membership are removed
  first, so a re-put replaces the checkpoint as InMemorySaver's dict update does; writes already
  stored for C are kept. Then the hash, the blobs and every index are written. The namespace
  index is also the latest pointer: its greatest member is the latest checkpoint, so "latest"
  never moves backwards when an older id is re-put.

  A blob value may be a delta on an older version of its channel (chain.lua). Before writing
  anything, every delta's base is checked: when one is gone (pruned, deleted or expired behind
  the writer's back), nothing is written and the call returns the fields of those deltas, so
  the caller re-sends them as full values. A stored delta therefore always has its base.

  Returns 1 for a new checkpoint, 0 for a re-put, or { field, ... } when deltas lost their base
  (nothing written). Errors: only Redis' own (OOM, wrong type).
]]
--@include common
--@include chain
local cp, idx, ns_set, blob, all, run = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local wo = KEYS[7]
local cid, ns, tag, run_id, global = ARGV[1], ARGV[2], ARGV[3], ARGV[7], ARGV[8] == '1'
local nblob = tonumber(ARGV[10])

local orphans = {}
for i = 11, 10 + 2 * nblob, 2 do
  local base = delta_base(ARGV[i + 1])
  if base and redis.call('HEXISTS', blob, base) == 0 then orphans[#orphans + 1] = ARGV[i] end
end
if #orphans > 0 then return orphans end

local created = 1
if redis.call('HEXISTS', cp, 'd') == 1 then
  created = 0
  local old = redis.call('HGETALL', cp)
  local stale = {}
  for i = 1, #old, 2 do
    local f = old[i]
    if string.sub(f, 1, 2) == 'f:' then
      stale[#stale + 1] = f
    elseif f == 'r' and global then
      redis.call('SREM', ARGV[9] .. old[i + 1], tag .. '\n' .. ns .. '\n' .. cid)
    elseif f == 'x' and global then
      for _, by in ipairs(split(old[i + 1])) do
        redis.call('ZREM', by, cid .. '\n' .. tag .. '\n' .. ns)
      end
    end
  end
  stale[#stale + 1] = 'r'
  stale[#stale + 1] = 'x'
  redis.call('HDEL', cp, unpack(stale))
end

local fields = {'d', ARGV[4], 'p', ARGV[5], 'b', ARGV[6]}
if run_id ~= '' then
  fields[#fields + 1] = 'r'
  fields[#fields + 1] = run_id
end
local by = {}
for i = 11 + 2 * nblob, #ARGV, 3 do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
  if global and ARGV[i + 2] ~= '' then by[#by + 1] = ARGV[i + 2] end
end
if #by > 0 then
  fields[#fields + 1] = 'x'
  fields[#fields + 1] = table.concat(by, '\n')
end
redis.call('HSET', cp, unpack(fields))
if nblob > 0 then redis.call('HSET', blob, unpack(ARGV, 11, 10 + 2 * nblob)) end
redis.call('ZADD', idx, 0, cid)
-- With durability="async" a task's writes can land before its checkpoint; from now on C is a
-- checkpoint, not a write-only id (prune and delete treat those as disposable).
redis.call('SREM', wo, cid)
redis.call('SADD', ns_set, ns)
if global then
  redis.call('ZADD', all, 0, cid .. '\n' .. tag .. '\n' .. ns)
  for _, key in ipairs(by) do redis.call('ZADD', key, 0, cid .. '\n' .. tag .. '\n' .. ns) end
  if run_id ~= '' then redis.call('SADD', run, tag .. '\n' .. ns .. '\n' .. cid) end
end
return created
