-- ANCHOR: trim
-- Deletes the stream's entries below the oldest one still needed: the oldest pending, or else
-- the first the group has not read. Everything below it is acknowledged, its job ended and
-- recorded elsewhere. Answers how many entries went.
check_epoch()
local function below(a, b)
  local a_ms, a_seq = string.match(a, '^(%d+)-(%d+)$')
  local b_ms, b_seq = string.match(b, '^(%d+)-(%d+)$')
  a_ms, a_seq, b_ms, b_seq = tonumber(a_ms), tonumber(a_seq), tonumber(b_ms), tonumber(b_seq)
  return a_ms < b_ms or (a_ms == b_ms and a_seq < b_seq)
end
local last_read
for _, found in ipairs(redis.call('XINFO', 'GROUPS', jobs)) do
  local info = {}
  for i = 1, #found, 2 do
    info[found[i]] = found[i + 1]
  end
  if info['name'] == group then
    last_read = info['last-delivered-id']
  end
end
if not last_read then
  fail('STATELOST', 'the consumer group is gone')
end
local ms, seq = string.match(last_read, '^(%d+)-(%d+)$')
local keep_from = ms .. '-' .. (tonumber(seq) + 1)
local pending = redis.call('XPENDING', jobs, group)
if pending[1] > 0 and below(pending[2], keep_from) then
  keep_from = pending[2]
end
return redis.call('XTRIM', jobs, 'MINID', keep_from)
-- ANCHOR_END: trim
