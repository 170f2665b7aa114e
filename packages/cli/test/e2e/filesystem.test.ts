/**
 * @modelcontextprotocol/server-filesystem behind tollgate: writes outside a directory denied by a
 * `regex` condition (and the file really not written), destructive tools hidden and refused,
 * reads rate-limited with a retry-after.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Scratch, type Session, scratch, serverBin, textOf } from './helpers.js';

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let s: Scratch;
let fs: Session;
let root: string;
let sandbox: string;

beforeAll(async () => {
  s = scratch();
  root = join(s.dir, 'files');
  sandbox = join(root, 'sandbox');
  mkdirSync(sandbox, { recursive: true });
  writeFileSync(join(root, 'notes.txt'), 'line one\nline two\n');
  mkdirSync(join(root, 'Keys'));
  writeFileSync(join(root, 'Keys', 'k.txt'), 'KEY');
  const policy = s.write(
    'policy.yaml',
    `version: "1"
hide: [move_file, edit_file]
tools:
  write_file:
    rules:
      - name: writes stay in sandbox
        conditions: [{ path: args.path, op: regex, value: '^${escapeRe(sandbox)}/[^/]+$' }]
        on_deny: write_file may only write inside the sandbox directory
  read_text_file:
    rules:
      - name: reads per minute
        rate_limit: 3/minute
  get_file_info:
    rules:
      - name: not the keys
        conditions: [{ path: args.path, op: not_regex, value: '/Keys(/|$)' }]
`,
  );
  fs = await connect(s, policy, [process.execPath, serverBin('server-filesystem'), root]);
});

afterAll(async () => {
  await fs?.close();
  s?.cleanup();
});

describe('server-filesystem through tollgate', () => {
  it('hides the destructive tools from tools/list and refuses calls to them', async () => {
    const names = (await fs.client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('write_file');
    expect(names).toContain('read_text_file');
    expect(names).not.toContain('move_file');
    expect(names).not.toContain('edit_file');
    const r = await fs.client.callTool({
      name: 'move_file',
      arguments: { source: join(root, 'notes.txt'), destination: join(sandbox, 'stolen.txt') },
    });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/^\[TOLLGATE POLICY DENIED\] /);
    expect(existsSync(join(root, 'notes.txt'))).toBe(true);
    expect(existsSync(join(sandbox, 'stolen.txt'))).toBe(false);
  });

  it('writes inside the sandbox', async () => {
    const r = await fs.client.callTool({
      name: 'write_file',
      arguments: { path: join(sandbox, 'a.txt'), content: 'ok' },
    });
    expect(r.isError).toBeFalsy();
    expect(readFileSync(join(sandbox, 'a.txt'), 'utf8')).toBe('ok');
  });

  it.each([
    ['outside the sandbox', () => join(root, 'evil.txt')],
    ['escaping with ..', () => `${sandbox}/../evil2.txt`],
    ['into a subdirectory the rule does not allow', () => join(sandbox, 'deep', 'x.txt')],
  ])('denies a write %s and nothing reaches the disk', async (_label, target) => {
    const path = target();
    const r = await fs.client.callTool({ name: 'write_file', arguments: { path, content: 'pwned' } });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toBe('[TOLLGATE POLICY DENIED] write_file may only write inside the sandbox directory');
    expect((r._meta as Record<string, unknown>)['tollgate/denial']).toMatchObject({
      rule: 'writes stay in sandbox',
      reason: 'condition_failed',
    });
    expect(existsSync(join(root, 'evil.txt'))).toBe(false);
    expect(existsSync(join(root, 'evil2.txt'))).toBe(false);
  });

  it('rate-limits reads and says when the next one is admitted', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await fs.client.callTool({
        name: 'read_text_file',
        arguments: { path: join(root, 'notes.txt') },
      });
      expect(r.isError).toBeFalsy();
      expect(textOf(r)).toBe('line one\nline two\n');
    }
    const denied = await fs.client.callTool({
      name: 'read_text_file',
      arguments: { path: join(root, 'notes.txt') },
    });
    expect(denied.isError).toBe(true);
    const meta = (denied._meta as Record<string, { reason: string; retryAfterMs: number; rule: string }>)[
      'tollgate/denial'
    ]!;
    expect(meta.reason).toBe('rate_limited');
    expect(meta.rule).toBe('reads per minute');
    expect(meta.retryAfterMs).toBeGreaterThan(0);
    expect(meta.retryAfterMs).toBeLessThanOrEqual(60_000);
    // Other tools are not affected by the read bucket.
    const listed = await fs.client.callTool({ name: 'list_directory', arguments: { path: root } });
    expect(textOf(listed)).toContain('notes.txt');
  });

  it('judges a path in the Unicode forms the server resolves it in (KELVIN SIGN for K)', async () => {
    // The server maps a missing path component to an existing entry equal after NFC: it would
    // act on Keys/ for \u212Aeys/. The guard must refuse both spellings.
    for (const path of [join(root, 'Keys', 'k.txt'), join(root, '\u212Aeys', 'k.txt')]) {
      const r = await fs.client.callTool({ name: 'get_file_info', arguments: { path } });
      expect(r.isError).toBe(true);
      expect((r._meta as Record<string, unknown>)['tollgate/denial']).toMatchObject({
        rule: 'not the keys',
        reason: 'condition_failed',
      });
    }
    const ok = await fs.client.callTool({
      name: 'get_file_info',
      arguments: { path: join(root, 'notes.txt') },
    });
    expect(ok.isError).toBeFalsy();
    expect(textOf(ok)).toContain('isFile: true');
  });
});
