-- ANCHOR: submit
-- Adds jobs, numbering them from the queue's counter, so that any number of producers at once
-- get numbers nobody else has. The stream gives each entry its id (`*`); the job's record keeps
-- it, so that a later step can tell a job from an entry that only claims to be one.
-- ARGV[3]: the producer; ARGV[4]: its batch number; ARGV[5]: how long to remember the batch
-- (seconds); ARGV[6]: the most jobs that may be waiting or in flight, 0 for no limit;
-- ARGV[7…]: the jobs' payloads.
check_epoch()
local producer = prefix .. 'producer:' .. ARGV[3]
expect(producer, 'hash')
local last = redis.call('HMGET', producer, 'batch', 'first', 'added')
if last[1] == ARGV[4] then
  -- The same batch again: the producer lost the answer. It was added once; say how.
  return { tonumber(last[2]), tonumber(last[3]) }
end
local numbered = count_of(prefix .. 'next-job')
local room = #ARGV - 6
local most = tonumber(ARGV[6])
if most > 0 then
  local backlog = numbered - count_of(prefix .. 'completed') - count_of(prefix .. 'dead-lettered')
  room = math.max(0, math.min(room, most - backlog))
end
if room == 0 then
  return { 0, 0 }
end
expect(jobs, 'stream')
local top = redis.call('XREVRANGE', jobs, '+', '-', 'COUNT', 1)[1]
if top and string.find(top[1], '^18446744073709551615%-') then
  fail('DAMAGED', jobs .. "'s last entry has the largest id there is: nothing can follow it")
end
for id = numbered + 1, numbered + room do
  if kind_of(job_key(id)) ~= 'none' then
    fail('DAMAGED', 'job ' .. id .. ' already has a record: the count of jobs added was lost')
  end
end
local first = redis.call('INCRBY', prefix .. 'next-job', room) - room + 1
for i = 1, room do
  local id = first + i - 1
  local entry = redis.call('XADD', jobs, '*', 'job', id, 'payload', ARGV[6 + i])
  redis.call('HSET', job_key(id), 'entry', entry)
end
redis.call('HSET', producer, 'batch', ARGV[4], 'first', first, 'added', room)
redis.call('EXPIRE', producer, ARGV[5])
return { first, room }
-- ANCHOR_END: submit
