import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';
import { fixedWindowStart } from '../windows.js';
import {
  type CounterItem,
  type CounterStore,
  committedAmount,
  DEFAULT_RESERVATION_TTL_MS,
  defaultExpiry,
  makeReservation,
  type Reservation,
  type ReserveOptions,
  type ReserveResult,
  retryAfter,
  StateUnavailableError,
} from './counter-store.js';

/*
 * Key layout (all under the prefix, default `tollgate:`), per counter item:
 *   fixed   KEYS[2i-1] = f:<windowMs>:<windowStart>:<key>  string, committed sum (INCRBYFLOAT)
 *           KEYS[2i]   = fp:<windowMs>:<windowStart>:<key> zset of pending "id|amount", score = expiresAt
 *   sliding KEYS[2i-1] = s:<windowMs>:<key>                zset of committed call ids, score = call time
 *           KEYS[2i]   = sp:<windowMs>:<key>               zset of pending "id|expiresAt", score = call time
 *   undo    x:<reservation id>                      string: this reservation was undone (below)
 * Every key gets a relative PEXPIRE on each write (1 min plus the longer of the rest of its window and
 * the reservation life) so nothing outlives its use.
 * Relative expiries keep injected test clocks harmless.
 *
 * Undo: a reserve whose answer never came (timed out, or the connection dropped with it in flight)
 * may still run when Redis gets to it. The store then sends UNDO for that reservation id: it removes
 * the pending members the reserve adds and leaves the x:<id> marker, which a reserve that runs
 * later still finds, so it adds nothing. Either order ends with nothing counted.
 */

// `prune`: remove what has expired (a reserve does). Without it (a peek or a read) the script
// writes nothing, so it runs on a read-only replica too, and counts the same entries.
const READ_CURRENT = `
-- A number as text a double reads back exactly (Lua's tostring keeps 14 significant digits).
local function num(x) return string.format('%.17g', x) end
local function current(kind, ck, pk, w, now, prune)
  if kind == 'f' then
    if prune then redis.call('ZREMRANGEBYSCORE', pk, '-inf', now) end
    local cur = tonumber(redis.call('GET', ck) or '0')
    for _, m in ipairs(redis.call('ZRANGEBYSCORE', pk, '(' .. num(now), '+inf')) do
      cur = cur + tonumber(string.match(m, '|(.*)$'))
    end
    return cur
  end
  if prune then
    redis.call('ZREMRANGEBYSCORE', ck, '-inf', now - w)
    redis.call('ZREMRANGEBYSCORE', pk, '-inf', now - w)
  end
  local cur = redis.call('ZCOUNT', ck, '(' .. num(now - w), '+inf')
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', pk, '(' .. num(now - w), '+inf')) do
    if tonumber(string.match(m, '|(.*)$')) <= now then
      if prune then redis.call('ZREM', pk, m) end
    else cur = cur + 1 end
  end
  return cur
end
`;

// KEYS: 2 per item, then x:<id> (the undo marker). ARGV: now, expiresAt, id, write(0|1), n, then per
// item: kind, windowMs, amount, expireMs, nChecks, (op, bound, tag)*
// Returns {1, value...}, {0, tag, itemIndex, value, ts...} (numbers as strings of 17 significant
// digits: Lua floats are truncated to integers otherwise, and tostring keeps only 14), or {2}
// when this reservation was undone before it ran (nothing written).
const RESERVE = `${READ_CURRENT}
local now = tonumber(ARGV[1]); local exp = tonumber(ARGV[2]); local id = ARGV[3]
local write = ARGV[4] == '1'; local n = tonumber(ARGV[5])
if write and redis.call('EXISTS', KEYS[2*n+1]) == 1 then return {2} end
local p = 6
local items = {}
local values = {}
local best = nil
for i = 1, n do
  local kind = ARGV[p]; local w = tonumber(ARGV[p+1]); local amount = tonumber(ARGV[p+2])
  local expireMs = tonumber(ARGV[p+3]); local nc = tonumber(ARGV[p+4])
  local amountText = ARGV[p+2]
  p = p + 5
  local ck = KEYS[2*i-1]; local pk = KEYS[2*i]
  local v = current(kind, ck, pk, w, now, write) + amount
  values[i] = num(v)
  for c = 1, nc do
    local op = ARGV[p]; local bound = tonumber(ARGV[p+1]); local tag = tonumber(ARGV[p+2])
    p = p + 3
    local ok
    if op == 'eq' then ok = v == bound elseif op == 'neq' then ok = v ~= bound
    elseif op == 'lt' then ok = v < bound elseif op == 'lte' then ok = v <= bound
    elseif op == 'gt' then ok = v > bound else ok = v >= bound end
    if not ok and (best == nil or tag < best[1]) then best = {tag, i, v} end
  end
  items[i] = {kind, ck, pk, amountText, expireMs, w}
end
if best then
  local out = {0, tostring(best[1]), tostring(best[2]), num(best[3])}
  local it = items[best[2]]
  if it[1] == 's' then
    -- The timestamps the count above counted (a peek has not removed the expired ones).
    local ts = {}
    local lo = '(' .. num(now - it[6])
    local c = redis.call('ZRANGEBYSCORE', it[2], lo, '+inf', 'WITHSCORES')
    for j = 2, #c, 2 do ts[#ts+1] = tonumber(c[j]) end
    local pc = redis.call('ZRANGEBYSCORE', it[3], lo, '+inf', 'WITHSCORES')
    for j = 2, #pc, 2 do
      if tonumber(string.match(pc[j-1], '|(.*)$')) > now then ts[#ts+1] = tonumber(pc[j]) end
    end
    table.sort(ts)
    for _, t in ipairs(ts) do out[#out+1] = num(t) end
  end
  return out
end
if write then
  for i = 1, n do
    local it = items[i]
    if it[1] == 'f' then
      redis.call('ZADD', it[3], exp, id .. '|' .. it[4])
    else
      redis.call('ZADD', it[3], now, id .. '|' .. ARGV[2])
    end
    redis.call('PEXPIRE', it[3], it[5])
    if redis.call('EXISTS', it[2]) == 1 then redis.call('PEXPIRE', it[2], it[5]) end
  end
end
local out = {1}
for i = 1, n do out[#out+1] = values[i] end
return out
`;

