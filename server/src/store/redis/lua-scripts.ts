/**
 * The server-side scripts of the Redis backend: each operation is one script, so that a session's
 * lock state, version, ttl, data, fencing ids and waiter queue never change in two steps, on one
 * Redis or in a Redis Cluster. A session is one hash (KEYS[1], the only key a script touches: a
 * single-key script is never refused with TRYAGAIN while its slot moves, only redirected). Fields:
 *
 * | field | meaning |
 * | --- | --- |
 * | v, ttl, exp | version, ttl in s, logical expiry (ms) |
 * | lid, lat, le, gw | holder's lock id (0: unlocked), locked at, lease end (ms), waiter it was granted to |
 * | lf, first | last lock id issued; first lock id of this incarnation |
 * | lrel, llease | last lock id released by its holder; last one ended by its lease |
 * | qh, qt, qn | waiter queue: head and tail sequence numbers, entries |
 * | q<n> | a queued call: `kind|node|waiter|deadline|lease` (kind r = Get, w = Lock) |
 * | d | the data |
 *
 * Time: ARGV[1] is the caller's clock in microseconds (strictly increasing per caller), or empty
 * for Redis's own TIME (production: one clock for every node). A lock id is that time in µs, or one
 * more than the session's last id if that is later: ids only grow, across removal and re-creation
 * (a new incarnation's first id is later than any id of the old one, which was issued earlier) and
 * across restarts of Stateward or of Redis, as long as that clock does not step back.
 *
 * Redis frees the memory itself: every script that leaves the session in place sets its PEXPIRE
 * to the later of its expiry and its lease end, so a locked session never expires before its
 * lease ends. The scripts also check the logical expiry, which decides (a clock in tests may run
 * ahead of Redis's).
 *
 * Waking: when a lock is released (Set, Release, Remove, lease end), the script serves the queue:
 * the readers ahead of the first writer are answered with the data, and the first writer is granted
 * the lock; each answer is PUBLISHed to the channel of the waiter's node, `<prefix>wake:<node>`,
 * as `r <waiter>,<waiter>... <version> <ttl>\n<data>` (the readers of one node in one message, so
 * the data goes once), `w <waiter> <lockId> <version> <ttl> <lease>\n<data>` or `g <waiter>` (the
 * session is gone), or `t <waiter>` (its wait was over when its turn came: its node answers it as a
 * wait that ended). A removal or an expiry the scripts see publishes
 * `removed <key>` or `expired <key>` on `<prefix>events`.
 *
 * Replies are arrays whose first element is a code: 1 ok, 0 not found, 2 locked, 3 queued, 4 queue
 * full, 5 withdrawn, -1 a conflict (then a conflict code and its facts).
 */
import { createHash } from "node:crypto";

/** Reply codes of the scripts. */
export const REPLY = Object.freeze({ OK: 1, NOT_FOUND: 0, LOCKED: 2, QUEUED: 3, QUEUE_FULL: 4, WITHDRAWN: 5, CONFLICT: -1 });

/** Conflict codes (second element of a CONFLICT reply). */
export const CONFLICT = Object.freeze({
  /** lock_id 0 on a locked session: [holder, heldMs]. */
  LOCKED_BY_OTHER: 1,
  /** lock_id older than this incarnation ([0]), or a lock id on a missing session ([1]). */
  SESSION_GONE: 2,
  /** the lock ended by its lease. */
  LEASE_EXPIRED: 3,
  /** the lock was released, or another holds it: [holder]. */
  STALE_LOCK_ID: 4,
  /** expected_version mismatch: [version] (0: the session does not exist). */
  VERSION_MISMATCH: 5,
  /** Remove of a locked session without the holder's id: [holder]. */
  REMOVE_LOCKED: 6,
});

