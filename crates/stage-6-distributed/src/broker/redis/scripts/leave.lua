-- Takes a consumer out of the group, but only if it holds nothing: deleting a consumer deletes
-- its pending entries with it, and nobody could take those jobs over any more.
-- ARGV[3]: the consumer. Answers 1 if it left.
check_epoch()
if #redis.call('XPENDING', jobs, group, '-', '+', 1, ARGV[3]) > 0 then
  return 0
end
redis.call('XGROUP', 'DELCONSUMER', jobs, group, ARGV[3])
return 1
