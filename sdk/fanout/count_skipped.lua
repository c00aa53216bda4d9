-- Counts entries a consumer group skipped because trimming removed them before it read them.
-- The server counts only the entries it delivers, so without this the group would look behind by
-- the skipped entries forever and the next trimming would be reported with them again.
-- KEYS[1]: the stream. ARGV[1]: the group, ARGV[2]: how many entries it skipped.
-- The group stays where it is (its current last delivered id); only its counter moves, in one step,
-- whatever its readers did since the skip was seen.
for _, fields in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    local group = {}
    for index = 1, #fields, 2 do
        group[fields[index]] = fields[index + 1]
    end
    if group['name'] == ARGV[1] then
        if not group['entries-read'] then
            return 0
        end
        redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], group['last-delivered-id'],
            'ENTRIESREAD', group['entries-read'] + tonumber(ARGV[2]))
        return 1
    end
end
return 0
