-- ANCHOR: reject
-- Moves an entry that is not a job (no job number, no payload: written by another program, an
-- older version, or by hand) to the dead-letter stream, with its fields as they were, and
-- acknowledges it, so that it never holds up the jobs around it.
-- ARGV[3]: the most dead letters to keep; ARGV[4…7]: entry, consumer, delivery count, reason.
check_epoch()
local entry, consumer, count, reason = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if not holds(entry, consumer, count) then
  return 'not-held'
end
local dead = prefix .. 'dead'
expect(dead, 'stream')
count_of(prefix .. 'not-jobs')
-- The entry's fields, kept for whoever looks into it: whole if small, else only their names,
-- so that a huge entry is not copied.
local found = redis.call('XRANGE', jobs, entry, entry)[1]
local fields, size = {}, 0
if found then
  fields = found[2]
  for _, part in ipairs(fields) do
    size = size + #part
  end
end
if size > 65536 then
  local names = {}
  for i = 1, #fields, 2 do
    names[#names + 1] = fields[i]
  end
  fields = names
end
redis.call('XADD', dead, 'MAXLEN', ARGV[3], '*', 'entry', entry, 'deliveries', count,
  'error', reason, 'fields', cjson.encode(fields))
redis.call('INCR', prefix .. 'not-jobs')
redis.call('XACK', jobs, group, entry)
return 'not-a-job'
-- ANCHOR_END: reject
