--[[ load_tuple.lua: read one checkpoint with its channel values and pending writes.

  load_tuple(B, ns, cid) -> nil when the checkpoint does not exist (no `d` field), else
    { cid, d, parent, blobs, writes }
      d       the msgpack envelope written by put_checkpoint
      parent  the encoded parent id, "" for none
      blobs   flat { field1, value1, field2, value2, ... } for the fields named in `b` that
              exist in the blob hash (a channel whose version was never written is skipped,
              the way InMemorySaver skips "empty" channels); a list kept in a log comes
              as { reference, bytes } (logs.lua's gather)
      writes  { taskinfo1, {idx, value, idx, value, ...}, taskinfo2, {...}, ... }
  The writes keys are derived from the `w:<task>` fields, inside the same hash tag.

  read_checkpoint(B, ns, cid) -> d (nil when absent), parent, b, writes: the checkpoint hash's
    own fields and its writes, as above (also used by delta_history).
]]
--@include common
--@include logs
local function read_checkpoint(B, ns, cid)
  local h = redis.call('HGETALL', B.cp .. ns .. ':' .. cid)
  local d, parent, b = nil, '', nil
  local writes = {}
  for i = 1, #h, 2 do
    local f = h[i]
    if f == 'd' then
      d = h[i + 1]
    elseif f == 'p' then
      parent = h[i + 1]
    elseif f == 'b' then
      b = h[i + 1]
    elseif string.sub(f, 1, 2) == 'w:' then
      writes[#writes + 1] = h[i + 1]
      writes[#writes + 1] = redis.call('HGETALL', B.write .. ns .. ':' .. cid .. ':' .. string.sub(f, 3))
    end
  end
  return d, parent, b, writes
end

local function load_tuple(B, ns, cid)
  local d, parent, b, writes = read_checkpoint(B, ns, cid)
  if not d then return nil end
  local blobs = {}
  local fields = split(b)
  if #fields > 0 then
    local vals = redis.call('HMGET', B.blob .. ns, unpack(fields))
    for i = 1, #fields do
      if vals[i] then
        blobs[#blobs + 1] = fields[i]
        blobs[#blobs + 1] = gather(B.blob .. ns, vals[i])
      end
    end
  end
  return {cid, d, parent, blobs, writes}
end
