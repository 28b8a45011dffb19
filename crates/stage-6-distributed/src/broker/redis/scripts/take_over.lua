-- ANCHOR: take_over
-- Claims entries whose lease ran out, raising each one's delivery count, and answers each as
-- { entry, delivery count, fields }. A claimed entry whose job has ended already (recorded by a
-- worker that had lost its lease, and whose new holder died) is acknowledged instead.
-- ARGV[3]: how long to keep an ended job's record (seconds); ARGV[4]: the consumer;
-- ARGV[5]: the lease in milliseconds; ARGV[6]: the most entries to claim.
check_epoch()
local consumer, lease, wanted = ARGV[4], ARGV[5], tonumber(ARGV[6])
local claimed = {}
-- XAUTOCLAIM looks at a bounded stretch of the pending list per call and says where to go on;
-- the expired entries may lie past it, so go on until enough are claimed or the list is done.
local cursor = '0-0'
repeat
  local reply = redis.call('XAUTOCLAIM', jobs, group, consumer, lease, cursor,
    'COUNT', wanted - #claimed)
  cursor = reply[1]
  for _, found in ipairs(reply[2]) do
    -- Redis 6.2 lists an entry deleted from the stream as nil; none is deleted while pending.
    if found then
      local entry, fields = found[1], found[2]
      local job_id = field(fields, 'job')
      local key = job_id and string.match(job_id, '^%d+$') and job_key(job_id)
      local job = key and record_of(key)
      if job and job[1] == entry and job[2] then
        acknowledge(entry, key, ARGV[3])
      else
        local _, count = holder(entry)
        claimed[#claimed + 1] = { entry, count, fields }
      end
    end
  end
until #claimed >= wanted or cursor == '0-0'
return claimed
-- ANCHOR_END: take_over
