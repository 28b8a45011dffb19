-- ANCHOR: dead_letter
-- Moves a job to the dead-letter stream and acknowledges it, but only if the delivery is still
-- the caller's and the job has no result: a job ends one way, never two.
-- ARGV[3]: how long to keep the job's record (seconds); ARGV[4]: the most dead letters to keep;
-- ARGV[5…9]: entry, job, consumer, delivery count, reason.
check_epoch()
local entry, job_id, consumer, count, reason = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local key = job_key(job_id)
local job = redis.call('HMGET', key, 'entry', 'state')
local held = holds(entry, consumer, count)
if job[1] ~= entry then
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
expect(prefix .. 'dead-lettered', 'string')
expect(key, 'hash')
local payload = field(redis.call('XRANGE', jobs, entry, entry)[1][2], 'payload') or ''
redis.call('XADD', dead, 'MAXLEN', ARGV[4], '*', 'job', job_id, 'entry', entry,
  'deliveries', count, 'error', reason, 'payload', payload)
redis.call('HSET', key, 'state', 'dead', 'by', count, 'error', reason)
redis.call('INCR', prefix .. 'dead-lettered')
acknowledge(entry, key, ARGV[3])
return 'dead-lettered'
-- ANCHOR_END: dead_letter