/** Argument positions shared by every script: ARGV[1] now, ARGV[2] prefix, ARGV[3] node id. */
const PRELUDE = String.raw`
local S = KEYS[1]
local nowUs
if ARGV[1] == '' then
  local t = redis.call('TIME')
  nowUs = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  nowUs = tonumber(ARGV[1])
end
local nowMs = math.floor(nowUs / 1000)
local PREFIX = ARGV[2]
local NODE = ARGV[3]
--FAST--
local FIELDS = {'v','ttl','exp','lid','lat','le','gw','lf','first','lrel','llease','qh','qt','qn'}
local s = nil
local dirty = {}

local function load()
  local raw = redis.call('HMGET', S, unpack(FIELDS))
  if not raw[1] then s = nil return end
  s = {}
  for i, f in ipairs(FIELDS) do
    local x = raw[i]
    if f == 'gw' then s[f] = x or '' else s[f] = tonumber(x) or 0 end
  end
end

local function put(f, x) s[f] = x dirty[#dirty + 1] = f end

local function touch() put('exp', nowMs + s.ttl * 1000) end

local function save()
  local args = {}
  for _, f in ipairs(dirty) do
    if args[f] == nil then args[f] = true end
  end
  local flat = {}
  for f, _ in pairs(args) do
    flat[#flat + 1] = f
    local x = s[f]
    if type(x) == 'number' then flat[#flat + 1] = string.format('%.0f', x) else flat[#flat + 1] = x end
  end
  if #flat > 0 then redis.call('HSET', S, unpack(flat)) end
  dirty = {}
  local untilMs = s.exp
  if s.lid ~= 0 and s.le > untilMs then untilMs = s.le end
  local left = untilMs - nowMs
  if left < 1 then left = 1 end
  redis.call('PEXPIRE', S, string.format('%.0f', left))
end

-- Every reply goes through done: whatever settle or the operation changed is written first.
local function done(reply)
  if s ~= nil and #dirty > 0 then save() end
  return reply
end

local function nextId()
  local id = s.lf + 1
  if nowUs > id then id = nowUs end
  put('lf', id)
  return id
end

local function wake(node, msg) redis.call('PUBLISH', PREFIX .. 'wake:' .. node, msg) end

local function parse(entry)
  local kind, node, w, deadline, lease = string.match(entry, '^(%a)|([^|]*)|([^|]*)|([^|]*)|([^|]*)$')
  return kind, node, w, tonumber(deadline), tonumber(lease)
end

local function grant(lease, grantee)
  local id = nextId()
  put('lid', id) put('lat', nowMs) put('le', nowMs + lease) put('gw', grantee)
  return id
end

-- After an unlock: readers ahead of the first writer get the data, the first writer the lock.
local function serve()
  local data = nil
  -- Readers are answered in one message per node: the data goes once, whatever their number.
  local readers = {}
  local nodes = {}
  while s.qn > 0 and s.lid == 0 and s.qh < s.qt do
    local field = 'q' .. string.format('%.0f', s.qh)
    local entry = redis.call('HGET', S, field)
    put('qh', s.qh + 1)
    if entry then
      redis.call('HDEL', S, field)
      put('qn', s.qn - 1)
      local kind, node, w, deadline, lease = parse(entry)
      -- A waiter whose wait is over is skipped; its node (if it is still there) is told, and
      -- answers it as a wait that ended now.
      if deadline < nowMs then
        wake(node, 't ' .. w)
      else
        touch()
        if data == nil then data = redis.call('HGET', S, 'd') or '' end
        if kind == 'r' then
          if readers[node] == nil then readers[node] = {} nodes[#nodes + 1] = node end
          local list = readers[node]
          list[#list + 1] = w
        else
          local id = grant(lease, node .. '|' .. w)
          wake(node, 'w ' .. w .. ' ' .. string.format('%.0f', id) .. ' ' .. string.format('%.0f', s.v) .. ' ' .. s.ttl .. ' ' .. lease .. '\n' .. data)
        end
      end
    end
  end
  for _, node in ipairs(nodes) do
    wake(node, 'r ' .. table.concat(readers[node], ',') .. ' ' .. string.format('%.0f', s.v) .. ' ' .. s.ttl .. '\n' .. data)
  end
  if s.qn == 0 then put('qh', 0) put('qt', 0) end
end

local function release(lastField)
  put(lastField, s.lid)
  put('lid', 0) put('gw', '')
  serve()
end

-- Deletes the session: its waiters are told it is gone.
local function delete(reason)
  local n = s.qh
  while s.qn > 0 and n < s.qt do
    local entry = redis.call('HGET', S, 'q' .. string.format('%.0f', n))
    if entry then
      local _, node, w = parse(entry)
      wake(node, 'g ' .. w)
      s.qn = s.qn - 1
    end
    n = n + 1
  end
  redis.call('DEL', S)
  redis.call('PUBLISH', PREFIX .. 'events', reason .. ' ' .. S)
  s = nil
end

-- Brings the session up to date: an ended lease is released (serving the queue), an expired
-- session deleted. A locked session does not expire before its lease ends.
local function settle()
  load()
  if s == nil then return end
  if s.lid ~= 0 then
    if s.le > nowMs then return end
    put('llease', s.lid) put('lid', 0) put('gw', '')
    if s.exp <= nowMs then delete('expired') return end
    serve()
    return
  end
  if s.exp <= nowMs then delete('expired') end
end

local function create(ttl, data)
  s = {v = 1, ttl = ttl, exp = nowMs + ttl * 1000, lid = 0, lat = 0, le = 0, gw = '', lf = 0, first = 0,
       lrel = 0, llease = 0, qh = 0, qt = 0, qn = 0}
  s.first = nowUs
  for _, f in ipairs(FIELDS) do dirty[#dirty + 1] = f end
  redis.call('HSET', S, 'd', data)
end

local function lockedReply()
  local age = nowMs - s.lat
  if age < 0 then age = 0 end
  return {2, s.lid, math.floor(age), s.ttl}
end

-- Queues a call (kind r or w) at the tail; {4, n} when the queue is full.
local function enqueue(kind, w, waitMs, lease, maxWaiters)
  if s.qn >= maxWaiters then return {4, s.qn} end
  local n = s.qt
  redis.call('HSET', S, 'q' .. string.format('%.0f', n), kind .. '|' .. NODE .. '|' .. w .. '|' .. string.format('%.0f', nowMs + waitMs) .. '|' .. lease)
  put('qt', n + 1) put('qn', s.qn + 1)
  touch()
  local age = nowMs - s.lat
  if age < 0 then age = 0 end
  return {3, n, s.le - nowMs, s.lid, math.floor(age), s.ttl}
end

local function granted(id, lease, created)
  return {1, id, s.v, s.ttl, created, lease, redis.call('HGET', S, 'd') or ''}
end
`;

