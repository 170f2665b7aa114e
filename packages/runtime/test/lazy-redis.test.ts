import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const builtIndex = fileURLToPath(new URL('../dist/index.js', import.meta.url));

/** Whether a fresh Node process has ioredis loaded after running `script` (an ES module body). */
function ioredisLoadedAfter(script: string): boolean {
  const out = execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { createRequire } from 'node:module';
const runtime = await import(${JSON.stringify(builtIndex)});
${script}
const cache = createRequire(import.meta.url).cache;
console.log(Object.keys(cache).some((file) => file.includes('/ioredis/')));`,
    ],
    { encoding: 'utf8' },
  );
  return out.trim() === 'true';
}

describe('ioredis is loaded only for a Redis store', () => {
  // Loading ioredis slows string handling in optimised code for the whole process (it subclasses
  // String), so a proxy on SQLite or memory counters must not pay for it.
  it('is not loaded by importing the package or opening a memory store', () => {
    expect(
      ioredisLoadedAfter(
        `const store = await runtime.openCounterStore({ stateDsn: 'memory:' }); if (store.kind !== 'memory') throw new Error(store.kind); await store.close();`,
      ),
    ).toBe(false);
  });

  it('is loaded once a RedisCounterStore is built', () => {
    expect(
      ioredisLoadedAfter(
        `const store = new runtime.RedisCounterStore({ url: 'redis://127.0.0.1:1' }); await store.close();`,
      ),
    ).toBe(true);
  });
});
