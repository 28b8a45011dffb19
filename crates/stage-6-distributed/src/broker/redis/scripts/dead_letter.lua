-- ANCHOR: dead_letter
-- Moves a job to the dead-letter stream and acknowledges it, but only if the delivery is still
-- the caller's and the job has no result: a job ends one way, never two.
-- ARGV[3]: how long to keep the job's record (seconds); ARGV[4]: the most dead letters to keep;
-- ARGV[5…9]: entry, job, consumer, delivery count, reason.
check_epoch()
local entry, job_id, consumer, count, reason = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local key = job_key(job_id)
local job = record_of(key)
local held = holds(entry, consumer, count)
-- A number given out whose record was lost (deleted, evicted) is still a job, to end here.
local lost = job and not job[1] and tonumber(job_id) <= count_of(prefix .. 'next-job')
if not job or (job[1] ~= entry and not lost) then
  return held and 'not-a-job' or 'not-held'
end
if job[2] then
  -- Ended already: a result recorded by a run that had lost its lease, or this call again.
  if held then
    acknowledge(entry, key, ARGV[3])
  end
  return job[2] == 'completed' and 'already-completed' or 'dead-lettered'
end
if not held then
  return 'not-held'
end
local dead = prefix .. 'dead'
expect(dead, 'stream')
count_of(prefix .. 'dead-lettered')
local found = redis.call('XRANGE', jobs, entry, entry)[1]
local payload = found and field(found[2], 'payload') or ''
redis.call('XADD', dead, 'MAXLEN', ARGV[4], '*', 'job', job_id, 'entry', entry,
  'deliveries', count, 'error', reason, 'payload', payload)
redis.call('HSET', key, 'entry', entry, 'state', 'dead', 'by', count, 'error', reason)
redis.call('INCR', prefix .. 'dead-lettered')
acknowledge(entry, key, ARGV[3])
return 'dead-lettered'
-- ANCHOR_END: dead_letter
