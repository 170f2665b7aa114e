import { randomUUID } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
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
 * Every key gets a relative PEXPIRE (window + reservation life + 1 min) so nothing outlives its use.
 * Relative expiries keep injected test clocks harmless.
 */

const READ_CURRENT = `
local function current(kind, ck, pk, w, now)
  if kind == 'f' then
    redis.call('ZREMRANGEBYSCORE', pk, '-inf', now)
    local cur = tonumber(redis.call('GET', ck) or '0')
    for _, m in ipairs(redis.call('ZRANGE', pk, 0, -1)) do
      cur = cur + tonumber(string.match(m, '|(.*)$'))
    end
    return cur
  end
  redis.call('ZREMRANGEBYSCORE', ck, '-inf', now - w)
  redis.call('ZREMRANGEBYSCORE', pk, '-inf', now - w)
  local cur = redis.call('ZCARD', ck)
  for _, m in ipairs(redis.call('ZRANGE', pk, 0, -1)) do
    if tonumber(string.match(m, '|(.*)$')) <= now then redis.call('ZREM', pk, m) else cur = cur + 1 end
  end
  return cur
end
`;

// ARGV: now, expiresAt, id, write(0|1), n, then per item: kind, windowMs, amount, expireMs, nChecks, (op, bound, tag)*
// Returns {1, value...} or {0, tag, itemIndex, value, ts...} (numbers as strings: Lua floats are truncated otherwise).
const RESERVE = `${READ_CURRENT}
local now = tonumber(ARGV[1]); local exp = tonumber(ARGV[2]); local id = ARGV[3]
local write = ARGV[4] == '1'; local n = tonumber(ARGV[5])
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
  local v = current(kind, ck, pk, w, now) + amount
  values[i] = tostring(v)
  for c = 1, nc do
    local op = ARGV[p]; local bound = tonumber(ARGV[p+1]); local tag = tonumber(ARGV[p+2])
    p = p + 3
    local ok
    if op == 'eq' then ok = v == bound elseif op == 'neq' then ok = v ~= bound
    elseif op == 'lt' then ok = v < bound elseif op == 'lte' then ok = v <= bound
    elseif op == 'gt' then ok = v > bound else ok = v >= bound end
    if not ok and (best == nil or tag < best[1]) then best = {tag, i, v} end
  end
  items[i] = {kind, ck, pk, amountText, expireMs}
end
if best then
  local out = {0, tostring(best[1]), tostring(best[2]), tostring(best[3])}
  local it = items[best[2]]
  if it[1] == 's' then
    local ts = {}
    local c = redis.call('ZRANGE', it[2], 0, -1, 'WITHSCORES')
    for j = 2, #c, 2 do ts[#ts+1] = tonumber(c[j]) end
    local pc = redis.call('ZRANGE', it[3], 0, -1, 'WITHSCORES')
    for j = 2, #pc, 2 do ts[#ts+1] = tonumber(pc[j]) end
    table.sort(ts)
    for _, t in ipairs(ts) do out[#out+1] = tostring(t) end
  end
  return out
end
if write then
  for i = 1, n do
    local it = items[i]
    if it[1] == 'f' then
      redis.call('ZADD', it[3], exp, id .. '|' .. it[4])
    else
      redis.call('ZADD', it[3], now, id .. '|' .. exp)
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

// ARGV: now, kind, windowMs
const READ = `${READ_CURRENT}
return tostring(current(ARGV[2], KEYS[1], KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[1])))
`;

type ScriptedRedis = Redis & {
  tgReserve(numKeys: number, ...args: (string | number)[]): Promise<string[] | number[]>;
  tgFinish(numKeys: number, ...args: (string | number)[]): Promise<number>;
  tgRead(...args: (string | number)[]): Promise<string>;
};

/**
 * A {@link CounterStore} in Redis for proxies on several hosts. Every operation is one Lua script,
 * which Redis runs atomically, so admission is exact across processes and machines.
 *
 * Windows are computed from the caller's clock (injectable for tests); hosts sharing a Redis should
 * run NTP so their windows agree.
 *
 * Connection loss: commands fail fast (no offline queue) with {@link StateUnavailableError}; ioredis
 * keeps reconnecting in the background, so the store recovers by itself when Redis returns.
 */
export class RedisCounterStore implements CounterStore {
  readonly kind = 'redis' as const;
  readonly prefix: string;
  private readonly redis: ScriptedRedis;
  private readonly ttlMs: number;

  /**
   * @param opts.url - `redis://[user:pass@]host:port[/db]` (or `rediss://`)
   * @param opts.prefix - prepended to every key (default `tollgate:`)
   * @param opts.commandTimeoutMs - per-command timeout in ms (default 2000)
   * @param opts.reservationTtlMs - life of an uncommitted reservation, ms (default 15 min)
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
    this.redis = new Redis(opts.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.commandTimeoutMs ?? 2000,
      connectTimeout: opts.commandTimeoutMs ?? 2000,
      retryStrategy: (times) => Math.min(100 * times, 2000),
      ...opts.redisOptions,
    }) as ScriptedRedis;
    // Errors surface on each command; the connection-level event would otherwise crash the process.
    this.redis.on('error', () => {});
    this.redis.defineCommand('tgReserve', { lua: RESERVE });
    this.redis.defineCommand('tgFinish', { lua: FINISH });
    this.redis.defineCommand('tgRead', { numberOfKeys: 2, lua: READ });
  }

  /** Resolve when connected, or after `timeoutMs` (ms) either way; never throws. */
  async ready(timeoutMs = 2000): Promise<boolean> {
    if (this.redis.status === 'ready') return true;
    return new Promise((resolve) => {
      const t = setTimeout(() => done(false), timeoutMs);
      const done = (ok: boolean) => {
        clearTimeout(t);
        this.redis.off('ready', onReady);
        resolve(ok);
      };
      const onReady = () => done(true);
      this.redis.on('ready', onReady);
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

  private async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new StateUnavailableError(`Redis state: ${what} failed: ${(err as Error).message}`, {
        cause: err,
      });
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
    const out = (await this.run(write ? 'reserve' : 'read', () =>
      this.redis.tgReserve(keys.length, ...keys, ...args),
    )) as (string | number)[];
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
    await this.run(commit ? 'commit' : 'rollback', () => this.redis.tgFinish(keys.length, ...keys, ...args));
  }

  commit(reservation: Reservation, now = Date.now(), amounts?: readonly number[]): Promise<void> {
    return this.finish(reservation, true, now, amounts);
  }

  rollback(reservation: Reservation): Promise<void> {
    return this.finish(reservation, false, Date.now());
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
