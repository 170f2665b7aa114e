/**
 * `--state-dsn` mistakes end in exit 2 with one line naming the DSN (password hidden), in the
 * proxy and in `tollgate explain`; a Redis password is never printed; refused credentials are
 * named in the start-up warning. Runs the BUILT CLI against a real redis-server.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RedisServer, startRedisServer } from '../../../runtime/test/redis-server.js';
import { CLI, envFor, type Scratch, scratch } from './helpers.js';

const hasRedis = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
if (!hasRedis && process.env.CI === 'true') throw new Error('redis-server is not installed but CI=true');

let s: Scratch;
let policy: string;
beforeEach(() => {
  s = scratch();
  policy = s.write(
    'p.yaml',
    'version: "1"\ntools:\n  slow:\n    rules:\n      - name: slow-fixed\n        rate_limit: 5/hour\n',
  );
});
afterEach(() => s.cleanup());

function run(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: s.dir,
    env: envFor(s),
    input: '',
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('--state-dsn that cannot be used', () => {
  const cases: [string, string][] = [
    [
      'redis://:hunter2@127.0.0.1:1/abc',
      '--state-dsn redis://:***@127.0.0.1:1/abc: the database must be a non-negative integer (redis://host:port/0), not "abc"',
    ],
    [
      'redis://127.0.0.1:1/1.5',
      '--state-dsn redis://127.0.0.1:1/1.5: the database must be a non-negative integer (redis://host:port/0), not "1.5"',
    ],
    [
      'redis//127.0.0.1:6399',
      '--state-dsn redis//127.0.0.1:6399 is not a valid Redis URL: did you mean redis://127.0.0.1:6399?',
    ],
    ['memory:foo', '--state-dsn memory:foo is not a valid DSN: did you mean memory:?'],
  ];

  it('the proxy exits 2 with one line and creates no SQLite file', () => {
    for (const [dsn, message] of cases) {
      const r = run(['-c', policy, '--state-dsn', dsn, '--', 'true']);
      expect(r.code, dsn).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`tollgate: cannot open the counter store: ${message}\n`);
    }
    expect(existsSync(join(s.dir, 'redis'))).toBe(false);
    expect(existsSync(join(s.dir, 'memory:foo'))).toBe(false);
  });

  it('tollgate explain exits 2 with one line (state-unavailable under --json)', () => {
    for (const [dsn, message] of cases) {
      const r = run(['explain', '-c', policy, '--tool', 'slow', '--state-dsn', dsn]);
      expect(r.code, dsn).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`tollgate explain: cannot open counter state: ${message}\n`);
      const j = run(['explain', '-c', policy, '--tool', 'slow', '--state-dsn', dsn, '--json']);
      expect(j.code).toBe(2);
      expect(j.stderr).toBe('');
      expect(JSON.parse(j.stdout)).toMatchObject({
        ok: false,
        errors: [{ code: 'state-unavailable', message: `cannot open counter state: ${message}` }],
      });
    }
  });
});

describe.skipIf(!hasRedis)('--state-dsn with a real Redis', () => {
  let server: RedisServer | undefined;
  let host = '';
  beforeAll(async () => {
    server = await startRedisServer(undefined, ['--requirepass', 'goodpw']);
    host = `127.0.0.1:${server.port}`;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('tollgate explain never prints the password (text and --json)', () => {
    const dsn = `redis://default:goodpw@${host}/0`;
    const text = run(['explain', '-c', policy, '--tool', 'slow', '--state-dsn', dsn]);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`state   redis (redis://default:***@${host}/0)`);
    expect(text.stdout).not.toContain('goodpw');
    const json = run(['explain', '-c', policy, '--tool', 'slow', '--state-dsn', dsn, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).state).toBe(`redis (redis://default:***@${host}/0)`);
    expect(json.stdout).not.toContain('goodpw');
  });

  it('refuses a database the server does not have, naming it (exit 2)', () => {
    const dsn = `redis://:goodpw@${host}/16`;
    const r = run(['-c', policy, '--state-dsn', dsn, '--', 'true']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `tollgate: cannot open the counter store: redis://:***@${host}/16: Redis refused to select database 16 (ERR DB index is out of range); use a database below the server's "databases" setting (16 by default: 0-15)\n`,
    );
  });

  it('names refused credentials in the start-up warning and in the denial', () => {
    const r = run(['-c', policy, '--state-dsn', `redis://:wrong@${host}/0`, '--', 'true']);
    expect(r.code).toBe(0);
    const warnings = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string })
      .filter((e) => e.level === 40)
      .map((e) => e.msg);
    expect(warnings).toEqual([
      `counter store redis://:***@${host}/0 cannot be used: Redis refused the credentials (WRONGPASS invalid username-password pair or user is disabled); state fail mode is closed: calls that use counters will be denied (state_unavailable) until Redis accepts the connection. Reconnecting in the background.`,
    ]);
    const explain = run(['explain', '-c', policy, '--tool', 'slow', '--state-dsn', `redis://${host}/0`]);
    expect(explain.code).toBe(1);
    expect(explain.stdout).toContain(
      'Counter state is unavailable (Redis state: read failed: Redis requires a password and the DSN gives none (NOAUTH))',
    );
  });
});