/**
 * Get: ARGV[4] wait ms, ARGV[5] waiter number, ARGV[6] max waiters.
 * Reply: {1, version, ttl, data} | {0} | {2, holder, ageMs, ttl} | {3, n, leaseLeftMs, holder, ageMs, ttl} | {4, waiters}.
 */
const GET = String.raw`
settle()
if s == nil then return done({0}) end
if s.lid ~= 0 then
  local waitMs = tonumber(ARGV[4])
  if waitMs > 0 then return done(enqueue('r', ARGV[5], waitMs, 0, tonumber(ARGV[6]))) end
  touch()
  return done(lockedReply())
end
touch()
return done({1, s.v, s.ttl, redis.call('HGET', S, 'd') or ''})
`;

/**
 * Lock: ARGV[4] wait ms, ARGV[5] waiter number, ARGV[6] max waiters, ARGV[7] lease ms, ARGV[8]
 * create (1/0), ARGV[9] ttl of a created session.
 * Reply: {1, lockId, version, ttl, created, leaseMs, data} | {0} | {2, ...} | {3, ...} | {4, waiters}.
 */
const LOCK = String.raw`
settle()
local lease = tonumber(ARGV[7])
-- A call that may wait is named as the grantee, so that withdrawing it gives the lock back.
local me = ''
if ARGV[5] ~= '' then me = NODE .. '|' .. ARGV[5] end
if s == nil then
  if ARGV[8] ~= '1' then return done({0}) end
  create(tonumber(ARGV[9]), '')
  local id = grant(lease, me)
 
  return done({1, id, 1, s.ttl, 1, lease, ''})
end
if s.lid ~= 0 then
  local waitMs = tonumber(ARGV[4])
  if waitMs > 0 then return done(enqueue('w', ARGV[5], waitMs, lease, tonumber(ARGV[6]))) end
  touch()
  return done(lockedReply())
end
touch()
local id = grant(lease, me)
return done(granted(id, lease, 0))
`;

/**
 * Set: ARGV[4] data, ARGV[5] ttl (0 keeps), ARGV[6] ttl if created, ARGV[7] lock id, ARGV[8] keep
 * lock (1/0), ARGV[9] expected version, ARGV[10] only if absent (1/0).
 * Reply: {1, version, written} | {-1, conflict, facts...}.
 */
const SET = String.raw`
settle()
local lockId = tonumber(ARGV[7])
local expected = tonumber(ARGV[9])
if s == nil then
  if lockId ~= 0 then return done({-1, 2, 1}) end
  if expected ~= 0 then return done({-1, 5, 0}) end
  create(tonumber(ARGV[6]), ARGV[4])
 
  return done({1, 1, 1})
end
if ARGV[10] == '1' then
  touch()
  return done({1, s.v, 0})
end
local holder = s.lid
if lockId == 0 then
  if holder ~= 0 then return done({-1, 1, holder, math.max(0, math.floor(nowMs - s.lat))}) end
elseif holder ~= lockId then
  if lockId < s.first then return done({-1, 2, 0}) end
  if lockId == s.llease or (lockId ~= s.lrel and lockId > s.lrel and lockId < s.llease) then return done({-1, 3}) end
  return done({-1, 4, holder})
end
if expected ~= 0 and expected ~= s.v then return done({-1, 5, s.v}) end
redis.call('HSET', S, 'd', ARGV[4])
put('v', s.v + 1)
local ttl = tonumber(ARGV[5])
if ttl ~= 0 then put('ttl', ttl) end
touch()
if lockId ~= 0 and ARGV[8] ~= '1' then release('lrel') end
return done({1, s.v, 1})
`;

