-- Stores one batch of events into their streams, each venue event at most once whoever sends it.
-- KEYS: the streams of the batch. ARGV: dedupe window (ms), MAXLEN, collector name, then per event:
-- the index of its stream in KEYS, its identity ('' for a control event, never de-duplicated), its
-- encoded event. An identity is remembered in a hash per stream and per window of server time, and
-- looked up in the current and the previous window: a copy arriving up to one whole window after
-- the first is refused whatever clocks the publishers have. Returns how many entries were added.
local now = redis.call('TIME')
local window = tonumber(ARGV[1])
local bucket = math.floor((tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)) / window)
local maxlen = ARGV[2]
local collector = ARGV[3]
local current, previous, touched = {}, {}, {}
local added = 0
for i = 4, #ARGV, 3 do
  local index = tonumber(ARGV[i])
  local stream = KEYS[index]
  local identity = ARGV[i + 1]
  if identity == '' then
    redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'k', '', 'e', ARGV[i + 2], 'c', collector)
    added = added + 1
  else
    if current[index] == nil then
      current[index] = stream .. ':seen:' .. string.format('%d', bucket)
      previous[index] = stream .. ':seen:' .. string.format('%d', bucket - 1)
    end
    if redis.call('HEXISTS', previous[index], identity) == 0
        and redis.call('HSETNX', current[index], identity, '') == 1 then
      redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'k', identity, 'e', ARGV[i + 2])
      added = added + 1
      touched[index] = true
    end
  end
end
for index in pairs(touched) do
  redis.call('PEXPIRE', current[index], 2 * window)
end
return added
