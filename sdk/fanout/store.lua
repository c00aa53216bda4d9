-- Stores one batch of events into their streams, each venue event at most once whoever sends it.
-- KEYS: the streams of the batch. ARGV: dedupe window (ms), MAXLEN, collector name, then per stream
-- of the batch: its index in KEYS, how many events follow, and per event its identity (a digest of
-- its event key; '' for a control event, never de-duplicated) and its encoded event.
-- Identities are remembered in a hash per stream and per window of the server's clock, looked up in
-- the current and the previous window: a copy arriving up to one whole window after the first is
-- refused whatever clocks the publishers have. Returns how many entries were added.
local now = redis.call('TIME')
local window = tonumber(ARGV[1])
local bucket = math.floor((tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)) / window)
local maxlen = ARGV[2]
local collector = ARGV[3]
local added = 0
local i = 4
while i <= #ARGV do
  local stream = KEYS[tonumber(ARGV[i])]
  local count = tonumber(ARGV[i + 1])
  local first = i + 2
  i = first + 2 * count
  if ARGV[first] == '' then
    for j = first, i - 1, 2 do
      redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'e', ARGV[j + 1], 'c', collector)
    end
    added = added + count
  else
    local current = stream .. ':seen:' .. string.format('%d', bucket)
    local previous = stream .. ':seen:' .. string.format('%d', bucket - 1)
    local identities = {}
    for j = first, i - 1, 2 do
      identities[#identities + 1] = ARGV[j]
    end
    local in_previous = redis.call('HMGET', previous, unpack(identities))
    local in_current = redis.call('HMGET', current, unpack(identities))
    local marks, marked = {}, {}
    for k = 1, count do
      local identity = identities[k]
      if not in_previous[k] and not in_current[k] and not marked[identity] then
        marked[identity] = true
        redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'e', ARGV[first + 2 * k - 1])
        marks[#marks + 1] = identity
        marks[#marks + 1] = ''
      end
    end
    if #marks > 0 then
      redis.call('HSET', current, unpack(marks))
      redis.call('PEXPIRE', current, 2 * window)
      added = added + #marks / 2
    end
  end
end
return added
