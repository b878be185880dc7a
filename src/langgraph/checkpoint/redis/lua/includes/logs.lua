--[[ logs.lua: list channels stored as append-only logs (storage format 4; codec.py, "Logs").

  A growing list (a `messages` channel) is stored once, however many versions of it exist: its
  items' msgpack bytes, concatenated, in a log, a STRING key beside the namespace's blob hash:
  `<blob hash>:<id>` (`checkpoint_blob:{T}:N:<id>`, same hash tag, same slot). A version of the
  channel is then a reference in the blob hash, "@<id>\n<byte length>\n<item count>": the
  value is the msgpack array of <item count> items whose bytes are the log's first <byte length>
  bytes. A log only ever grows at its end (APPEND) and is deleted whole, so the bytes a
  reference names never change while the reference exists. A value that does not extend a log
  starts a new one. Ids are numbers from a counter, the blob hash field "@", that starts at the
  clock (ms) whenever the blob hash is created: a claim on a deleted log is never answered by
  another log of the same name, and a reference stays under 64 bytes.

  Registry: the blob hash field "@<id>" (valued with the encoded channel) exists exactly while
  the log does. Blob fields proper are "<channel>:<version>" and always hold a ":"; "@" and
  "@<id>" never do, so they cannot collide. gc_namespace (delete.lua) deletes the logs no kept
  version refers to; each_key (ttl.lua) gives logs the thread's deadline; export and import copy them.

  A put sends a list value as "^<id>\n<length>\n<count>\n<bytes>": the writer claims that its
  value's items begin with the first <length> bytes of log <id> and sends the rest. With no id
  ("^\n0\n<count>\n<all bytes>": a writer that has not seen the thread) the server tries the
  parent checkpoint's version of the channel itself. The server, not the writer's memory,
  decides what is stored:

  log_ref(v)               -> id, length, count of a reference; nil for a full value
  claim_lost(blob, a)      -> true when a claimed log is gone (or shorter than claimed): the put
                              writes nothing and the writer sends the whole value
  resolve(blob, field, a, parent_b) -> the reference stored for the field, and the id
                              of a log it created (nil if none); parent_b() gives the parent
                              checkpoint's `b`, read only for a claim with no log id. The claimed log grows when it
                              ends where the claim ends, or when what it has beyond the claim
                              (another writer's steps) is the head of the bytes sent; a value
                              the log already holds is a reference to it, nothing written;
                              anything else starts a new log with the claimed prefix copied.
  logs_of(blob)            -> the ids of the namespace's logs (its registry)
  gather(blob, v)          -> v for a full value; { v, bytes } for a reference (bytes false
                              when the log is missing: the reader raises)
]]
--@include common

local function log_ref(v)
  if string.byte(v, 1) ~= 64 then return nil end
  local a = string.find(v, '\n', 2, true)
  local b = string.find(v, '\n', a + 1, true)
  return string.sub(v, 2, a - 1), tonumber(string.sub(v, a + 1, b - 1)), string.sub(v, b + 1)
end

local function parse_claim(a)
  local x = string.find(a, '\n', 2, true)
  local y = string.find(a, '\n', x + 1, true)
  local z = string.find(a, '\n', y + 1, true)
  return string.sub(a, 2, x - 1), tonumber(string.sub(a, x + 1, y - 1)), string.sub(a, y + 1, z - 1),
    string.sub(a, z + 1)
end

local function is_claim(a)
  return string.byte(a, 1) == 94
end

local function log_alive(blob, id, len)
  return redis.call('HEXISTS', blob, '@' .. id) == 1 and redis.call('STRLEN', blob .. ':' .. id) >= len
end

local function claim_lost(blob, a)
  if not is_claim(a) then return false end
  local id, len = parse_claim(a)
  return id ~= '' and not log_alive(blob, id, len)
end

local function new_id(blob)
  local n = redis.call('HINCRBY', blob, '@', 1)
  if n == 1 then
    -- a namespace's first log (or its first since it was emptied): ids start at the clock, in
    -- ms, so none repeats an id of the namespace's earlier life
    local t = redis.call('TIME')
    n = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    redis.call('HSET', blob, '@', n)
  end
  return string.format('%d', n)
end

local function logs_of(blob)
  local ids = {}
  for _, f in ipairs(redis.call('HKEYS', blob)) do
    if string.byte(f, 1) == 64 and f ~= '@' then ids[#ids + 1] = string.sub(f, 2) end
  end
  return ids
end

local function channel_of(field)
  return string.sub(field, 1, string.find(field, ':', 1, true) - 1)
end

-- the parent's version of the field's channel, when it is a reference to a live log
local function parent_ref(blob, field, parent_b)
  local ch = channel_of(field) .. ':'
  for _, f in ipairs(split(parent_b)) do
    if string.sub(f, 1, #ch) == ch then
      local v = redis.call('HGET', blob, f)
      if not v then return nil end
      local id, len = log_ref(v)
      if id and log_alive(blob, id, len) then return id, len end
      return nil
    end
  end
  return nil
end

local function resolve(blob, field, a, parent_b)
  local id, len, count, bytes = parse_claim(a)
  if id == '' then
    id, len = parent_ref(blob, field, parent_b())
    if id and (len > #bytes or (len > 0 and redis.call('GETRANGE', blob .. ':' .. id, 0, len - 1)
        ~= string.sub(bytes, 1, len))) then
      id = nil
    end
    if id then bytes = string.sub(bytes, len + 1) end
  end
  if id then
    local log = blob .. ':' .. id
    local cur = redis.call('STRLEN', log)
    local extra = ''
    if cur > len then extra = redis.call('GETRANGE', log, len, cur - 1) end
    if #bytes <= #extra and string.sub(extra, 1, #bytes) == bytes then
      -- the log already holds this value (a fork that went the same way, a re-put)
      return '@' .. id .. '\n' .. (len + #bytes) .. '\n' .. count, nil
    end
    if #extra <= #bytes and string.sub(bytes, 1, #extra) == extra then
      if #bytes > #extra then redis.call('APPEND', log, string.sub(bytes, #extra + 1)) end
      return '@' .. id .. '\n' .. (len + #bytes) .. '\n' .. count, nil
    end
    -- the log went on differently after the claimed prefix: a fork, which gets its own log
    if len > 0 then bytes = redis.call('GETRANGE', log, 0, len - 1) .. bytes end
  end
  local nid = new_id(blob)
  redis.call('SET', blob .. ':' .. nid, bytes)
  redis.call('HSET', blob, '@' .. nid, channel_of(field))
  return '@' .. nid .. '\n' .. #bytes .. '\n' .. count, nid
end

local function gather(blob, v)
  local id, len = log_ref(v)
  if not id then return v end
  if len == 0 then return {v, ''} end
  local bytes = redis.call('GETRANGE', blob .. ':' .. id, 0, len - 1)
  if #bytes < len then return {v, false} end
  return {v, bytes}
end
