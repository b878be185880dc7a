--[[ common.lua: helpers spliced into every script by the loader (scripts.py).

  unpack         Lua 5.1 has a global `unpack`, later versions `table.unpack`.
  split(s)       splits a "\n"-joined list (the `b` field of a checkpoint); encoded ids never
                 contain "\n", so the separator cannot occur inside an element.
  call_chunked   runs CMD KEY e1 e2 ... in chunks, because unpack() of thousands of values
                 overflows the Lua C stack.
  unlink_all(l)  UNLINK of a list of keys, in chunks for the same reason.
  thread(i)      the thread block, ARGV[i..i+5] (ops.Operations._block): checkpoint prefix,
                 writes prefix, T (the encoded thread id), "1" when the cross-thread indexes
                 are kept ("0" when not) followed by the thread's bucket suffix ("" on one
                 server, ":{g}" on a cluster: its group's tag, keys.py), the TTL in ms ("0":
                 none), and flags:
                 "r" to refresh the TTL on reads, "s" for a shallow saver (one checkpoint per
                 namespace).
                 Returns B (the thread's keys, as keys.py names them), G (the cross-thread
                 keys of the thread's bucket) and TT (the saver's rules: ttl, refresh, shallow).
  by_entry(e)    a metadata index entry "<index key>\t<value>" (keys.py's by_key): the key
                 and "<value>\n", the prefix of the entry's members ("<value>\nC\nT\nN").
  thread_of(p, w, t, sfx)  B for thread T of the bucket `sfx`: its keys are tagged {T} on
                 one server (sfx "") and {g}T in a cluster's group g (sfx ":{g}"): keys.py.
  globals(p, w, on, sfx)  G for the prefixes and one bucket: the cross-thread keys.

  Every per-thread script declares the thread's fence key last (keys.py): it is never read or
  written, it only makes Redis refuse the script (TRYAGAIN) while the thread's slot migrates.
]]
local unpack = unpack or table.unpack

local function split(s)
  local out = {}
  if s == nil or s == false or s == '' then return out end
  local pos = 1
  while true do
    local i = string.find(s, '\n', pos, true)
    if not i then
      out[#out + 1] = string.sub(s, pos)
      return out
    end
    out[#out + 1] = string.sub(s, pos, i - 1)
    pos = i + 1
  end
end

local function call_chunked(cmd, key, list)
  local n = #list
  local i = 1
  while i <= n do
    local j = math.min(i + 999, n)
    redis.call(cmd, key, unpack(list, i, j))
    i = j + 1
  end
end

local function unlink_all(list)
  local i = 1
  while i <= #list do
    local j = math.min(i + 999, #list)
    redis.call('UNLINK', unpack(list, i, j))
    i = j + 1
  end
end

-- an index entry "<index key>\t<value>" (keys.py's by_key): the key and its members' prefix
local function by_entry(e)
  local cut = #e
  while string.byte(e, cut) ~= 9 do cut = cut - 1 end
  return string.sub(e, 1, cut - 1), string.sub(e, cut + 1) .. '\n'
end

local function thread_of(p, w, t, sfx)
  local tg = sfx == '' and ('{' .. t .. '}') or (string.sub(sfx, 2) .. t)
  return {cp = p .. ':' .. tg .. ':', write = w .. ':' .. tg .. ':', blob = p .. '_blob:' .. tg .. ':',
          idx = p .. '_idx:' .. tg .. ':', wo = p .. '_wo:' .. tg .. ':', ns_set = p .. '_ns:' .. tg,
          xref = p .. '_xref:' .. tg, pin = p .. '_pin:' .. tg, tag = t}
end

local function globals(p, w, on, sfx)
  return {on = on, all = p .. '_all' .. sfx, run_base = p .. '_run' .. sfx .. ':',
          exp = p .. '_exp' .. sfx, by_base = p .. '_by' .. sfx .. ':', prefix = p, wprefix = w,
          sfx = sfx}
end

local function thread(i)
  local p, w, g = ARGV[i], ARGV[i + 1], ARGV[i + 3]
  local G = globals(p, w, string.sub(g, 1, 1) == '1', string.sub(g, 2))
  local flags = ARGV[i + 5]
  return thread_of(p, w, ARGV[i + 2], G.sfx), G, {ttl = tonumber(ARGV[i + 4]),
    refresh = string.find(flags, 'r', 1, true) ~= nil, shallow = string.find(flags, 's', 1, true) ~= nil}
end
