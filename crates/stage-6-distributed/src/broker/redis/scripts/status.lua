-- The queue's counts at one moment: jobs numbered, completed, dead-lettered, duplicate runs,
-- entries that were not jobs; XPENDING's summary of who holds what; and the group's lag, the
-- entries it has not read (Redis 7; -1 where the server does not say).
check_epoch()
local counts = {}
for i, name in ipairs({ 'next-job', 'completed', 'dead-lettered', 'duplicates', 'not-jobs' }) do
  -- A count that is not a number is not an account: say so rather than read it as 0.
  counts[i] = count_of(prefix .. name)
end
counts[6] = redis.call('XPENDING', jobs, group)[4] or {}
counts[7] = -1
for _, found in ipairs(redis.call('XINFO', 'GROUPS', jobs)) do
  local info = {}
  for i = 1, #found, 2 do
    info[found[i]] = found[i + 1]
  end
  if info['name'] == group and type(info['lag']) == 'number' then
    counts[7] = info['lag']
  end
end
return counts
