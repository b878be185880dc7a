--[[ delta_history: walk a checkpoint's parent chain for langgraph's DeltaChannel, in one call.

  This is BaseCheckpointSaver.get_delta_channel_history (beta) done server-side: the default
  walks with one get_tuple per ancestor, one round trip each.

  KEYS[1]  namespace index        checkpoint_idx:{T}:N  (the latest, when no id is given)
  KEYS[2]  blob hash              checkpoint_blob:{T}:N
  KEYS[3]  the thread's fence     checkpoint_fence:{T}  (never exists: keys.py)

  ARGV[1..6]  thread: the thread block (common.lua's thread): prefixes, T, cross-thread, TTL, flags
  ARGV[7]  ns: N, the encoded namespace
  ARGV[8]  cursor: "" to start at the target, else the encoded id of the next ancestor to
           visit (returned by a call that stopped at ARGV[10] ancestors)
  ARGV[9]  cid: C, the encoded target checkpoint id, or "" for the latest (when ARGV[8] is "")
  ARGV[10] page: the most ancestors to visit in this call (keeps one call short on deep chains)
  ARGV[11 ..]  channels: the encoded channel names still being walked for

  Starting at the target's parent, each ancestor contributes its writes (all of them: the
  caller keeps those of the channels still walked for) and, for each channel still walked for
  whose version at that ancestor has a stored value, that value (with the log bytes it refers
  to, when kept in a log: logs.lua) as the channel's seed; the channel's walk ends there. The walk ends at the
  root, at an id that is no checkpoint (as InMemorySaver's does), or when no channel remains.

  Returns { ancestors, cursor }: ancestors = { { C, writes, seeds }, ... } nearest first, writes
  as in load_tuple ({ taskinfo, {idx, value, ...}, ... }), seeds = { channel, value, ... };
  cursor = "" when the walk is over, else the id to pass as ARGV[8] to go on.
]]
--@include common
--@include logs
--@include load_tuple
local B = thread(1)
local ns, cursor, limit = ARGV[7], ARGV[8], tonumber(ARGV[10])
local remaining, left = {}, 0
for i = 11, #ARGV do
  remaining[ARGV[i]] = true
  left = left + 1
end

if cursor == '' then
  local cid = ARGV[9]
  if cid == '' then
    local top = redis.call('ZREVRANGE', KEYS[1], 0, 0)
    if #top == 0 then return {{}, ''} end
    cid = top[1]
  end
  cursor = redis.call('HGET', B.cp .. ns .. ':' .. cid, 'p') or ''
end

local out = {}
while cursor ~= '' and left > 0 do
  if #out >= limit then return {out, cursor} end
  local cid = cursor
  local d, parent, b, writes = read_checkpoint(B, ns, cid)
  if not d then break end
  local seeds = {}
  for _, field in ipairs(split(b)) do
    local ch = string.sub(field, 1, string.find(field, ':', 1, true) - 1)
    if remaining[ch] then
      local v = redis.call('HGET', KEYS[2], field)
      if v then
        seeds[#seeds + 1] = ch
        seeds[#seeds + 1] = gather(KEYS[2], v)
        remaining[ch] = nil
        left = left - 1
      end
    end
  end
  out[#out + 1] = {cid, writes, seeds}
  cursor = parent
end
return {out, ''}
