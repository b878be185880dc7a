--[[ filter.lua: metadata equality on the plaintext `f:<key>` fields of a checkpoint.

  read_filter(i) -> names, expected: ARGV[i], ARGV[i+1], ... as pairs ("f:<key>", encoded value).
  matches(cp_key, names, expected) -> true when every named field equals its expected value.
  The encoding (codec.py) makes Python equality hold: 1, 1.0 and True all encode as "i1".
  An expected "n" (None) also matches a missing key, as `metadata.get(key) == None` does.
  The caller re-checks in Python, so a key whose value has no scalar encoding is not sent here.
]]
--@include common
local function read_filter(i)
  local names, expected = {}, {}
  while i < #ARGV do
    names[#names + 1] = ARGV[i]
    expected[#expected + 1] = ARGV[i + 1]
    i = i + 2
  end
  return names, expected
end

local function matches(cp_key, names, expected)
  if #names == 0 then return true end
  local vals = redis.call('HMGET', cp_key, unpack(names))
  for i = 1, #names do
    local v = vals[i]
    if v then
      if v ~= expected[i] then return false end
    elseif expected[i] ~= 'n' then
      return false
    end
  end
  return true
end