// ARGV: now, id, at, expiresAt, commit(0|1), n, then per item: kind, amountText, expireMs, commitText
// A partial commit (a lease settling) removes the pending "id|amount" member and adds only
// commitText (<= amount) to the committed sum: the rest of the reservation returns, atomically.
const FINISH = `
local now = tonumber(ARGV[1]); local id = ARGV[2]; local at = tonumber(ARGV[3]); local exp = ARGV[4]
local commit = ARGV[5] == '1' and tonumber(exp) > now; local n = tonumber(ARGV[6])
local p = 7
for i = 1, n do
  local kind = ARGV[p]; local amountText = ARGV[p+1]; local expireMs = tonumber(ARGV[p+2])
  local commitText = ARGV[p+3]; p = p + 4
  local ck = KEYS[2*i-1]; local pk = KEYS[2*i]
  local member
  if kind == 'f' then member = id .. '|' .. amountText else member = id .. '|' .. exp end
  if redis.call('ZREM', pk, member) == 1 and commit and tonumber(commitText) > 0 then
    if kind == 'f' then
      redis.call('INCRBYFLOAT', ck, commitText)
    else
      redis.call('ZADD', ck, at, id)
    end
    redis.call('PEXPIRE', ck, expireMs)
  end
end
return 1
`;

// KEYS: x:<id>, then the pending key of each item. ARGV: markerMs, then each item's pending member.
// Removes what a reserve of this id added (if it ran) and marks the id undone for markerMs, so a
// reserve still on its way adds nothing.
const UNDO = `
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
for i = 2, #KEYS do redis.call('ZREM', KEYS[i], ARGV[i]) end
return 1
`;

// ARGV: now, kind, windowMs
const READ = `${READ_CURRENT}
return num(current(ARGV[2], KEYS[1], KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[1]), false))
`;

type ScriptedRedis = Redis & {
  tgReserve(numKeys: number, ...args: (string | number)[]): Promise<string[] | number[]>;
  tgFinish(numKeys: number, ...args: (string | number)[]): Promise<number>;
  tgRead(...args: (string | number)[]): Promise<string>;
};

/** Resolves when `p` settles or after `ms` (ms), whichever comes first; never rejects. */
async function within(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (p === undefined) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    p.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

/**
 * The ioredis client class, loaded when the first {@link RedisCounterStore} is built rather than
 * when this package is imported. Loading ioredis defines a subclass of `String` (its RESP3
 * verbatim strings), after which V8 runs string property reads (`.length`, `charCodeAt`) in
 * optimised code through a slower generic path: the proxy's envelope scanner became about 1.5x
 * slower per message with ioredis loaded, even with no Redis in use (measured with
 * `scanEnvelope` in a loop, Node 20.20). Proxies on SQLite or memory counters never load it.
 */
let redisClass: typeof Redis | undefined;
function loadRedis(): typeof Redis {
  redisClass ??= (createRequire(import.meta.url)('ioredis') as typeof import('ioredis')).Redis;
  return redisClass;
}

/** First wait (ms) before a repair Redis did not answer is sent again; doubles per failed round. */
const REPAIR_RETRY_MS = 1000;
/** Longest wait (ms) between two rounds of repairs while Redis stays connected but silent. */
const MAX_REPAIR_RETRY_MS = 30_000;
/** Most repairs kept waiting for Redis; beyond it the oldest is dropped (it then counts until it expires). */
const MAX_REPAIRS = 10_000;
/** How long (ms) the undo marker outlives the reservation it undid. */
const UNDO_MARKER_SLACK_MS = 60_000;

/** A compensating command to send until Redis answers it (idempotent). */
interface Repair {
  readonly send: () => Promise<unknown>;
  /** `Date.now()` after which the reservation it repairs no longer counts anyway. */
  readonly until: number;
}

/**
 * Whether `out` has the shape of the reserve script's answer for `n` items (see `RESERVE`):
 * `{1, value * n}`, `{2}`, or `{0, tag, itemIndex (1..n), value, ts...}`.
 */
function isReserveReply(out: unknown, n: number): out is (string | number)[] {
  if (!Array.isArray(out) || out.length === 0) return false;
  const head = Number(out[0]);
  if (head === 1) return out.length === n + 1;
  if (head === 2) return out.length === 1;
  if (head !== 0 || out.length < 4) return false;
  const index = Number(out[2]);
  return Number.isInteger(index) && index >= 1 && index <= n;
}

/** Shortest and longest wait between reconnections on READONLY answers (ms). */
const READ_ONLY_RETRY_MIN_MS = 1000;
const READ_ONLY_RETRY_MAX_MS = 30_000;

/**
 * When a `READONLY` answer may make the store reconnect: at once the first time, then not again
 * for 1 s, the wait doubling with each reconnection up to 30 s, and back to "at once" after a
 * write succeeds (the server is a primary again). Exported for tests.
 */
export class ReadOnlyReconnects {
  private retryAt = 0;
  private backoffMs = READ_ONLY_RETRY_MIN_MS;

  /** Whether to reconnect now (epoch ms); when true, the next one waits longer. */
  shouldReconnect(now: number): boolean {
    if (now < this.retryAt) return false;
    this.retryAt = now + this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, READ_ONLY_RETRY_MAX_MS);
    return true;
  }

  /** A write succeeded: the next READONLY may reconnect at once. */
  wrote(): void {
    this.retryAt = 0;
    this.backoffMs = READ_ONLY_RETRY_MIN_MS;
  }
}

