import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './from-source.js';

// Runs from source (no build needed): `tollgate validate` prints errors and warnings in one order.
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-validate-order-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A warning on line 5, an error on line 8, warnings on lines 12 and 13.
const POLICY = `version: "1"
hide: [a]
tools:
  a:
    rules: []
  b:
    rules:
      - { action: allow, rate_limit: 0/day }
  c:
    rules:
      - { action: deny }
      - { rate_limit: 1/day }
      - { rate_limit: 2/day }
`;

describe('tollgate validate output order', () => {
  it('prints errors and warnings together, sorted by line then column', () => {
    const f = join(dir, 'mixed.yaml');
    writeFileSync(f, POLICY);
    const r = runCli(['validate', '-c', f]);
    expect(r.code).toBe(1);
    // `file:line:col: [warning ]code: message` -> `line:col: [warning ]code`
    const heads = r.stderr
      .split('\n')
      .filter((l) => l.startsWith(`${f}:`))
      .map((l) =>
        l
          .slice(f.length + 1)
          .split(': ')
          .slice(0, 2)
          .join(': '),
      );
    expect(heads, r.stderr).toEqual([
      '4:3: warning hidden-tool-has-rules',
      '8:38: invalid-rate-limit-count',
      '12:9: warning unreachable-rule',
      '13:9: warning unreachable-rule',
      ' invalid policy, 1 error, 3 warnings',
    ]);

    const json = runCli(['validate', '-c', f, '--json']);
    expect(json.code).toBe(1);
    const out = JSON.parse(json.stdout) as {
      errors: { line: number; column: number }[];
      warnings: { line: number; column: number }[];
    };
    const pos = (l: { line: number; column: number }[]) => l.map((e) => [e.line, e.column]);
    expect(pos(out.errors)).toEqual([[8, 38]]);
    expect(pos(out.warnings)).toEqual([
      [4, 3],
      [12, 9],
      [13, 9],
    ]);
  });
});
