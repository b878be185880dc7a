--[[ run_members: the checkpoints of some runs, from some buckets (delete_for_runs).

  No KEYS: sent to each master with the buckets of its slots (as list_buckets-0.lua).

  ARGV[1]  prefix: the checkpoint key prefix     ("checkpoint")
  ARGV[2]  nr: the number of runs
  ARGV[3 .. 2+nr]  runs: the encoded run ids
  ARGV[3+nr ..]  the bucket suffixes ("" on one server)

  Returns the members "T\nN\nC" of every `checkpoint_run<sfx>:R`, flat.
]]
local out = {}
local nr = tonumber(ARGV[2])
for i = 3 + nr, #ARGV do
  for j = 3, 2 + nr do
    for _, m in ipairs(redis.call('SMEMBERS', ARGV[1] .. '_run' .. ARGV[i] .. ':' .. ARGV[j])) do
      out[#out + 1] = m
    end
  end
end
return out
