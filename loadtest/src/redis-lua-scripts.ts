/**
 * The ASP.NET Redis session-state provider's lock protocol, done atomically in Lua: a lock key with
 * a TTL holding the lock id next to the data key, and write-and-release only when the lock id
 * still matches. Each script is one round trip, as in the provider.
 */

/** KEYS: lock, data. ARGV: ttl seconds. Returns {1, data} | {2} (not found) | {3, holder} (locked). */
export const REDIS_GET_SCRIPT = `
local holder = redis.call('GET', KEYS[1])
if holder then return {3, holder} end
local data = redis.call('GET', KEYS[2])
if not data then return {2} end
redis.call('EXPIRE', KEYS[2], ARGV[1])
return {1, data}
`;

/**
 * KEYS: lock, data. ARGV: lock id, lease ms, ttl seconds, create ('1' or '0').
 * Returns {1, data} (locked by us) | {2} (not found) | {3, holder} (locked by someone else).
 */
export const REDIS_LOCK_SCRIPT = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {3, redis.call('GET', KEYS[1])}
end
local data = redis.call('GET', KEYS[2])
if not data then
  if ARGV[4] == '1' then
    redis.call('SET', KEYS[2], '', 'EX', ARGV[3])
    return {1, ''}
  end
  redis.call('DEL', KEYS[1])
  return {2}
end
redis.call('EXPIRE', KEYS[2], ARGV[3])
return {1, data}
`;

/**
 * KEYS: lock, data. ARGV: lock id ('' for an unlocked write), data, ttl seconds.
 * Returns 1 when written (and the lock released), 0 when refused (lock held by another id).
 */
export const REDIS_SET_SCRIPT = `
if ARGV[1] ~= '' then
  if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
  redis.call('DEL', KEYS[1])
elseif redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
return 1
`;
