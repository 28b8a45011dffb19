-- The queue's counts at one moment: jobs numbered, completed, dead-lettered, duplicate runs,
-- entries that were not jobs, and XPENDING's summary of who holds what.
check_epoch()
local names = { 'next-job', 'completed', 'dead-lettered', 'duplicates', 'not-jobs' }
for i, name in ipairs(names) do
  names[i] = prefix .. name
  -- A count that is not a number is not an account: say so rather than read it as 0.
  expect(names[i], 'string')
end
local counts = redis.call('MGET', unpack(names))
for i = 1, 5 do
  counts[i] = tonumber(counts[i]) or 0
end
counts[6] = redis.call('XPENDING', jobs, group)[4] or {}
return counts
