-- ANCHOR: trim
-- Deletes the stream's entries below the oldest one still needed: the oldest pending, or else
-- the last the group has read. Everything below it is acknowledged, its job ended and recorded
-- elsewhere. Answers how many entries went. Also takes out of the group the consumers that hold
-- nothing and have not read for ARGV[3] milliseconds: processes that died with nothing in hand.
check_epoch()
local keep_from
for _, found in ipairs(redis.call('XINFO', 'GROUPS', jobs)) do
  local info = {}
  for i = 1, #found, 2 do
    info[found[i]] = found[i + 1]
  end
  if info['name'] == group then
    keep_from = info['last-delivered-id']
  end
end
if not keep_from then
  fail('STATELOST', 'the consumer group is gone')
end
local pending = redis.call('XPENDING', jobs, group)
if pending[1] > 0 and below(pending[2], keep_from) then
  keep_from = pending[2]
end
for _, found in ipairs(redis.call('XINFO', 'CONSUMERS', jobs, group)) do
  local info = {}
  for i = 1, #found, 2 do
    info[found[i]] = found[i + 1]
  end
  if info['pending'] == 0 and info['idle'] > tonumber(ARGV[3]) then
    redis.call('XGROUP', 'DELCONSUMER', jobs, group, info['name'])
  end
end
return redis.call('XTRIM', jobs, 'MINID', keep_from)
-- ANCHOR_END: trim
