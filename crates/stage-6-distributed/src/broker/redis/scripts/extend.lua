-- ANCHOR: extend
-- Starts a delivery's lease again, only if the delivery is still the caller's: a worker whose
-- job was taken over learns it here, and stops. XCLAIM of the job by its own holder with a
-- minimum idle time of 0 resets the idle time, which is the lease; JUSTID leaves the delivery
-- count alone.
-- ARGV[3…5]: entry, consumer, delivery count. Answers 1 if extended, 0 if lost.
check_epoch()
local entry, consumer, count = ARGV[3], ARGV[4], ARGV[5]
if not holds(entry, consumer, count) then
  return 0
end
redis.call('XCLAIM', jobs, group, consumer, 0, entry, 'JUSTID')
return 1
-- ANCHOR_END: extend