/** ioredis's error for a command Redis did not answer within `commandTimeout`. */
const COMMAND_TIMED_OUT = 'Command timed out';
/** Pause between PINGs while Redis stays stalled (ms), after each one timed out. */
const STALL_PROBE_PAUSE_MS = 100;

/** A command the store refused to send (Redis refused the DSN's database, or it stopped answering). */
class NotSent extends Error {}

/**
 * Whether a failed command may still have run: it timed out, or the connection dropped while it
 * was on its way. An error answer from Redis, or a command ioredis never wrote (not connected), did
 * nothing.
 */
function effectUnknown(err: unknown): boolean {
  if (err instanceof NotSent) return false;
  if (!(err instanceof Error)) return true;
  if (err.name === 'ReplyError') return false;
  return !err.message.includes("isn't writeable");
}

/**
 * An ioredis message in terms of the connection: "Stream isn't writeable and enableOfflineQueue
 * options is false" and "Connection is closed." mean the client is not connected to Redis now
 * (it reconnects by itself); "Reached the max retries per request limit (which is 0)" that the
 * connection dropped while the command was on its way; a `READONLY` answer (Redis 6 or 7 wording)
 * that the server is a replica, which the store reconnects on (at most once a second, backing
 * off). Other messages are kept as they are. Exported for tests.
 */
export function clientMessage(message: string): string {
  if (isReadOnlyReply(message)) {
    return 'the Redis server is a read-only replica (READONLY), as after a failover; the store reconnects to find the primary';
  }
  if (message.includes("isn't writeable") || /^Connection is closed\.?$/.test(message)) {
    return 'Redis is not connected (reconnecting)';
  }
  // ioredis's words for a command cut off by a dropped connection (no retries: fail fast).
  if (message.startsWith('Reached the max retries per request limit')) {
    return 'the connection to Redis dropped during the command (reconnecting)';
  }
  return message;
}

/**
 * True for Redis's `READONLY` error reply (a write sent to a read-only replica), as Redis 7 and
 * Valkey word it for a script (`READONLY You can't write against a read only replica. script:
 * ...`) and as Redis 6, KeyDB and Dragonfly do (`ERR Error running script (call to f_...):
 * @user_script:4: @user_script: 4: -READONLY You can't write against a read only replica.`).
 */
function isReadOnlyReply(message: string): boolean {
  return /(?:^|[\s-])READONLY You can't write/.test(message);
}

/**
 * What a connection error says about the credentials, or undefined when it is about something else.
 */
function authRefusal(message: string): string | undefined {
  if (/^NOAUTH\b/.test(message)) return 'Redis requires a password and the DSN gives none (NOAUTH)';
  if (/^WRONGPASS\b|invalid password|invalid username-password/i.test(message)) {
    return `Redis refused the credentials (${message.replace(/\.$/, '')})`;
  }
  return undefined;
}

/**
 * `dsn` with any password replaced by `***`, for logs and messages, also when it is not a valid
 * URL or a URL parser would split it elsewhere. In a Redis DSN (or anything with `//` before an
 * `@`), everything between the first `:` of the user information and the LAST `@` is taken for the
 * password: a password holding an unencoded `@`, `/`, `?` or `#` is hidden whole, wherever a URL
 * parser would have ended the user information. Then `?password=` (and other secret-looking query
 * parameters, which ioredis reads) are hidden. A file path with an `@` stays as it is.
 */
