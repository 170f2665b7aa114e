/**
 * The listener on the real policy engine: `@tollgate/runtime`'s enforcer with a YAML policy,
 * a real counter store and the decision log, in front of the real server-everything. Proves
 * that HTTP sessions reach the decision log and that per-session counters are per session.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  createEnforcer,
  type Enforcer,
  openCounterStore,
  openDecisionLog,
  readDecisionLog,
} from '@tollgate/runtime';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type HttpListener, runHttpListener } from '../../src/http/listener.js';
import { everythingStdio } from './helpers.js';

type TextResult = { content: Array<{ type: string; text?: string }>; isError?: boolean };
const text = (r: unknown) => (r as TextResult).content.map((c) => c.text ?? '').join('');

const POLICY = `version: "1"
description: HTTP listener test policy
default: allow
tools:
  echo:
    rules:
      - name: two echoes per minute
        rate_limit: 2/minute
  get-sum:
    rules:
      - { name: no sums, action: deny, on_deny: Sums are not allowed here }
`;

let dir: string;
let policyFile: string;
const cleanups: Array<() => Promise<unknown>> = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-http-enf-'));
  policyFile = join(dir, 'policy.yaml');
  writeFileSync(policyFile, POLICY);
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
});

async function enforcer(eventsDir: string): Promise<Enforcer> {
  const store = await openCounterStore({ stateDsn: 'memory:' });
  const e = await createEnforcer({
    policyFile,
    watch: false,
    store,
    decisionLog: openDecisionLog({ dir: eventsDir }),
  });
  return e;
}

async function connect(listener: HttpListener, name: string) {
  const transport = new StreamableHTTPClientTransport(listener.url);
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(transport);
  cleanups.push(() => client.close());
  return { client, sessionId: transport.sessionId! };
}

const echo = (c: Client) =>
  c
    .callTool({ name: 'echo', arguments: { message: 'hi' } })
    .then((r) => ((r as TextResult).isError ? 'denied' : text(r)));

describe('listener on the real enforcer', () => {
  it('shares counters across sessions with one gate, and logs session and client ids', async () => {
    const events = join(dir, 'events');
    const gate = await enforcer(events);
    const listener = await runHttpListener({
      gate,
      upstream: { kind: 'stdio', ...everythingStdio() },
      env: {},
    });
    cleanups.push(
      () => gate.close(),
      () => listener.close(),
    );
    const a = await connect(listener, 'agent-a');
    const b = await connect(listener, 'agent-b');
    expect([await echo(a.client), await echo(b.client), await echo(a.client)]).toEqual([
      'Echo: hi',
      'Echo: hi',
      'denied',
    ]);
    const sum = (await b.client.callTool({ name: 'get-sum', arguments: { a: 1, b: 2 } })) as TextResult;
    expect(text(sum)).toBe('[TOLLGATE POLICY DENIED] Sums are not allowed here');
    await listener.close();
    await gate.close();
    const calls = readDecisionLog(events).filter((e) => e.type === 'tool_call') as unknown as Array<
      Record<string, unknown>
    >;
    expect(calls.map((c) => [c.tool, c.decision, c.session_id, c.client_id])).toEqual([
      ['echo', 'allow', a.sessionId, 'anonymous@127.0.0.1 (agent-a)'],
      ['echo', 'allow', b.sessionId, 'anonymous@127.0.0.1 (agent-b)'],
      ['echo', 'deny', a.sessionId, 'anonymous@127.0.0.1 (agent-a)'],
      ['get-sum', 'deny', b.sessionId, 'anonymous@127.0.0.1 (agent-b)'],
    ]);
  });

  it('keeps counters per session with a gate factory, and closes each gate with its session', async () => {
    const events = join(dir, 'events');
    const made: Enforcer[] = [];
    let closed = 0;
    const listener = await runHttpListener({
      gate: async () => {
        const e = await enforcer(events);
        made.push(e);
        const close = e.close.bind(e);
        return Object.assign(e, {
          close: () => {
            closed++;
            return close();
          },
        });
      },
      upstream: { kind: 'stdio', ...everythingStdio() },
      env: {},
    });
    cleanups.push(() => listener.close());
    const a = await connect(listener, 'agent-a');
    const b = await connect(listener, 'agent-b');
    const seen = [await echo(a.client), await echo(a.client), await echo(a.client), await echo(b.client)];
    expect(seen).toEqual(['Echo: hi', 'Echo: hi', 'denied', 'Echo: hi']);
    expect(made).toHaveLength(2);
    expect(closed).toBe(0);
    await listener.close();
    expect(closed).toBe(2);
  });
});
