-- What every script of the Redis broker starts with. Each script is one atomic step: Redis runs
-- it with nothing else in between. It is not a transaction that rolls back, though: a write that
-- fails half-way leaves the writes before it in place. So every script checks all it depends on
-- before its first write, and the first write is one that Redis refuses when it is out of memory,
-- which it does before anything else is written.
--
-- ARGV[1] is the queue's key prefix (`pool:`), ARGV[2] the epoch the caller connected to. The
-- broker runs on one Redis server, not a cluster, so the key names are built here from the prefix
-- rather than declared in KEYS.
local prefix = ARGV[1]
local jobs = prefix .. 'jobs'
local group = 'workers'

local function job_key(job_id)
  return prefix .. 'job:' .. job_id
end

-- Raises an error reply whose first word is `code`, which the broker maps to its own errors.
local function fail(code, message)
  error({ err = code .. ' ' .. message })
end

-- What `key` holds: 'none', 'string', 'hash', 'stream', …
local function kind_of(key)
  return redis.call('TYPE', key)['ok']
end

-- Refuses to go on if `key` holds something other than `kind` (or nothing): the queue's data
-- was changed by hand, and no step can be sure of what it writes.
local function expect(key, kind)
  local found = kind_of(key)
  if found ~= 'none' and found ~= kind then
    fail('DAMAGED', key .. ' holds a ' .. found .. ' where the queue keeps a ' .. kind)
  end
end

-- The string at `key` (false if it has none), refusing a key of another kind. The GET itself
-- finds out: asking the key's type first would cost a command on every call.
local function string_at(key)
  local value = redis.pcall('GET', key)
  if type(value) == 'table' and value.err then
    expect(key, 'string')
  end
  return value
end

-- The count in `key` (0 if it has none), refusing one that a script's INCRBY would fail on.
local function count_of(key)
  local value = string_at(key)
  if not value then
    return 0
  end
  if not string.match(value, '^%d+$') or #value > 15 then
    fail('DAMAGED', key .. ' holds ' .. string.sub(value, 1, 40) .. ', which is not a count')
  end
  return tonumber(value)
end

-- A queue whose epoch is missing or changed is not the one the caller connected to: the broker
-- lost its data since (a restart without persistence, a fail-over to an empty replica).
local function check_epoch()
  if string_at(prefix .. 'epoch') ~= ARGV[2] then
    fail('STATELOST', 'its epoch is missing or changed: the broker restarted without its data, '
      .. 'or failed over to a replica that never had it')
  end
end

-- A job's record, as { entry, state, by }, or nil if `key` holds something other than a record
-- (changed by hand): such a job is no job this queue can settle.
local function record_of(key)
  local found = redis.pcall('HMGET', key, 'entry', 'state', 'by')
  if found.err then
    return nil
  end
  return found
end

-- Who holds `entry` now and its delivery count, or nil if it is not pending.
local function holder(entry)
  local pending = redis.call('XPENDING', jobs, group, entry, entry, 1)
  if #pending == 0 then
    return nil, 0
  end
  return pending[1][2], pending[1][4]
end

-- The fence: whether `entry` is still pending under `consumer`, at delivery `count`.
local function holds(entry, consumer, count)
  local who, deliveries = holder(entry)
  return who == consumer and deliveries == tonumber(count)
end

-- Acknowledges `entry` and starts the countdown on its job's record.
local function acknowledge(entry, key, keep_seconds)
  redis.call('XACK', jobs, group, entry)
  redis.call('EXPIRE', key, keep_seconds)
end

-- Whether stream id `a` comes before `b`. Ids are `<ms>-<seq>`, and neither part fits a Lua
-- number once it is large, so they are compared as digits: a shorter number is a smaller one.
local function below(a, b)
  local a_ms, a_seq = string.match(a, '^(%d+)-(%d+)$')
  local b_ms, b_seq = string.match(b, '^(%d+)-(%d+)$')
  if a_ms ~= b_ms then
    return #a_ms < #b_ms or (#a_ms == #b_ms and a_ms < b_ms)
  end
  return #a_seq < #b_seq or (#a_seq == #b_seq and a_seq < b_seq)
end

-- The value of field `name` in a stream entry's flat list of fields and values, or nil.
local function field(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then
      return fields[i + 1]
    end
  end
  return nil
end