export function redactDsn(dsn: string): string {
  let out = dsn;
  const at = dsn.lastIndexOf('@');
  if (at !== -1 && (/^rediss?[:/\\]/i.test(dsn) || dsn.slice(0, at).includes('//'))) {
    const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:?[/\\]*/.exec(dsn)?.[0] ?? '';
    const userinfo = dsn.slice(scheme.length, at);
    const colon = userinfo.indexOf(':');
    const user = colon === -1 ? userinfo : userinfo.slice(0, colon);
    // A "user name" holding what ends an authority is no user name but a misplaced secret.
    if (/[/?#@\\]/.test(user)) out = `${scheme}***@${dsn.slice(at + 1)}`;
    else if (colon !== -1) out = `${scheme}${user}:***@${dsn.slice(at + 1)}`;
  }
  try {
    const u = new URL(out);
    let changed = false;
    // ioredis also takes the password from the query (`?password=`).
    for (const key of [...u.searchParams.keys()]) {
      if (SECRET_PARAM.test(key)) {
        u.searchParams.set(key, '***');
        changed = true;
      }
    }
    if (changed) return u.toString().replaceAll('%2A%2A%2A', '***');
  } catch {
    // Not a URL (`redis://h:99999/?password=x`): secret-looking query parameters, by their text.
    return out.replace(SECRET_PARAM_IN_TEXT, '$1***');
  }
  return out;
}

/** True when `decodeURIComponent` reads `text` (no `%` without two hex digits after it). */
function decodes(text: string): boolean {
  try {
    decodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}

/** Query parameters of a DSN that carry a secret (`?password=...`). */
const SECRET_PARAM = /pass|pwd|secret|token|auth/i;

/** A query parameter whose name {@link SECRET_PARAM} matches, with its value, in DSN text. */
const SECRET_PARAM_IN_TEXT = new RegExp(`([?&][^=&#]*(?:${SECRET_PARAM.source})[^=&#]*=)[^&#]*`, 'gi');

/**
 * The database a `redis://` or `rediss://` DSN selects: its path (`/3`), or its `db` query
 * parameter, or 0. Any non-negative integer is accepted here; Redis itself refuses an index beyond
 * its `databases` setting (see {@link RedisCounterStore.refusal}).
 *
 * @throws Error naming the DSN (password hidden) when it is not a URL, or the database is not a
 *   non-negative integer (`/abc`, `/-1`, `/1.5`, `/0/x`)
 */
export function redisDatabase(dsn: string): number {
  const shown = redactDsn(dsn);
  let url: URL;
  try {
    url = new URL(dsn);
  } catch {
    throw new Error(`--state-dsn ${shown} is not a valid URL: use redis://[user:password@]host[:port][/db]`);
  }
  // Two `@`, or one after the host: a password (or user name) with an unencoded `@`, `/`, `?` or
  // `#`, which the URL parser split elsewhere than meant (connecting to a "host" made of part of
  // the password, or reading it as the database). Refused without showing it.
  if (dsn.indexOf('@') !== dsn.lastIndexOf('@') || `${url.pathname}${url.search}${url.hash}`.includes('@')) {
    throw new Error(
      `--state-dsn ${shown}: the user information holds an "@", "/", "?" or "#" that is not percent-encoded; write them as %40, %2F, %3F and %23 (the password is not shown)`,
    );
  }
  // ioredis decodes them, and a lone `%` would stop it with "URI malformed".
  if (!decodes(url.username) || !decodes(url.password)) {
    throw new Error(
      `--state-dsn ${shown}: the user name or password holds a "%" that does not start a percent-encoded UTF-8 character (two hex digits); write a "%" as %25 (the password is not shown)`,
    );
  }
  const fromPath = url.pathname === '' || url.pathname === '/' ? undefined : url.pathname.slice(1);
  const fromQuery = url.searchParams.get('db') ?? undefined;
  let db = 0;
  for (const text of [fromQuery, fromPath]) {
    if (text === undefined) continue;
    const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(n)) {
      throw new Error(
        `--state-dsn ${shown}: the database must be a non-negative integer (redis://host:port/0), not "${decodes(text) ? decodeURIComponent(text) : text}"`,
      );
    }
    db = n;
  }
  return db;
}

/**
 * A {@link CounterStore} in Redis for proxies on several hosts. Every operation is one Lua script,
 * which Redis runs atomically, so admission is exact across processes and machines.
 *
 * Windows are computed from the caller's clock (injectable for tests); hosts sharing a Redis should
 * run NTP so their windows agree.
 *
 * Connection loss: commands fail fast (no offline queue) with {@link StateUnavailableError}; ioredis
 * keeps reconnecting in the background, so the store recovers by itself when Redis returns.
 *
 * Unanswered commands: a reserve that timed out, or was on its way when the connection dropped,
 * may still run when Redis gets to it. The store undoes it at once, on the same connection (Redis
 * runs one connection's commands in order, so the undo runs after it), and again on every
 * reconnection until Redis answers; the undo also marks the reservation id, so a reserve that runs
 * after its undo adds nothing. A commit or rollback that failed is sent again the same way (both
 * are idempotent). So a call denied because Redis stalled counts nothing once Redis is back.
 */
export class RedisCounterStore implements CounterStore {
  readonly kind = 'redis' as const;
  readonly prefix: string;
  /** The database the DSN selects. */
  readonly db: number;
  private readonly redis: ScriptedRedis;
  private readonly ttlMs: number;
  /** Per-command timeout (ms). */
  private readonly commandTimeoutMs: number;
  /** Commands sent and not yet answered (or failed). */
  private inFlight = 0;
  /** Called when {@link inFlight} drops to 0 (set while {@link close} waits for it). */
  private onIdle: (() => void) | undefined;
  /** Why Redis refused the credentials on the latest attempt to connect; cleared once connected. */
  private authProblem: string | undefined;
  private connectionProblem: string | undefined;
  /** Why Redis refused to select the DSN's database; nothing is sent while it is set. */
  private dbProblem: string | undefined;
  private repairs: Repair[] = [];
  private repairing: Promise<void> | undefined;
  private repairTimer: ReturnType<typeof setTimeout> | undefined;
  private repairDelay = REPAIR_RETRY_MS;
  private closed = false;
  /**
   * Set when a command timed out on a connection that is still up (Redis stopped answering: a
   * SIGSTOP, a long-running script, a saturated server), cleared by the first answer from Redis or
   * a new connection. While set, nothing but a PING is sent (see {@link send}).
   */
  private stalled: { since: number; probe?: ReturnType<typeof setTimeout> } | undefined;
  /** When a READONLY answer makes the client connect again. */
  private readonly readOnly = new ReadOnlyReconnects();

  /**
   * @param opts.url - `redis://[user:pass@]host:port[/db]` (or `rediss://`)
   * @param opts.prefix - prepended to every key (default `tollgate:`)
   * @param opts.commandTimeoutMs - per-command timeout in ms (default 2000)
   * @param opts.reservationTtlMs - life of an uncommitted reservation, ms (default 15 min)
   * @throws Error when the URL is not valid or its database is not a non-negative integer
   */
  constructor(opts: {
    url: string;
    prefix?: string;
    commandTimeoutMs?: number;
    reservationTtlMs?: number;
    redisOptions?: RedisOptions;
  }) {
    this.prefix = opts.prefix ?? 'tollgate:';
    this.ttlMs = opts.reservationTtlMs ?? DEFAULT_RESERVATION_TTL_MS;
    // A `redisOptions.commandTimeout` wins for ioredis, and so here (0, no timeout, counts as 2 s
    // for how long close() waits).
    this.commandTimeoutMs = opts.redisOptions?.commandTimeout || opts.commandTimeoutMs || 2000;
    this.db = redisDatabase(opts.url);
    const RedisClient = loadRedis();
    this.redis = new RedisClient(opts.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // A command whose answer never came is undone (see the class comment), never sent again.
      autoResendUnfulfilledCommands: false,
      commandTimeout: this.commandTimeoutMs,
      connectTimeout: this.commandTimeoutMs,
      retryStrategy: (times) => Math.min(100 * times, 2000),
      // A server that answers READONLY was the primary and is a replica now (a failover: managed
      // Redis keeps the endpoint's name and moves it to the new primary), or the DSN names a
      // replica. This connection stays with the replica until it drops: connect again, so the
      // endpoint leads to the primary. The refused command is not sent again (it wrote nothing: a
      // script stops at its first write); its call is refused or admitted by the fail mode.
      // At most one such reconnection per second, doubling to 30 s while the answer stays
      // READONLY (a DSN that leads to a replica for good): each new connection sends the waiting
      // repairs at once, so an ungated reconnection would loop about ten times a second.
      reconnectOnError: (err) => {
        return isReadOnlyReply(err.message) && this.readOnly.shouldReconnect(Date.now());
      },
      ...opts.redisOptions,
    }) as ScriptedRedis;
    // Errors surface on each command; the connection-level event would otherwise crash the process.
    // What it says about the credentials or the database is kept for the messages.
    this.redis.on('error', (err: Error & { command?: { name?: string } }) => {
      if (err?.command?.name === 'select') {
        this.dbProblem = `Redis refused to select database ${this.db} (${err.message})`;
      } else {
        // The latest attempt's reason: a refusal, or (undefined) something else such as ECONNREFUSED.
        this.authProblem = authRefusal(String(err?.message));
        this.connectionProblem = String(err?.message);
      }
    });
    // A new connection selects the database again; ioredis reports a refusal before 'ready'.
    this.redis.on('connect', () => {
      this.dbProblem = undefined;
    });
    this.redis.on('ready', () => {
      this.unstall();
      this.authProblem = undefined;
      this.connectionProblem = undefined;
      this.repairDelay = REPAIR_RETRY_MS;
      this.flushRepairs();
    });
    this.redis.defineCommand('tgReserve', { lua: RESERVE });
    this.redis.defineCommand('tgFinish', { lua: FINISH });
    this.redis.defineCommand('tgRead', { numberOfKeys: 2, lua: READ });
  }

  /**
   * Why Redis refuses this store, or undefined: it refused the credentials (`NOAUTH`,
   * `WRONGPASS`) on the latest attempt to connect, or refused to select the DSN's database.
   */
  get refusal(): string | undefined {
    return this.dbProblem ?? this.authProblem;
  }

  /**
   * What the latest failed attempt to connect said (`connect ECONNREFUSED 127.0.0.1:6379`,
   * `self-signed certificate in certificate chain`), until a connection is ready; undefined
   * otherwise. ioredis's messages name the host and port, never the password.
   */
  get lastConnectionError(): string | undefined {
    return this.connectionProblem;
  }

  /** Repairs (undos, commits, rollbacks) waiting for Redis to answer. */
  get pendingRepairs(): number {
    return this.repairs.length + (this.repairing ? 1 : 0);
  }

  /**
   * Resolve when connected, or after `timeoutMs` (ms) either way; never throws. Resolves false at
   * once when Redis refuses the credentials ({@link refusal} says why).
   */
  async ready(timeoutMs = 2000): Promise<boolean> {
    if (this.redis.status === 'ready') return true;
    if (this.authProblem) return false;
    return new Promise((resolve) => {
      const t = setTimeout(() => done(false), timeoutMs);
      const done = (ok: boolean) => {
        clearTimeout(t);
        this.redis.off('ready', onReady);
        this.redis.off('error', onError);
        resolve(ok);
      };
      const onReady = () => done(true);
      const onError = () => {
        if (this.authProblem) done(false);
      };
      this.redis.on('ready', onReady);
      this.redis.on('error', onError);
    });
  }

  private keys(it: { key: string; kind: 'fixed' | 'sliding'; windowMs: number }, windowStart: number) {
    const p = this.prefix;
    return it.kind === 'fixed'
      ? [`${p}f:${it.windowMs}:${windowStart}:${it.key}`, `${p}fp:${it.windowMs}:${windowStart}:${it.key}`]
      : [`${p}s:${it.windowMs}:${it.key}`, `${p}sp:${it.windowMs}:${it.key}`];
  }

  private expireMs(it: { kind: 'fixed' | 'sliding'; windowMs: number }, now: number): number {
    const untilEnd =
      it.kind === 'fixed' ? fixedWindowStart(now, it.windowMs) + it.windowMs - now : it.windowMs;
    return Math.ceil(Math.max(untilEnd, this.ttlMs) + 60_000);
  }

  /**
   * Send a command unless Redis refused the DSN's database (it would go to database 0). Counted in
   * {@link inFlight} until it settles, so that {@link close} can wait for it.
   */
  private send<T>(fn: () => Promise<T>): Promise<T> {
    if (this.dbProblem) return Promise.reject(new NotSent(this.dbProblem));
    if (this.stalled) return Promise.reject(new NotSent(this.stallMessage(this.stalled.since)));
    let p: Promise<T>;
    try {
      p = fn();
    } catch (err) {
      return Promise.reject(err);
    }
    this.inFlight++;
    const settled = () => {
      if (--this.inFlight === 0) this.onIdle?.();
    };
    p.then(
      () => {
        settled();
        this.unstall();
      },
      (err: unknown) => {
        settled();
        if ((err as Error)?.message === COMMAND_TIMED_OUT) this.stall();
      },
    );
    return p;
  }

  /**
   * Redis left a command unanswered for the command timeout while connected: a circuit breaker.
   * Until Redis answers again, every command fails at once (its call is refused or admitted by the
   * fail mode) instead of each waiting the command timeout in turn, which held every counted call
   * of an agent for 2 s during a stall; repairs wait too. A PING, sent again as each one times out,
   * finds out when Redis answers: its answer comes after every command sent before it on the
   * connection, so the repairs sent then (undos of late reserves) run after what they undo.
   */
  private stall(): void {
    if (this.stalled || this.closed || this.redis.status !== 'ready') return;
    this.stalled = { since: Date.now() };
    this.probeStall();
  }

  private probeStall(): void {
    const stalled = this.stalled;
    if (!stalled || this.closed) return;
    stalled.probe = undefined;
    this.redis.ping().then(
      () => this.unstall(),
      () => {
        // Not connected: the 'ready' of the next connection ends the stall. Else ping again.
        if (this.stalled !== stalled || this.closed || this.redis.status !== 'ready') return;
        stalled.probe = setTimeout(() => this.probeStall(), STALL_PROBE_PAUSE_MS);
        stalled.probe.unref();
      },
    );
  }

  /** Redis answered (or a new connection is ready): commands are sent again, repairs first. */
  private unstall(): void {
    const stalled = this.stalled;
    if (!stalled) return;
    this.stalled = undefined;
    if (stalled.probe) clearTimeout(stalled.probe);
    if (this.repairs.length > 0) this.flushRepairs();
  }

  private stallMessage(since: number): string {
    const s = ((Date.now() - since + this.commandTimeoutMs) / 1000).toFixed(1);
    return `Redis has not answered for ${s} s (a command timed out after ${this.commandTimeoutMs} ms); nothing is sent until it answers a PING`;
  }

  /**
   * Whether the store is holding commands back because Redis stopped answering (a command timed
   * out on a live connection), until Redis answers a PING.
   */
  get isStalled(): boolean {
    return this.stalled !== undefined;
  }

  /** Resolves once no command is in flight, or after `ms` (ms). */
  private async idle(ms: number): Promise<void> {
    if (this.inFlight === 0) return;
    await within(
      new Promise<void>((resolve) => {
        this.onIdle = resolve;
      }),
      ms,
    );
    this.onIdle = undefined;
  }

  /** The error a failed operation reports: what Redis refused when it did, else the command's error. */
  private unavailable(what: string, err: unknown): StateUnavailableError {
    const cause = this.refusal ?? clientMessage((err as Error)?.message ?? String(err));
    return new StateUnavailableError(`Redis state: ${what} failed: ${cause}`, { cause: err });
  }

  private async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      const v = await this.send(fn);
      if (this.repairs.length > 0) this.flushRepairs();
      return v;
    } catch (err) {
      throw this.unavailable(what, err);
    }
  }

  private async evaluate(
    items: readonly CounterItem[],
    now: number,
    write: boolean,
    expiresAt = defaultExpiry(items, now, this.ttlMs),
  ): Promise<ReserveResult> {
    if (items.length === 0) return { ok: true, values: [] };
    const id = randomUUID();
    const keys: string[] = [];
    const args: (string | number)[] = [now, expiresAt, id, write ? 1 : 0, items.length];
    for (const it of items) {
      keys.push(...this.keys(it, fixedWindowStart(now, it.windowMs)));
      args.push(it.kind === 'fixed' ? 'f' : 's', it.windowMs, String(it.amount), this.expireMs(it, now));
      args.push(it.checks.length);
      for (const c of it.checks) args.push(c.op, String(c.value), c.tag);
    }
    keys.push(this.undoKey(id));
    let out: (string | number)[];
    try {
      out = (await this.send(() => this.redis.tgReserve(keys.length, ...keys, ...args))) as (
        | string
        | number
      )[];
    } catch (err) {
      // The reserve may still run when Redis gets to it: take it back (a denied call counts nothing).
      if (write && effectUnknown(err)) this.undoReserve(id, items, now, expiresAt);
      throw this.unavailable(write ? 'reserve' : 'read', err);
    }
    if (!isReserveReply(out, items.length)) {
      // Not what the script returns (a reply that belongs to another command): whether this
      // reserve ran is unknown, so it is undone as a timed-out one is, and the call is refused.
      if (write) this.undoReserve(id, items, now, expiresAt);
      throw this.unavailable(
        write ? 'reserve' : 'read',
        new Error(`unexpected reply from Redis: ${JSON.stringify(out)?.slice(0, 200)}`),
      );
    }
    if (write) this.wrote();
    if (this.repairs.length > 0) this.flushRepairs();
    if (Number(out[0]) === 2) {
      throw this.unavailable('reserve', new Error('the reservation was undone before it ran'));
    }
    if (Number(out[0]) === 1) {
      const values = out.slice(1).map(Number);
      if (!write) return { ok: true, values };
      const reservation = makeReservation(items, now, this.ttlMs, id, expiresAt);
      return { ok: true, values, reservation };
    }
    const tag = Number(out[1]);
    const index = Number(out[2]) - 1;
    const item = items[index]!;
    const check = item.checks.find((c) => c.tag === tag);
    const ts = item.kind === 'sliding' ? out.slice(4).map(Number) : undefined;
    return {
      ok: false,
      tag,
      item: index,
      value: Number(out[3]),
      retryAfterMs: retryAfter(item, now, ts, check),
    };
  }

  private undoKey(id: string): string {
    return `${this.prefix}x:${id}`;
  }

  /**
   * Take back reservation `id` (what a reserve of `items` at `now` adds, if it ran) and mark it
   * undone, so that a reserve still on its way adds nothing. Sent at once and then retried (see
   * {@link repair}) until Redis answers or the reservation would have expired.
   */
  private undoReserve(id: string, items: readonly CounterItem[], now: number, expiresAt: number): void {
    const life = expiresAt - now;
    if (!(life > 0)) return;
    const keys = [this.undoKey(id)];
    const args: (string | number)[] = [Math.ceil(life) + UNDO_MARKER_SLACK_MS];
    for (const it of items) {
      keys.push(this.keys(it, fixedWindowStart(now, it.windowMs))[1]!);
      args.push(it.kind === 'fixed' ? `${id}|${String(it.amount)}` : `${id}|${String(expiresAt)}`);
    }
    // EVAL, not EVALSHA: a server that does not have the script yet would answer NOSCRIPT to an
    // undo that went out during a stall, and the fallback is only sent to a waiting caller.
    const send = () => this.redis.eval(UNDO, keys.length, ...keys, ...args);
    const repair: Repair = { send, until: Date.now() + life };
    // At once, on the connection the reserve went out on when it is still up: Redis runs one
    // connection's commands in order, so the undo runs after the late reserve.
    this.send(send).then(
      () => undefined,
      () => this.enqueueRepair(repair),
    );
  }

  /** Keep a repair for the next round (on reconnection, after a command succeeds, or on a timer). */
  private enqueueRepair(r: Repair): void {
    if (this.closed || r.until <= Date.now()) return;
    this.repairs.push(r);
    if (this.repairs.length > MAX_REPAIRS) this.repairs.shift();
    this.scheduleRepairs();
  }

  private scheduleRepairs(): void {
    if (this.repairTimer || this.closed || this.repairs.length === 0) return;
    this.repairTimer = setTimeout(() => {
      this.repairTimer = undefined;
      this.flushRepairs();
    }, this.repairDelay);
    this.repairTimer.unref();
  }

  /** Send every waiting repair (one round at a time); those Redis does not answer wait for the next. */
  private flushRepairs(): void {
    if (this.repairing || this.closed || this.repairs.length === 0) return;
    // Not connected: the 'ready' event starts the next round; stalled: the answer to the PING.
    if (this.redis.status !== 'ready' || this.dbProblem || this.stalled) return;
    const t = Date.now();
    const round = this.repairs.filter((r) => r.until > t);
    this.repairs = [];
    this.repairing = Promise.all(
      round.map((r) =>
        r.send().then(
          () => undefined,
          () => r,
        ),
      ),
    ).then((failed) => {
      this.repairing = undefined;
      let retry = 0;
      for (const r of failed) {
        if (r) {
          retry++;
          this.enqueueRepair(r);
        }
      }
      this.repairDelay = retry > 0 ? Math.min(this.repairDelay * 2, MAX_REPAIR_RETRY_MS) : REPAIR_RETRY_MS;
      this.scheduleRepairs();
    });
  }

  reserve(items: readonly CounterItem[], now: number, options?: ReserveOptions): Promise<ReserveResult> {
    return this.evaluate(items, now, true, options?.expiresAt);
  }

  peek(items: readonly CounterItem[], now: number): Promise<ReserveResult> {
    return this.evaluate(items, now, false);
  }

  async read(key: string, kind: 'fixed' | 'sliding', windowMs: number, now: number): Promise<number> {
    const keys = this.keys({ key, kind, windowMs }, fixedWindowStart(now, windowMs));
    const v = await this.run('read', () =>
      this.redis.tgRead(keys[0]!, keys[1]!, now, kind === 'fixed' ? 'f' : 's', windowMs),
    );
    return Number(v);
  }

  private async finish(
    r: Reservation,
    commit: boolean,
    now: number,
    amounts?: readonly number[],
  ): Promise<void> {
    const keys: string[] = [];
    const args: (string | number)[] = [now, r.id, r.at, r.expiresAt, commit ? 1 : 0, r.items.length];
    r.items.forEach((it, i) => {
      keys.push(...this.keys(it, it.windowStart));
      const part = it.kind === 'sliding' && !amounts ? 1 : committedAmount(it.amount, amounts, i);
      args.push(it.kind === 'fixed' ? 'f' : 's', String(it.amount), this.expireMs(it, now), String(part));
    });
    const send = () => this.redis.tgFinish(keys.length, ...keys, ...args);
    try {
      await this.send(send);
    } catch (err) {
      // Idempotent: sent again until Redis answers, so a rollback (or a lease returning what it did
      // not use) still gives the quota back once Redis is reachable.
      const life = r.expiresAt - r.at;
      if (life > 0) this.enqueueRepair({ send, until: Date.now() + life });
      throw this.unavailable(commit ? 'commit' : 'rollback', err);
    }
    this.wrote();
    if (this.repairs.length > 0) this.flushRepairs();
  }

  /** A write succeeded: the server is a primary, and a later READONLY may reconnect at once. */
  private wrote(): void {
    this.readOnly.wrote();
  }

  /**
   * `host:port` of the primary when the server this store is connected to is a replica (Redis
   * `ROLE`), else undefined: also when not connected, or when `ROLE` is not allowed (ACL).
   * Never throws.
   */
  async replicaOf(): Promise<string | undefined> {
    try {
      const role = (await this.send(() => this.redis.call('ROLE'))) as unknown[];
      return Array.isArray(role) && role[0] === 'slave' ? `${String(role[1])}:${String(role[2])}` : undefined;
    } catch {
      return undefined;
    }
  }

  commit(reservation: Reservation, now = Date.now(), amounts?: readonly number[]): Promise<void> {
    return this.finish(reservation, true, now, amounts);
  }

  rollback(reservation: Reservation): Promise<void> {
    return this.finish(reservation, false, Date.now());
  }

  /**
   * Waits for the commands on their way, sends the repairs still waiting once more when
   * connected, then ends the connection with QUIT (answered after every command before it) and
   * disconnects; all of it within the command timeout plus 250 ms (2.25 s by default). Repairs
   * Redis has not answered by then are left to expire with their reservations. Calling it again
   * returns the same promise.
   */
  async close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = this.shutDown();
    return this.closing;
  }

  private closing: Promise<void> | undefined;

  private async shutDown(): Promise<void> {
    // One deadline for the whole close: the command timeout and 250 ms. A proxy closes its store
    // as it exits, and an MCP client sends SIGTERM 2 s after closing its stdin.
    const deadline = Date.now() + this.commandTimeoutMs + 250;
    const left = () => Math.max(0, deadline - Date.now());
    // Commands on their way settle first: commits of answered calls, and reserves whose answer
    // has not come (one that times out meanwhile sends its undo, which is waited for too). A
    // process that exits with them still in its socket buffers loses them, and a late reserve
    // would then count until its window ends.
    await this.idle(left());
    this.closed = true;
    // The last repairs and QUIT go out even during a stall: Redis answers them, after the rest,
    // if it resumes within the deadline (a commit held back by the breaker is not lost then).
    if (this.stalled?.probe) clearTimeout(this.stalled.probe);
    this.stalled = undefined;
    if (this.repairTimer) clearTimeout(this.repairTimer);
    this.repairTimer = undefined;
    await within(this.repairing, left());
    const t = Date.now();
    const last = this.repairs.filter((r) => r.until > t);
    this.repairs = [];
    const connected = () => this.redis.status === 'ready' && !this.dbProblem;
    if (last.length > 0 && connected()) {
      await within(Promise.allSettled(last.map((r) => r.send())), left());
    }
    // QUIT is answered after every command sent before it on this connection: nothing sent is
    // cut off by the close.
    if (connected() && left() > 0)
      await within(
        this.redis.quit().catch(() => undefined),
        left(),
      );
    this.redis.disconnect();
  }
}
