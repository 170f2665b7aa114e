/**
 * Conditions that used to pass too loosely, through the built proxy and the real
 * server-everything: a list argument against `not_in`/`neq`, and loosely numeric strings
 * (`" 5 "`, `"0x5"`) against a numeric cap. Each must be denied, never forwarded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Scratch, type Session, scratch, serverBin } from './helpers.js';

const POLICY = `version: "1"
tools:
  echo:
    rules:
      - name: no secrets
        conditions: [{ path: args.message, op: not_in, value: [secret] }]
      - name: not the password
        conditions: [{ path: args.message, op: neq, value: hunter2 }]
  get-sum:
    rules:
      - name: small sums
        conditions: [{ path: args.a, op: lte, value: 10 }]
`;

let s: Scratch;
let via: Session;
beforeAll(async () => {
  s = scratch();
  via = await connect(s, s.write('policy.yaml', POLICY), [process.execPath, serverBin('server-everything')]);
}, 60_000);
afterAll(async () => {
  await via?.close();
  s?.cleanup();
});

function text(r: unknown): string {
  return ((r as { content: { text: string }[] }).content[0]?.text ?? '') as string;
}

describe('strict conditions through the proxy', () => {
  it('denies a list argument that holds a value not_in / neq forbid', async () => {
    const list = await via.client.callTool({ name: 'echo', arguments: { message: ['secret'] } });
    expect(list.isError).toBe(true);
    expect(text(list)).toBe(
      '[TOLLGATE POLICY DENIED] Rule "no secrets" denied the call: args.message (["secret"]) is not not_in ["secret"]',
    );
    const neq = await via.client.callTool({ name: 'echo', arguments: { message: ['hunter2'] } });
    expect(text(neq)).toBe(
      '[TOLLGATE POLICY DENIED] Rule "not the password" denied the call: args.message (["hunter2"]) is not neq "hunter2"',
    );
    const ok = await via.client.callTool({ name: 'echo', arguments: { message: 'hello' } });
    expect(ok.isError).toBeFalsy();
    expect(text(ok)).toBe('Echo: hello');
  });

  it('denies numeric strings other than plain integers under a numeric cap', async () => {
    // Number() reads each as 5, under the cap; the old coercion forwarded them. A server reading
    // with parseInt sees 50 in "50e-1" and 5 in "5.9" (which Number() reads as 5.9).
    for (const a of [' 5 ', '0x5', '+5', '05', '5e0 ', '50e-1', '5.0', '5.9']) {
      const r = await via.client.callTool({ name: 'get-sum', arguments: { a, b: 1 } });
      expect(r.isError).toBe(true);
      expect(text(r)).toBe(
        `[TOLLGATE POLICY DENIED] Rule "small sums" denied the call: args.a (${JSON.stringify(a)}) is not lte 10`,
      );
    }
    const big = await via.client.callTool({ name: 'get-sum', arguments: { a: '100', b: 1 } });
    expect(text(big)).toBe(
      '[TOLLGATE POLICY DENIED] Rule "small sums" denied the call: args.a ("100") is not lte 10',
    );
    const ok = await via.client.callTool({ name: 'get-sum', arguments: { a: 3, b: 4 } });
    expect(ok.isError).toBeFalsy();
    expect(text(ok)).toBe('The sum of 3 and 4 is 7.');
  });
});
