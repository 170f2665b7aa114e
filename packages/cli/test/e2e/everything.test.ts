/**
 * @modelcontextprotocol/server-everything behind tollgate: every tool result kind, progress,
 * logging, sampling and elicitation during a call, roots, resources and prompts pass through
 * unchanged (compared with the same calls made directly to the server); a policy still bites.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Scratch, type Session, scratch, serverBin, textOf } from './helpers.js';

const POLICY = `version: "1"
hide: [get-env]
tools:
  get-sum:
    rules:
      - name: small sums only
        conditions: [{ path: args.a, op: lte, value: 100 }]
        on_deny: Sums are limited to a <= 100
`;

const capabilities = { sampling: {}, elicitation: {}, roots: { listChanged: true } };
const handlers = { sampling: 0, elicitation: 0, roots: 0 };
function setup(c: Client) {
  c.setRequestHandler(CreateMessageRequestSchema, async () => {
    handlers.sampling++;
    return { model: 'e2e-model', role: 'assistant', content: { type: 'text', text: 'sampled answer' } };
  });
  c.setRequestHandler(ElicitRequestSchema, async () => {
    handlers.elicitation++;
    return { action: 'accept', content: { color: 'blue' } };
  });
  c.setRequestHandler(ListRootsRequestSchema, async () => {
    handlers.roots++;
    return { roots: [{ uri: 'file:///tmp', name: 'tmp' }] };
  });
}

let s: Scratch;
let via: Session;
let direct: Client;
const logs: unknown[] = [];

beforeAll(async () => {
  s = scratch();
  via = await connect(s, s.write('policy.yaml', POLICY), [process.execPath, serverBin('server-everything')], {
    capabilities,
    setup: (c) => {
      setup(c);
      c.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
        logs.push(n.params);
      });
    },
  });
  direct = new Client({ name: 'e2e-direct', version: '1.0.0' }, { capabilities });
  setup(direct);
  await direct.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [serverBin('server-everything')],
      stderr: 'ignore',
    }),
  );
});

afterAll(async () => {
  await via?.close();
  await direct?.close();
  s?.cleanup();
});

/** The result as JSON with server-everything's `created at <local time>` stamps replaced by `created at <clock>`. */
function withoutClock(result: unknown): unknown {
  return JSON.parse(JSON.stringify(result).replace(/created at [^"\\]+/g, 'created at <clock>'));
}

describe('server-everything through tollgate', () => {
  it('lists the same tools as the server, minus the hidden one', async () => {
    const [a, b] = await Promise.all([via.client.listTools(), direct.listTools()]);
    const names = (r: typeof a) => r.tools.map((t) => t.name).sort();
    expect(names(b)).toContain('get-env');
    expect(names(a)).toEqual(names(b).filter((n) => n !== 'get-env'));
    expect(a.tools.find((t) => t.name === 'echo')).toEqual(b.tools.find((t) => t.name === 'echo'));
  });

  it.each([
    ['echo (text)', 'echo', { message: 'hello \u2028 world' }],
    ['get-tiny-image (image)', 'get-tiny-image', {}],
    ['get-structured-content (structuredContent)', 'get-structured-content', { location: 'Chicago' }],
    ['get-resource-links (resource_link)', 'get-resource-links', { count: 2 }],
    [
      'get-resource-reference (embedded resource)',
      'get-resource-reference',
      { resourceType: 'Text', resourceId: 2 },
    ],
    [
      'get-annotated-message (annotations)',
      'get-annotated-message',
      { messageType: 'success', includeImage: true },
    ],
    ['get-sum (allowed by a condition)', 'get-sum', { a: 2, b: 3 }],
  ])('returns %s exactly as the server does', async (_label, name, args) => {
    const [a, b] = await Promise.all([
      via.client.callTool({ name, arguments: args }),
      direct.callTool({ name, arguments: args }),
    ]);
    // server-everything stamps embedded resources with the wall clock ("created at 11:59:59 PM");
    // the two calls run in parallel and may straddle a second, so only that stamp is masked.
    expect(withoutClock(a)).toEqual(withoutClock(b));
    expect(a.isError).toBeFalsy();
  });

  it('denies a call the policy forbids, with the rule in _meta', async () => {
    const r = await via.client.callTool({ name: 'get-sum', arguments: { a: 1000, b: 1 } });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toBe('[TOLLGATE POLICY DENIED] Sums are limited to a <= 100');
    expect((r._meta as Record<string, { rule: string; reason: string }>)['tollgate/denial']).toMatchObject({
      rule: 'small sums only',
      reason: 'condition_failed',
    });
    const hidden = await via.client.callTool({ name: 'get-env', arguments: {} });
    expect(hidden.isError).toBe(true);
    expect(textOf(hidden)).toMatch(/^\[TOLLGATE POLICY DENIED\] /);
  });

  it('passes progress notifications of a long-running call', async () => {
    const progress: number[] = [];
    const r = await via.client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 4 } },
      undefined,
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(r.isError).toBeFalsy();
    // The SDK client runs notification handlers in a microtask but settles responses at once:
    // when the last progress and the result arrive in one read (a loaded machine, direct or
    // not), the last progress is dropped by the client itself. So: in order, at least 1..3.
    expect(progress.slice(0, 3)).toEqual([1, 2, 3]);
    expect(progress.length === 3 || progress[3] === 4).toBe(true);
  });

  it('passes logging notifications', async () => {
    await via.client.setLoggingLevel('debug');
    const before = logs.length;
    await via.client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    for (let i = 0; i < 50 && logs.length === before; i++) await new Promise((r) => setTimeout(r, 100));
    expect(logs.length).toBeGreaterThan(before);
    expect(logs[logs.length - 1]).toMatchObject({ level: expect.any(String), data: expect.anything() });
    await via.client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
  });

  it('relays a sampling request from the server in the middle of a call', async () => {
    const before = handlers.sampling;
    const r = await via.client.callTool({
      name: 'trigger-sampling-request',
      arguments: { prompt: 'say hi', maxTokens: 20 },
    });
    expect(handlers.sampling).toBe(before + 1);
    expect(JSON.stringify(r.content)).toContain('sampled answer');
  });

  it('relays an elicitation request from the server in the middle of a call', async () => {
    const before = handlers.elicitation;
    const r = await via.client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
    expect(handlers.elicitation).toBe(before + 1);
    expect(JSON.stringify(r.content)).toContain('blue');
  });

  it('answers the server roots/list request it makes after initialization', async () => {
    for (let i = 0; i < 30 && handlers.roots < 2; i++) await new Promise((r) => setTimeout(r, 100));
    // Once for the direct session, once through tollgate.
    expect(handlers.roots).toBeGreaterThanOrEqual(2);
  });

  it('leaves resources, resource templates, prompts and completions untouched', async () => {
    const pairs = await Promise.all([
      Promise.all([via.client.listResources(), direct.listResources()]),
      Promise.all([via.client.listResourceTemplates(), direct.listResourceTemplates()]),
      Promise.all([via.client.listPrompts(), direct.listPrompts()]),
      Promise.all([
        via.client.getPrompt({ name: 'args-prompt', arguments: { city: 'Paris', state: 'TX' } }),
        direct.getPrompt({ name: 'args-prompt', arguments: { city: 'Paris', state: 'TX' } }),
      ]),
    ]);
    for (const [a, b] of pairs) expect(a).toEqual(b);
    const uri = pairs[0][1].resources[0]!.uri;
    const [ra, rb] = await Promise.all([via.client.readResource({ uri }), direct.readResource({ uri })]);
    expect(withoutClock(ra)).toEqual(withoutClock(rb));
    expect(ra.contents.length).toBeGreaterThan(0);
    await expect(via.client.ping()).resolves.toEqual({});
  });
});