/** Release: ARGV[4] lock id. Reply: {1} released | {0} not. */
const RELEASE = String.raw`
settle()
if s == nil then return done({0}) end
touch()
local lockId = tonumber(ARGV[4])
if lockId == 0 or s.lid ~= lockId then return done({0}) end
release('lrel')
return done({1})
`;

/** Expire: ARGV[4] ttl (0 keeps). Reply: {1, ttl} | {0}. */
const EXPIRE = String.raw`
settle()
if s == nil then return done({0}) end
local ttl = tonumber(ARGV[4])
if ttl ~= 0 then put('ttl', ttl) end
touch()
return done({1, s.ttl})
`;

/** Remove: ARGV[4] lock id. Reply: {1} removed | {0} missing | {-1, 6, holder}. */
const REMOVE = String.raw`
settle()
if s == nil then return done({0}) end
local lockId = tonumber(ARGV[4])
if s.lid ~= 0 and s.lid ~= lockId then return done({-1, 6, s.lid}) end
delete('removed')
return done({1})
`;

/**
 * A waiting call, checked again (ARGV[7] "poll": the safety re-check, or the lease end), ended
 * (ARGV[7] "timeout": its wait is over, it is answered as if it had not waited) or withdrawn
 * (ARGV[7] "withdraw": its caller is gone; a lock granted to it is released). ARGV[4] its queue
 * number, ARGV[5] its waiter number, ARGV[6] kind (r/w), ARGV[8] lease ms, ARGV[9] wait ms left,
 * ARGV[10] max waiters.
 * Reply: as Get or Lock (an answer), or {3, n, ...} still queued, or {5} withdrawn.
 */
const WAITER = String.raw`
local mode = ARGV[7]
local w = ARGV[5]
local kind = ARGV[6]
local lease = tonumber(ARGV[8])
local me = NODE .. '|' .. w
-- The waiter's entry: at its number, or (a withdrawal whose number is not known) anywhere.
local field = 'q' .. ARGV[4]
local function isMine(entry)
  if not entry then return false end
  local _, node, ew = parse(entry)
  return node == NODE and ew == w
end
local queued = isMine(redis.call('HGET', S, field))
if not queued and mode == 'withdraw' then
  local head = tonumber(redis.call('HGET', S, 'qh')) or 0
  local tail = tonumber(redis.call('HGET', S, 'qt')) or 0
  for n = head, tail - 1 do
    local f = 'q' .. string.format('%.0f', n)
    if isMine(redis.call('HGET', S, f)) then field = f queued = true break end
  end
end
settle()
if s == nil then return done({0}) end
local mine = queued and isMine(redis.call('HGET', S, field))
-- A reader this very script served (its lease ended just now): its answer is the data as served.
if queued and not mine and kind == 'r' and mode ~= 'withdraw' then
  return done({1, s.v, s.ttl, redis.call('HGET', S, 'd') or ''})
end
if mine then
  if mode == 'poll' then
   
    local age = nowMs - s.lat
    if age < 0 then age = 0 end
    return done({3, tonumber(ARGV[4]), s.le - nowMs, s.lid, math.floor(age), s.ttl})
  end
  redis.call('HDEL', S, field)
  put('qn', s.qn - 1)
  if s.qn == 0 then put('qh', 0) put('qt', 0) end
elseif kind == 'w' and s.lid ~= 0 and s.gw == me then
  if mode == 'withdraw' then release('lrel') return done({5}) end
 
  return done(granted(s.lid, s.le - s.lat, 0))
end
if mode == 'withdraw' then return done({5}) end
local waitMs = 0
if mode == 'poll' then waitMs = tonumber(ARGV[9]) end
if s.lid ~= 0 then
  if waitMs > 0 then return done(enqueue(kind, w, waitMs, lease, tonumber(ARGV[10]))) end
  touch()
  return done(lockedReply())
end
touch()
if kind == 'r' then
 
  return done({1, s.v, s.ttl, redis.call('HGET', S, 'd') or ''})
end
local id = grant(lease, me)
return done(granted(id, lease, 0))
`;

