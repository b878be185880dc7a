--[[ get_checkpoint: one checkpoint with its channel values and pending writes, in one call.

  KEYS[1]  namespace index        checkpoint_idx:{T}:N  (finds the latest when no id is given)
  KEYS[2]  blob hash              checkpoint_blob:{T}:N
  KEYS[3]  the thread's fence     checkpoint_fence:{T}  (never exists: keys.py)

  ARGV[1..6]  thread: the thread block (common.lua's thread): prefixes, T, cross-thread, TTL, flags
  ARGV[7]  ns: N, the encoded namespace
  ARGV[8]  cid: C, the encoded checkpoint id, or "" for the latest (greatest id) of the
           namespace
  ARGV[9 ..]  filters: optional filter pairs ("f:<key>", encoded value): a checkpoint that does not
              match is reported as absent (list with a checkpoint_id and a filter)

  The checkpoint hash and writes hashes are derived from the block and the id read here; they
  share the hash tag {T} with KEYS, so they live in the same slot. With refresh_on_read, a
  checkpoint found extends the thread's deadline (ttl.lua) in this same call. A shallow saver
  finds only the latest: the ancestors it keeps for DeltaChannel replay are not checkpoints
  of its own to read.

  Returns nil when absent, else load_tuple's { C, d, parent, blobs, writes }.
]]
--@include common
--@include filter
--@include load_tuple
--@include ttl
local B, G, TT = thread(1)
local ns, cid = ARGV[7], ARGV[8]
if cid == '' or TT.shallow then
  local top = redis.call('ZREVRANGE', KEYS[1], 0, 0)
  if #top == 0 or (cid ~= '' and cid ~= top[1]) then return nil end
  cid = top[1]
end
local names, expected = read_filter(9)
if not matches(B.cp .. ns .. ':' .. cid, names, expected) then return nil end
local tup = load_tuple(B, ns, cid)
if tup then on_read(B, G, TT) end
return tup
