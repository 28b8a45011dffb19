-- ANCHOR: connect
-- Finds the queue under the prefix, or makes it: the stream, its consumer group, and the epoch,
-- a token that names this incarnation of the queue. Every later step checks that the epoch is
-- still the one its caller found here.
-- ARGV[2]: a fresh token, the epoch of a queue made now; ARGV[3]: 'make' or 'find'.
local epoch_key = prefix .. 'epoch'
expect(epoch_key, 'string')
local epoch = redis.call('GET', epoch_key)
if epoch then
  local groups = redis.pcall('XINFO', 'GROUPS', jobs)
  if groups['err'] == nil then
    for _, found in ipairs(groups) do
      for i = 1, #found, 2 do
        if found[i] == 'name' and found[i + 1] == group then
          return epoch
        end
      end
    end
  end
  fail('STATELOST', 'the queue has an epoch but its stream or group is gone')
end
-- No epoch. Jobs numbered here before mean the epoch went with part of the state.
if redis.call('EXISTS', prefix .. 'next-job') == 1 then
  fail('STATELOST', 'jobs were added under this name, but the queue has no epoch')
end
if ARGV[3] ~= 'make' then
  fail('NOQUEUE', 'no queue')
end
expect(jobs, 'stream')
local made = redis.pcall('XGROUP', 'CREATE', jobs, group, '0', 'MKSTREAM')
if made['err'] and not string.find(made['err'], '^BUSYGROUP') then
  return made
end
redis.call('SET', epoch_key, ARGV[2])
return ARGV[2]
-- ANCHOR_END: connect