/**
 * Fast paths, run before the prelude defines its functions (the common case pays for none of
 * them): the same rules as the general path, for a live session with no queue that needs nothing
 * but the change itself. Anything else falls through to the general path.
 */
const GET_FAST = String.raw`
do
  local f = redis.call('HMGET', S, 'lid', 'exp', 'ttl', 'v', 'd')
  if f[1] == '0' and tonumber(f[2]) > nowMs then
    local ttl = tonumber(f[3])
    redis.call('HSET', S, 'exp', string.format('%.0f', nowMs + ttl * 1000))
    redis.call('PEXPIRE', S, ttl * 1000)
    return {1, tonumber(f[4]), ttl, f[5] or ''}
  end
end
`;

/** Lock of an unlocked live session (no waiters can be queued on an unlocked session). */
const LOCK_FAST = String.raw`
do
  local f = redis.call('HMGET', S, 'lid', 'exp', 'ttl', 'v', 'lf', 'qn', 'd')
  if f[1] == '0' and tonumber(f[2]) > nowMs and f[6] == '0' then
    local ttl = tonumber(f[3])
    local lease = tonumber(ARGV[7])
    local id = tonumber(f[5]) + 1
    if nowUs > id then id = nowUs end
    local me = ''
    if ARGV[5] ~= '' then me = NODE .. '|' .. ARGV[5] end
    local exp = nowMs + ttl * 1000
    redis.call('HSET', S, 'lid', string.format('%.0f', id), 'lf', string.format('%.0f', id), 'lat', string.format('%.0f', nowMs),
      'le', string.format('%.0f', nowMs + lease), 'gw', me, 'exp', string.format('%.0f', exp))
    local left = ttl * 1000
    if lease > left then left = lease end
    redis.call('PEXPIRE', S, left)
    return {1, id, tonumber(f[4]), ttl, 0, lease, f[7] or ''}
  end
end
`;

/** Set by the holder of a live session with no waiters: write, release (unless kept), done. */
const SET_FAST = String.raw`
do
  local lockId = tonumber(ARGV[7])
  if lockId ~= 0 and ARGV[9] == '0' and ARGV[10] ~= '1' then
    local f = redis.call('HMGET', S, 'lid', 'le', 'ttl', 'v', 'qn')
    if tonumber(f[1]) == lockId and tonumber(f[2]) > nowMs and f[5] == '0' then
      local ttl = tonumber(ARGV[5])
      if ttl == 0 then ttl = tonumber(f[3]) end
      local v = tonumber(f[4]) + 1
      local exp = nowMs + ttl * 1000
      if ARGV[8] == '1' then
        redis.call('HSET', S, 'd', ARGV[4], 'v', string.format('%.0f', v), 'ttl', ttl, 'exp', string.format('%.0f', exp))
        local left = ttl * 1000
        local le = tonumber(f[2]) - nowMs
        if le > left then left = le end
        redis.call('PEXPIRE', S, left)
      else
        redis.call('HSET', S, 'd', ARGV[4], 'v', string.format('%.0f', v), 'ttl', ttl, 'exp', string.format('%.0f', exp),
          'lid', '0', 'gw', '', 'lrel', f[1])
        redis.call('PEXPIRE', S, ttl * 1000)
      end
      return {1, v, 1}
    end
  end
end
`;

/** A script: its source (prelude + body) and how many keys it takes. */
export interface LuaScript {
  /** The operation, for errors and metrics. */
  readonly name: string;
  /** The full source. */
  readonly source: string;
  /** Its SHA1, for EVALSHA. */
  readonly sha1: string;
}

function script(name: string, body: string, flags: string, fast = ""): LuaScript {
  // The shebang makes Redis refuse a script that may write while it is out of memory before it
  // runs (atomically: nothing half-written); allow-oom marks the scripts that only free memory or
  // leave it as it is.
  const source = `#!lua${flags === "" ? "" : ` flags=${flags}`}\n${PRELUDE.replace("--FAST--", fast)}\n${body}`;
  return { name, source, sha1: createHash("sha1").update(source).digest("hex") };
}

/** The scripts, one per operation (and one for waiting calls). */
export const SCRIPTS = Object.freeze({
  get: script("get", GET, "allow-oom", GET_FAST),
  lock: script("lock", LOCK, "", LOCK_FAST),
  set: script("set", SET, "", SET_FAST),
  release: script("release", RELEASE, "allow-oom"),
  expire: script("expire", EXPIRE, "allow-oom"),
  remove: script("remove", REMOVE, "allow-oom"),
  waiter: script("waiter", WAITER, "allow-oom"),
});
