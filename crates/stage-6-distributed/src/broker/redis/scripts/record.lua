-- ANCHOR: record
-- Records finished runs, each the same way: a result the job does not have yet becomes its
-- result; a job that ended already (a result, or a dead letter) keeps it, and the run counts as a
-- duplicate; a delivery is acknowledged only by the worker that still holds it.
-- ARGV[3]: how long to keep an ended job's record (seconds); then, per run, five values:
-- entry, job, consumer, delivery count, output. Answers one word per run.
check_epoch()
local runs = {}
for i = 4, #ARGV, 5 do
  runs[#runs + 1] = { entry = ARGV[i], job = ARGV[i + 1], consumer = ARGV[i + 2],
    count = ARGV[i + 3], output = ARGV[i + 4] }
end
local numbered = count_of(prefix .. 'next-job')
count_of(prefix .. 'completed')
count_of(prefix .. 'duplicates')

-- Who holds each run's entry, read for all the runs at once rather than one XPENDING each: the
-- stretch of the pending list between the runs' first and last entries, for each consumer that
-- sent runs (one, from a worker process). An entry not found there is looked up on its own.
local holders = {}
local spans = {}
for _, run in ipairs(runs) do
  local span = spans[run.consumer]
  if not span then
    spans[run.consumer] = { first = run.entry, last = run.entry }
  elseif below(run.entry, span.first) then
    span.first = run.entry
  elseif below(span.last, run.entry) then
    span.last = run.entry
  end
end
for consumer, span in pairs(spans) do
  for _, found in ipairs(redis.call('XPENDING', jobs, group, span.first, span.last, 100000,
      consumer)) do
    holders[found[1]] = { found[2], found[4] }
  end
end
local function holder_of(entry)
  local known = holders[entry]
  if known then
    return known[1], known[2]
  end
  return holder(entry)
end

-- The entries to acknowledge, in one XACK at the end; each record's countdown starts with it.
local acknowledged = {}
local function acknowledge_later(entry, key)
  acknowledged[#acknowledged + 1] = entry
  redis.call('EXPIRE', key, ARGV[3])
end

local answers, completed, duplicates = {}, 0, 0
for i, run in ipairs(runs) do
  local key = job_key(run.job)
  local who, deliveries = holder_of(run.entry)
  local held = who == run.consumer and deliveries == tonumber(run.count)
  local job = record_of(key)
  if job and not job[1] and held and tonumber(run.job) <= numbered then
    -- A number given out, and no record: the record was lost (deleted, evicted).
    answers[i] = 'record-lost'
  elseif not job or job[1] ~= run.entry then
    -- Not this job's entry: a stray that claims the number, a record changed by hand, or a
    -- record long forgotten.
    answers[i] = held and 'not-a-job' or 'not-held'
  elseif job[2] == 'completed' and job[3] == run.count then
    -- This very call again, after a lost answer.
    answers[i] = 'recorded'
  elseif job[2] then
    if redis.call('HSETNX', key, 'run:' .. run.count, 1) == 1 then
      duplicates = duplicates + 1
    end
    if held then
      acknowledge_later(run.entry, key)
    end
    answers[i] = 'duplicate'
  elseif who then
    redis.call('HSET', key, 'state', 'completed', 'output', run.output, 'by', run.count,
      'run:' .. run.count, 1)
    completed = completed + 1
    if held then
      acknowledge_later(run.entry, key)
      answers[i] = 'recorded'
    else
      -- Taken over meanwhile: the job is done, and its new holder will find it so.
      answers[i] = 'recorded-not-held'
    end
  else
    answers[i] = 'not-held'
  end
end
for first = 1, #acknowledged, 1000 do
  redis.call('XACK', jobs, group, unpack(acknowledged, first, math.min(first + 999, #acknowledged)))
end
if completed > 0 then
  redis.call('INCRBY', prefix .. 'completed', completed)
end
if duplicates > 0 then
  redis.call('INCRBY', prefix .. 'duplicates', duplicates)
end
return answers
-- ANCHOR_END: record
