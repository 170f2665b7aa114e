/**
 * A client that writes its requests and closes stdin at once (`printf ... | tollgate ...`): every
 * request sent before EOF must be decided, forwarded and answered before the server is stopped.
 * The policy rate-limits list_directory, so each call waits for a counter reservation (SQLite)
 * while EOF has already arrived: the case where EOF could overtake an allowed call.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, envFor, type Scratch, scratch, serverBin } from './helpers.js';

let s: Scratch;
let root: string;
let policy: string;

beforeAll(() => {
  s = scratch();
  root = join(s.dir, 'files');
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'a.txt'), 'a\n');
  policy = s.write(
    'policy.yaml',
    `version: "1"
tools:
  list_directory:
    rules:
      - { name: listing pace, rate_limit: 100/minute }
  write_file:
    rules:
      - { name: no writes, action: deny, on_deny: read-only session }
`,
  );
});

afterAll(() => s?.cleanup());

function runPiped(lines: object[]): Promise<{ code: number | null; answers: Array<Record<string, any>> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [CLI, '-c', policy, '--', process.execPath, serverBin('server-filesystem'), root],
      { env: envFor(s), stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
    });
    child.stderr.resume();
    child.on('error', reject);
    child.on('exit', (code) => {
      const answers = out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, any>);
      resolve({ code, answers });
    });
    // Everything at once, then EOF: no waiting for answers.
    child.stdin.end(lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  });
}

describe('client EOF right after its requests', () => {
  it('answers every request sent before EOF, allowed and denied, then exits 0', async () => {
    const { code, answers } = await runPiped([
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: {},
          clientInfo: { name: 'pipe', version: '1' },
        },
      },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      {
        jsonrpc: '2.0',
        id: 3,
        method: 'tools/call',
        params: { name: 'list_directory', arguments: { path: root } },
      },
      {
        jsonrpc: '2.0',
        id: 4,
        method: 'tools/call',
        params: { name: 'write_file', arguments: { path: join(root, 'b.txt'), content: 'x' } },
      },
      {
        jsonrpc: '2.0',
        id: 5,
        method: 'tools/call',
        params: { name: 'list_directory', arguments: { path: root } },
      },
    ]);
    const byId = new Map(answers.map((a) => [a.id, a]));
    expect([...byId.keys()].sort()).toEqual([1, 2, 3, 4, 5]);
    for (const id of [3, 5]) {
      expect(byId.get(id)!.error).toBeUndefined();
      expect(byId.get(id)!.result.isError).toBeFalsy();
      expect(byId.get(id)!.result.content[0].text).toContain('a.txt');
    }
    expect(byId.get(4)!.result.isError).toBe(true);
    expect(byId.get(4)!.result.content[0].text).toBe('[TOLLGATE POLICY DENIED] read-only session');
    expect(code).toBe(0);
  }, 90_000);
});
