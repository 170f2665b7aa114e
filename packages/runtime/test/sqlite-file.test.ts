// The SQLite store against real files and a second real connection: a lock held by another
// process does not stop the event loop, and a state file deleted or replaced while in use does
// not split the counters.
import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CounterItem } from '../src/store/counter-store.js';
import { StateUnavailableError } from '../src/store/counter-store.js';
import { SqliteCounterStore } from '../src/store/sqlite.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-sqlite-file-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
const item: CounterItem = {
  key: 'calls',
  kind: 'fixed',
  windowMs: 86_400_000,
  amount: 1,
  checks: [{ op: 'lte', value: 1000, tag: 0 }],
};

async function admit(store: SqliteCounterStore, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await store.reserve([item], NOW);
    if (!r.ok || !r.reservation) throw new Error('not admitted');
    await store.commit(r.reservation, NOW);
  }
}

const count = (store: SqliteCounterStore) => store.read('calls', 'fixed', 86_400_000, NOW);

describe('a lock held by another process', () => {
  it('is waited for without blocking the event loop, then the call goes through', async () => {
    const file = join(dir, 'state.sqlite');
    const store = new SqliteCounterStore({ file, busyTimeoutMs: 3000 });
    await admit(store, 1);
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE');
    // The event loop's turns while the call waits: a timer every 10 ms notes when it ran.
    const turns: number[] = [];
    const timer = setInterval(() => turns.push(Date.now()), 10);
    setTimeout(() => other.exec('COMMIT'), 600);
    const started = Date.now();
    await admit(store, 1);
    const ended = Date.now();
    clearInterval(timer);
    other.close();
    expect(ended - started).toBeGreaterThanOrEqual(550);
    // With the wait taken in one blocking call the timer could not have run until it ended (one
    // gap of 600 ms). Taken in slices of at most 25 ms, the loop turns between them; the bound on
    // the longest gap is loose, for a loaded machine (the count of turns is not: CI saw 9 in 400 ms).
    const times = [started, ...turns, ended];
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(turns.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...gaps)).toBeLessThan(300);
    expect(await count(store)).toBe(2);
    await store.close();
  });

  it('past the busy timeout is reported as state unavailable', async () => {
    const file = join(dir, 'state.sqlite');
    const store = new SqliteCounterStore({ file, busyTimeoutMs: 200 });
    const other = new Database(file);
    other.exec('BEGIN IMMEDIATE');
    const started = Date.now();
    const err = await store.reserve([item], NOW).catch((e: unknown) => e);
    other.exec('ROLLBACK');
    other.close();
    expect(err).toBeInstanceOf(StateUnavailableError);
    expect((err as Error).message).toMatch(
      /^SQLite state .*state\.sqlite: reserve failed: database is locked$/,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    await store.close();
  });
});

describe('a state file deleted while in use', () => {
  it('is recreated with the old counts, carried over once however many processes held it', async () => {
    const file = join(dir, 'state.sqlite');
    const warnings: string[] = [];
    const a = new SqliteCounterStore({ file, onWarning: (m) => warnings.push(m) });
    const b = new SqliteCounterStore({ file });
    await admit(a, 30);
    await admit(b, 20);
    for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    // A process started after the deletion creates a new, empty file and counts there.
    const c = new SqliteCounterStore({ file });
    await admit(c, 7);
    // The next transactions of a and b notice that the path names another file.
    await admit(a, 1);
    await admit(b, 1);
    expect(await count(c)).toBe(30 + 20 + 7 + 1 + 1);
    expect(await count(a)).toBe(59);
    expect(await count(b)).toBe(59);
    expect(warnings).toEqual([
      `SQLite state ${file} was deleted or replaced while in use; now using the file at that path, with the old file's counts added to it (1 rows)`,
    ]);
    for (const s of [a, b, c]) await s.close();
  });

  it('survives a plain rm of the database file, which leaves its -wal and -shm behind', async () => {
    const file = join(dir, 'state.sqlite');
    const a = new SqliteCounterStore({ file });
    const b = new SqliteCounterStore({ file });
    await admit(a, 5);
    await admit(b, 5);
    rmSync(file);
    expect(existsSync(`${file}-wal`) && existsSync(`${file}-shm`)).toBe(true);
    // A process started now must not pair the old -wal with a new file ("disk I/O error").
    const c = new SqliteCounterStore({ file });
    await admit(c, 3);
    await admit(a, 1);
    await admit(b, 1);
    for (const s of [a, b, c]) expect(await count(s)).toBe(15);
    for (const s of [a, b, c]) await s.close();
  });

  it('adds its counts to another state file renamed over it, and keeps the counts of that file', async () => {
    const file = join(dir, 'state.sqlite');
    const elsewhere = join(dir, 'other', 'state.sqlite');
    const other = new SqliteCounterStore({ file: elsewhere });
    await admit(other, 5);
    await other.close();
    const warnings: string[] = [];
    const a = new SqliteCounterStore({ file, onWarning: (m) => warnings.push(`a: ${m}`) });
    const b = new SqliteCounterStore({ file, onWarning: (m) => warnings.push(`b: ${m}`) });
    await admit(a, 6);
    await admit(b, 5);
    renameSync(elsewhere, file);
    await admit(a, 1);
    await admit(b, 1);
    expect(await count(a)).toBe(5 + 11 + 2);
    expect(await count(b)).toBe(18);
    const fresh = new SqliteCounterStore({ file });
    expect(await count(fresh)).toBe(18);
    const moved = `SQLite state ${file} was deleted or replaced while in use; now using the file at that path`;
    expect(warnings).toEqual([
      `a: ${moved}, with the old file's counts added to it (1 rows)`,
      `b: ${moved}, which already holds the old file's counts`,
    ]);
    for (const s of [a, b, fresh]) await s.close();
  });

  it('keeps a reservation made before the deletion committable after it', async () => {
    const file = join(dir, 'state.sqlite');
    const a = new SqliteCounterStore({ file });
    const r = await a.reserve([item], NOW);
    if (!r.ok || !r.reservation) throw new Error('not admitted');
    for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    await a.commit(r.reservation, NOW);
    expect(await count(a)).toBe(1);
    const fresh = new SqliteCounterStore({ file });
    expect(await count(fresh)).toBe(1);
    await a.close();
    await fresh.close();
  });
});
