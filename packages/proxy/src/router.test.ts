import { describe, expect, it } from 'vitest';
import { DENIAL_META_KEY } from './denial.js';
import type { Gate, GateCall, GateDecision, PolicyToolNames, PolicyView } from './gate.js';
import { Router } from './router.js';
import type { CloseInfo, MessageTransport } from './transport/types.js';

/** An in-memory transport: what the router sends is recorded; `deliver` plays the peer. */
class Peer implements MessageTransport {
  sent: Buffer[] = [];
  onmessage?: (bytes: Buffer) => void;
  onclose?: (info: CloseInfo) => void;
  onlongmessage?: MessageTransport['onlongmessage'];
  onoversize?: MessageTransport['onoversize'];
  async start() {}
  send(bytes: Buffer) {
    this.sent.push(bytes);
  }
  async close() {}
  deliver(msg: unknown) {
    this.onmessage?.(
      Buffer.isBuffer(msg) ? msg : Buffer.from(typeof msg === 'string' ? msg : JSON.stringify(msg)),
    );
  }
  texts() {
    return this.sent.map((b) => b.toString('utf8'));
  }
  json() {
    return this.sent.map((b) => JSON.parse(b.toString('utf8')));
  }
}

/** A trivial gate for routing tests: denies tools named `deny*`, hides `secret*`, delays `slow*`. */
class TestGate implements Gate {
  decided: GateCall[] = [];
  committed: string[] = [];
  rolledBack: string[] = [];
  schemas: string[] = [];
  listener?: (prev: PolicyView, next: PolicyView) => void;
  hidePrefix = 'secret';
  async decide(call: GateCall): Promise<GateDecision & { tool: string }> {
    this.decided.push(call);
    if (call.tool.startsWith('slow')) await new Promise((r) => setTimeout(r, 30));
    if (call.tool.startsWith('boom')) throw new Error('store down');
    const allowed = !call.tool.startsWith('deny') && !this.isHidden(call.tool);
    return {
      tool: call.tool,
      allowed,
      reason: allowed ? 'allowed' : 'denied_by_rule',
      rule: allowed ? undefined : 'no deny tools',
      message: allowed ? 'ok' : `Tool ${call.tool} is not allowed`,
      retryAfterMs: allowed ? undefined : 1500,
    };
  }
  async commit(d: GateDecision & { tool?: string }) {
    this.committed.push(d.tool!);
  }
  async rollback(d: GateDecision & { tool?: string }) {
    this.rolledBack.push(d.tool!);
  }
  isHidden(tool: string) {
    return tool.startsWith(this.hidePrefix);
  }
  setToolSchemas(tools: Array<{ name: string }>) {
    this.schemas = tools.map((t) => t.name);
  }
  onPolicyChange(l: (prev: PolicyView, next: PolicyView) => void) {
    this.listener = l;
    return () => {
      this.listener = undefined;
    };
  }
}

function setup(opts: { prefetch?: boolean } = {}) {
  const client = new Peer();
  const server = new Peer();
  const gate = new TestGate();
  const router = new Router({ client, server, gate, prefetchToolSchemas: opts.prefetch ?? false });
  return { client, server, gate, router };
}

const tick = (ms = 50) => new Promise((r) => setTimeout(r, ms));
const call = (id: unknown, name: unknown, args: unknown = {}) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

describe('Router', () => {
  it('forwards non-tools/call messages as the exact bytes received', async () => {
    const { client, server } = setup();
    const raw =
      '{"method":"resources/read", "params":{"uri":"x://y","_meta":{"k":1}},"jsonrpc":"2.0","id":4}';
    client.deliver(raw);
    server.deliver(
      '{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"\u2028"}}',
    );
    await tick();
    expect(server.texts()).toEqual([raw]);
    expect(client.texts()[0]).toContain('notifications/message');
  });

  it('answers malformed tools/call params with -32602 and never forwards them', async () => {
    const { client, server, gate } = setup();
    client.deliver({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: 'nope' });
    client.deliver({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { arguments: {} } });
    client.deliver({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 7 } });
    client.deliver(call(4, 'echo', [1, 2]));
    client.deliver({ jsonrpc: '2.0', id: 5, method: 'tools/call' });
    await tick();
    expect(server.sent).toHaveLength(0);
    expect(gate.decided).toHaveLength(0);
    const replies = client.json();
    expect(replies.map((r) => [r.id, r.error.code])).toEqual([
      [1, -32602],
      [2, -32602],
      [3, -32602],
      [4, -32602],
      [5, -32602],
    ]);
    expect(replies[3].error.message).toBe('Invalid params: params.arguments must be an object');
  });

  it('refuses a message that writes a member name twice, at the top, in params or in arguments', async () => {
    const { client, server, gate } = setup();
    const msgs = [
      // Top level: read as `ping` by JavaScript, as a tools/call by a first-wins decoder.
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","method":"ping","params":{"name":"move_file","arguments":{}}}',
      '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"move_file","arguments":{}},"params":{"name":"echo","arguments":{}}}',
      '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"move_file","name":"echo","arguments":{}}}',
      '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo","arguments":{"p":{"path":"/srv/sandbox/../etc","path":"/srv/sandbox/x"}}}}',
      '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"a":1,"\\u0061":2}}}',
    ];
    for (const m of msgs) client.deliver(m);
    // The same names once each, in strings too (": inside strings is no member), pass.
    client.deliver(
      '{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"echo","arguments":{"text":"a:b\\":c","list":[{"x":1},{"x":2}]}}}',
    );
    await tick();
    expect(client.json().map((r) => [r.id, r.error?.code, r.error?.message])).toEqual([
      [1, -32600, 'Invalid Request: member "method" appears twice (decoders differ on which one counts)'],
      [2, -32600, 'Invalid Request: member "params" appears twice (decoders differ on which one counts)'],
      [
        3,
        -32602,
        'Invalid params: a member name appears twice in one object (decoders differ on which one counts)',
      ],
      [
        4,
        -32602,
        'Invalid params: a member name appears twice in one object (decoders differ on which one counts)',
      ],
      [
        5,
        -32602,
        'Invalid params: a member name appears twice in one object (decoders differ on which one counts)',
      ],
    ]);
    expect(gate.decided.map((c) => c.tool)).toEqual(['echo']);
    expect(server.texts()).toHaveLength(1);
    expect(JSON.parse(server.texts()[0]!).id).toBe(6);
  });

  it('answers a denied call with an isError result and _meta, and forwards allowed calls raw', async () => {
    const { client, server, gate } = setup();
    client.deliver(call(1, 'deny_me', { a: 1 }));
    const allowed = JSON.stringify(call(2, 'echo', { a: 1 }));
    client.deliver(allowed);
    await tick();
    expect(server.texts()).toEqual([allowed]);
    const [denial] = client.json();
    expect(denial).toEqual({
      jsonrpc: '2.0',
      id: 1,
      result: {
        content: [{ type: 'text', text: '[TOLLGATE POLICY DENIED] Tool deny_me is not allowed' }],
        isError: true,
        _meta: { [DENIAL_META_KEY]: { reason: 'denied_by_rule', rule: 'no deny tools', retryAfterMs: 1500 } },
      },
    });
    server.deliver({ jsonrpc: '2.0', id: 2, result: { content: [] } });
    await tick();
    expect(gate.committed).toEqual(['echo']);
    expect(client.json()[1]).toEqual({ jsonrpc: '2.0', id: 2, result: { content: [] } });
  });

  it('evaluates a tools/call whose member names are written with escapes (the server decodes them)', async () => {
    const { client, server, gate } = setup();
    // JSON.parse reads "\u0069d" as "id": without decoding it the proxy took this for a
    // notification and forwarded it raw, and the server ran the call unevaluated.
    client.deliver('{"jsonrpc":"2.0","\\u0069d":7,"method":"tools/call","params":{"name":"deny_me"}}');
    client.deliver('{"jsonrpc":"2.0","id":8,"\\u006dethod":"tools\\/call","params":{"name":"deny_too"}}');
    await tick();
    expect(server.sent).toEqual([]);
    expect(gate.decided.map((c) => c.tool)).toEqual(['deny_me', 'deny_too']);
    expect(client.json().map((r) => [r.id, r.result.isError])).toEqual([
      [7, true],
      [8, true],
    ]);
  });

  it('refuses calls a case-insensitive decoder (Go encoding/json) would read differently from the policy', async () => {
    const { client, server, gate } = setup();
    const msgs = [
      // The policy would judge echo; Go would run deny_me (the last match for its Name field).
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', Name: 'deny_me' } },
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', NAME: 'deny_me' } },
      // The policy would see {text: hello}; Go would pass the other arguments.
      {
        jsonrpc: '2.0',
        id: 3,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'hello' }, ARGUMENTS: { text: 'rm -rf /' } },
      },
      {
        jsonrpc: '2.0',
        id: 4,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'a', TEXT: 'b' } },
      },
      {
        jsonrpc: '2.0',
        id: 5,
        method: 'tools/call',
        params: { name: 'echo', arguments: { opts: [{ pa\u017fs: 1, pass: 2 }] } },
      },
    ];
    for (const m of msgs) client.deliver(m);
    // A tools/call without an id, or with a null one, is refused too, not forwarded unevaluated.
    client.deliver({ jsonrpc: '2.0', method: 'tools/call', params: { name: 'deny_me' } });
    client.deliver({ jsonrpc: '2.0', id: null, method: 'tools/call', params: { name: 'echo' } });
    // Names that only look alike stay allowed.
    client.deliver({
      jsonrpc: '2.0',
      id: 6,
      method: 'tools/call',
      params: { name: 'echo', arguments: { filePath: 'a', file_path: 'b' }, _meta: { progressToken: 1 } },
    });
    await tick();
    expect(gate.decided.map((c) => c.tool)).toEqual(['echo']);
    expect(server.json().map((m) => m.id)).toEqual([6]);
    const replies = client.json();
    expect(replies.map((r) => [r.id, r.error.code])).toEqual([
      [1, -32602],
      [2, -32602],
      [3, -32602],
      [4, -32602],
      [5, -32602],
      [null, -32600],
      [null, -32600],
    ]);
    expect(replies[6].error.message).toBe('Invalid Request: tools/call must have an id that is not null');
    expect(replies[0].error.message).toBe(
      'Invalid params: params member "Name" differs from "name" only by case',
    );
    expect(replies[3].error.message).toBe(
      'Invalid params: params.arguments has member names equal regardless of case or invisible characters: "text" and "TEXT"',
    );
  });

  it('refuses a method that is tools/call but for case or invisible characters: a lenient server would run it unjudged', async () => {
    const { client, server, gate } = setup();
    const variants = [
      'Tools/Call',
      'TOOLS/CALL',
      'tools/call ',
      ' tools/call',
      'tool\u017f/call',
      // Python's str.strip() drops U+0085 and U+001C-U+001F; a C string ends at NUL.
      'tools/call\u0085',
      'tools/call\u001f',
      'tools/call\u0000',
      'tools\u200b/call',
    ];
    for (const [i, method] of variants.entries()) {
      client.deliver({ jsonrpc: '2.0', id: i + 1, method, params: { name: 'deny_all' } });
    }
    client.deliver({ jsonrpc: '2.0', method: 'Tools/Call', params: { name: 'deny_all' } });
    // Near misses that are other methods pass as they are.
    client.deliver({ jsonrpc: '2.0', id: 20, method: 'tools/calls' });
    client.deliver({ jsonrpc: '2.0', id: 21, method: 'tools/list' });
    await tick();
    expect(gate.decided).toEqual([]);
    expect(server.json().map((m) => m.method)).toEqual(['tools/calls', 'tools/list']);
    expect(client.json().map((m) => [m.id, m.error.code, m.error.message])).toEqual([
      ...variants.map((method, i) => [
        i + 1,
        -32600,
        `Invalid Request: method ${JSON.stringify(method)} differs from "tools/call" only by case or invisible characters`,
      ]),
      [
        null,
        -32600,
        'Invalid Request: method "Tools/Call" differs from "tools/call" only by case or invisible characters',
      ],
    ]);
  });

  it('refuses a message with a carriage return inside it: a server reading universal newlines would split it', async () => {
    const { client, server, gate } = setup();
    const inner = JSON.stringify(call(9, 'deny_me', {}));
    // One notification to the proxy; to a Python server, three lines, the middle one a tools/call.
    client.deliver(`{"jsonrpc":"2.0","method":"notifications/note","params":{"x":[\r${inner}\r]}}`);
    // The same smuggling inside a string (a raw CR there is not even valid JSON).
    client.deliver(
      `{"jsonrpc":"2.0","id":10,"method":"ping","params":{"x":"\r${inner.replaceAll('"', "'")}\r"}}`,
    );
    client.deliver('{"jsonrpc":"2.0",\r"id":11,"method":"tools/call","params":{"name":"echo"}}');
    await tick();
    expect(server.sent).toEqual([]);
    expect(gate.decided).toEqual([]);
    const replies = client.json();
    expect(replies.map((r) => [r.id, r.error.code])).toEqual([
      [null, -32600],
      [10, -32600],
      [11, -32600],
    ]);
    expect(replies[2].error.message).toBe(
      'Invalid Request: a message must not contain a carriage return (MCP stdio: no embedded newlines)',
    );
  });

  it('decides within the turn when the gate can (decideNow), keeping order behind a call still being decided', async () => {
    const client = new Peer();
    const server = new Peer();
    const gate = new TestGate();
    const now: string[] = [];
    // Decides at once except for slow* tools (undefined: take decide's asynchronous path).
    (gate as TestGate & { decideNow: (c: GateCall) => GateDecision | undefined }).decideNow = (c) => {
      if (c.tool.startsWith('slow')) return undefined;
      now.push(c.tool);
      const allowed = !c.tool.startsWith('deny');
      return {
        tool: c.tool,
        allowed,
        reason: allowed ? 'allowed' : 'denied_by_rule',
        message: `no ${c.tool}`,
      } as GateDecision;
    };
    new Router({ client, server, gate, prefetchToolSchemas: false });
    client.deliver(call(1, 'echo'));
    // Forwarded within the same turn: no await needed.
    expect(server.json().map((m) => m.id)).toEqual([1]);
    client.deliver(call(2, 'deny_me'));
    expect(client.json()[0]).toMatchObject({ id: 2, result: { isError: true } });
    // Behind a call that waits, later calls wait too: order is kept.
    client.deliver(call(3, 'slow_one'));
    client.deliver(call(4, 'echo'));
    expect(server.json().map((m) => m.id)).toEqual([1]);
    await new Promise((r) => setTimeout(r, 60));
    expect(server.json().map((m) => m.id)).toEqual([1, 3, 4]);
    expect(now).toEqual(['echo', 'deny_me']);
    expect(gate.decided.map((c) => c.tool)).toEqual(['slow_one', 'echo']);
    server.deliver({ jsonrpc: '2.0', id: 1, result: { content: [] } });
    await tick();
    expect(gate.committed).toEqual(['echo']);
  });

  it('rolls back on a JSON-RPC error and keeps string and number ids apart', async () => {
    const { client, server, gate } = setup();
    client.deliver(call(1, 'a'));
    client.deliver(call('1', 'b'));
    await tick();
    server.deliver({ jsonrpc: '2.0', id: '1', error: { code: -32000, message: 'x' } });
    server.deliver({ jsonrpc: '2.0', id: 1, result: {} });
    await tick();
    expect(gate.rolledBack).toEqual(['b']);
    expect(gate.committed).toEqual(['a']);
  });

  it('commits a task-augmented call on a JSON-RPC error too (the server may have run the tool first)', async () => {
    const { client, server, gate } = setup();
    const task = (id: number, name: string, taskParam: unknown) => ({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name, arguments: {}, task: taskParam },
    });
    client.deliver(task(1, 'send', { ttl: 60000 }));
    client.deliver(task(2, 'odd_task', null));
    client.deliver(call(3, 'plain'));
    client.deliver(task(4, 'created', { ttl: 1000 }));
    await tick();
    const error = { code: -32602, message: 'Invalid task creation result' };
    server.deliver({ jsonrpc: '2.0', id: 1, error });
    server.deliver({ jsonrpc: '2.0', id: 2, error });
    server.deliver({ jsonrpc: '2.0', id: 3, error });
    server.deliver({ jsonrpc: '2.0', id: 4, result: { task: { taskId: 't1', status: 'working' } } });
    await tick();
    expect(gate.committed).toEqual(['send', 'odd_task', 'created']);
    expect(gate.rolledBack).toEqual(['plain']);
    // The answers themselves pass untouched.
    expect(client.json().map((m) => m.error?.message ?? m.result.task.taskId)).toEqual([
      'Invalid task creation result',
      'Invalid task creation result',
      'Invalid task creation result',
      't1',
    ]);
  });

  it('commits a result with isError: true (the tool ran and failed; a retry loop must still hit its limit)', async () => {
    const { client, server, gate } = setup();
    client.deliver(call(1, 'flaky'));
    client.deliver(call(2, 'gone'));
    await tick();
    server.deliver({
      jsonrpc: '2.0',
      id: 1,
      result: { content: [{ type: 'text', text: 'disk full' }], isError: true },
    });
    server.deliver({ jsonrpc: '2.0', id: 2, error: { code: -32602, message: 'Unknown tool: gone' } });
    await tick();
    expect(gate.committed).toEqual(['flaky']);
    expect(gate.rolledBack).toEqual(['gone']);
  });

  it('refuses calls when the gate throws (fail closed)', async () => {
    const { client, server } = setup();
    client.deliver(call(1, 'boom'));
    await tick();
    expect(server.sent).toHaveLength(0);
    expect(client.json()[0].error.code).toBe(-32001);
  });

  it('keeps message order while a decision is pending', async () => {
    const { client, server } = setup();
    client.deliver(call(1, 'slow'));
    client.deliver({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } });
    client.deliver({ jsonrpc: '2.0', id: 2, method: 'ping' });
    await tick(100);
    expect(server.json().map((m) => m.method)).toEqual(['tools/call', 'notifications/cancelled', 'ping']);
  });

  it('commits a cancelled call once and ignores a late answer', async () => {
    const { client, server, gate } = setup();
    client.deliver(call(1, 'echo'));
    await tick();
    client.deliver({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } });
    server.deliver({ jsonrpc: '2.0', id: 1, error: { code: -1, message: 'cancelled' } });
    await tick();
    expect(gate.committed).toEqual(['echo']);
    expect(gate.rolledBack).toEqual([]);
  });

  it('a cancelled request no longer awaits an answer: not waited for, not answered at server death', async () => {
    const { client, server, router } = setup();
    client.deliver(call(1, 'echo'));
    client.deliver(call(2, 'echo'));
    await tick();
    expect(router.pendingRequests).toBe(2);
    client.deliver({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } });
    await tick();
    expect(router.pendingRequests).toBe(1);
    expect(server.json().map((m) => m.method)).toEqual([
      'tools/call',
      'tools/call',
      'notifications/cancelled',
    ]);
    // The server's death answers the pending call only: the cancelled one gets no -32000 its
    // client no longer waits for.
    router.serverClosed({ exitCode: 1 });
    expect(client.json().map((m) => [m.id, m.error?.code])).toEqual([[2, -32000]]);
  });

  it('an id still queued for its decision awaits an answer too', async () => {
    const { client, server, router } = setup();
    client.deliver(call(5, 'slow'));
    // Queued: the gate has not decided yet, nothing is forwarded.
    expect(server.json()).toHaveLength(0);
    expect(router.awaitsAnswer(5)).toBe(true);
    await tick();
    expect(server.json()).toHaveLength(1);
    expect(router.awaitsAnswer(5)).toBe(true);
    server.deliver({ jsonrpc: '2.0', id: 5, result: { content: [] } });
    await tick();
    expect(router.awaitsAnswer(5)).toBe(false);
  });

  it('a session the proxy ends commits pending calls (they were forwarded); a dying server rolls them back', async () => {
    const ended = setup();
    ended.client.deliver(call(1, 'echo'));
    ended.client.deliver({ jsonrpc: '2.0', id: 2, method: 'ping' });
    await tick();
    expect(ended.router.awaitsAnswer(1)).toBe(true);
    expect(ended.router.awaitsAnswer('1')).toBe(false);
    ended.router.endSession('the client deleted its session');
    await tick();
    expect(ended.gate.committed).toEqual(['echo']);
    expect(ended.gate.rolledBack).toEqual([]);
    expect(ended.client.json().map((m) => [m.id, m.error?.code, m.error?.message])).toEqual([
      [
        1,
        -32000,
        "Tollgate closed the session (the client deleted its session) before the MCP server answered; a forwarded tools/call counts against the policy's limits",
      ],
      // A ping was no call: nothing counted, and the message does not say so.
      [
        2,
        -32000,
        'Tollgate closed the session (the client deleted its session) before the MCP server answered',
      ],
    ]);
    expect(ended.router.awaitsAnswer(1)).toBe(false);
    // The transport's close that follows changes nothing.
    ended.router.serverClosed({ reason: 'upstream HTTP session closed' });
    expect(ended.client.json()).toHaveLength(2);
    expect(ended.gate.rolledBack).toEqual([]);

    const died = setup();
    died.client.deliver(call(1, 'echo'));
    await tick();
    // An HTTP upstream that went away has no exit code: the reason is given instead.
    died.router.serverClosed({ reason: 'upstream HTTP session closed' });
    await tick();
    expect(died.gate.rolledBack).toEqual(['echo']);
    expect(died.client.json()[0]?.error?.message).toBe(
      'MCP server closed the session (upstream HTTP session closed) before answering',
    );
  });

  it('the id of a cancelled request stays taken until the server answers it: a late answer is never taken for a new request', async () => {
    const { client, server, gate } = setup();
    // Cancel a request the server then answers with an error, and reuse its id for a call: the
    // error must not roll the call back (a rate limit would never be reached) nor be its answer.
    client.deliver({ jsonrpc: '2.0', id: 100, method: 'no/such/method' });
    client.deliver({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 100 } });
    client.deliver(call(100, 'echo'));
    await tick();
    // Refused before the policy saw it: nothing reserved, nothing to roll back.
    expect(gate.decided.map((c) => c.tool)).toEqual([]);
    expect(gate.rolledBack).toEqual([]);
    expect(server.json().map((m) => m.method)).toEqual(['no/such/method', 'notifications/cancelled']);
    expect(client.json()[0]).toMatchObject({
      id: 100,
      error: {
        code: -32600,
        message:
          'Invalid Request: id is still held by a cancelled request the server has not answered (MCP forbids reusing request ids)',
      },
    });
    // The late answer is forwarded as it comes; then the id is free again.
    server.deliver({ jsonrpc: '2.0', id: 100, error: { code: -32601, message: 'Method not found' } });
    client.deliver(call(100, 'echo'));
    await tick();
    expect(client.json()[1]).toMatchObject({ id: 100, error: { code: -32601 } });
    expect(server.json().at(-1)).toMatchObject({ id: 100, method: 'tools/call' });
    server.deliver({ jsonrpc: '2.0', id: 100, result: { content: [] } });
    await tick();
    expect(gate.committed).toEqual(['echo']);
  });

  it('a cancelled tools/list keeps its id and its filter: its late answer is filtered, a call reusing the id refused', async () => {
    const { client, server } = setup();
    client.deliver({ jsonrpc: '2.0', id: 7, method: 'tools/list' });
    client.deliver({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 7 } });
    client.deliver(call(7, 'echo'));
    client.deliver({ jsonrpc: '2.0', id: 7, method: 'tools/list' });
    await tick();
    expect(server.json().map((m) => m.method)).toEqual(['tools/list', 'notifications/cancelled']);
    expect(client.json().map((m) => [m.id, m.error?.code])).toEqual([
      [7, -32600],
      [7, -32600],
    ]);
    server.deliver({ jsonrpc: '2.0', id: 7, result: { tools: [{ name: 'secret_x' }, { name: 'echo' }] } });
    await tick();
    expect(client.json()[2].result.tools.map((t: { name: string }) => t.name)).toEqual(['echo']);
  });

  it('unbatches a batch, evaluates every element and answers with one array in order', async () => {
    const { client, server } = setup();
    client.deliver([
      call(1, 'echo'),
      call(2, 'deny_x'),
      { jsonrpc: '2.0', method: 'notifications/progress', params: {} },
      { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 1 } },
      { jsonrpc: '2.0', id: 4, method: 'ping' },
      42,
    ]);
    await tick();
    expect(server.json().map((m) => [m.id, m.method])).toEqual([
      [1, 'tools/call'],
      [undefined, 'notifications/progress'],
      [4, 'ping'],
    ]);
    expect(client.sent).toHaveLength(0);
    server.deliver({ jsonrpc: '2.0', id: 4, result: {} });
    server.deliver({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'hi' }] } });
    await tick();
    expect(client.sent).toHaveLength(1);
    const batch = client.json()[0];
    expect(batch.map((r: { id: unknown }) => r.id)).toEqual([1, 2, 3, 4, null]);
    expect(batch[1].result.isError).toBe(true);
    expect(batch[2].error.code).toBe(-32602);
    expect(batch[4].error.code).toBe(-32600);
  });

  it('refuses inside a batch what it refuses outside one: a tools/call without an id, or spelled otherwise', async () => {
    const { client, server, gate } = setup();
    client.deliver([
      { jsonrpc: '2.0', method: 'tools/call', params: { name: 'echo' } },
      { jsonrpc: '2.0', id: 2, method: 'Tools/Call', params: { name: 'echo' } },
      { jsonrpc: '2.0', method: 'tools/call ', params: { name: 'echo' } },
      { jsonrpc: '2.0', id: null, method: 'tools/call', params: { name: 'echo' } },
      { jsonrpc: '2.0', id: 5, method: 'ping' },
    ]);
    await tick();
    // Only the ping reaches the server; nothing was judged, so nothing was decided.
    expect(server.json().map((m) => m.method)).toEqual(['ping']);
    expect(gate.decided).toEqual([]);
    server.deliver({ jsonrpc: '2.0', id: 5, result: {} });
    await tick();
    const [batch] = client.json();
    expect(batch.map((r: { id: unknown; error?: { code: number } }) => [r.id, r.error?.code])).toEqual([
      [null, -32600],
      [2, -32600],
      [null, -32600],
      [null, -32600],
      [5, undefined],
    ]);
  });

  it('answers a batch without waiting for a member the client cancelled, with no entry for it', async () => {
    const { client, server, router, gate } = setup();
    client.deliver([call(1, 'echo'), { jsonrpc: '2.0', id: 2, method: 'ping' }, call(3, 'deny_x')]);
    await tick();
    server.deliver({ jsonrpc: '2.0', id: 2, result: {} });
    await tick();
    expect(client.sent).toHaveLength(0);
    // The server follows MCP and never answers the cancelled call.
    client.deliver({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } });
    await tick();
    expect(client.sent).toHaveLength(1);
    const batch = client.json()[0];
    expect(batch.map((r: { id: unknown }) => r.id)).toEqual([2, 3]);
    expect(batch[1].result.isError).toBe(true);
    expect(router.pendingRequests).toBe(0);
    // Counted as any cancelled call; its id stays taken, and a late answer goes out on its own.
    expect(gate.committed).toEqual(['echo']);
    expect(router.awaitsAnswer(1)).toBe(true);
    server.deliver({ jsonrpc: '2.0', id: 1, result: { content: [] } });
    await tick();
    expect(client.json().map((m) => (Array.isArray(m) ? 'batch' : m.id))).toEqual(['batch', 1]);
    expect(router.awaitsAnswer(1)).toBe(false);
  });

  it('sends nothing for a batch whose only request was cancelled', async () => {
    const { client, router } = setup();
    client.deliver([call(1, 'echo')]);
    await tick();
    client.deliver({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } });
    await tick();
    expect(client.sent).toHaveLength(0);
    router.serverClosed({ exitCode: 1 });
    expect(client.sent).toHaveLength(0);
  });

  it('sends nothing back for a batch of notifications only, and -32600 for an empty batch', async () => {
    const { client, server } = setup();
    client.deliver([{ jsonrpc: '2.0', method: 'notifications/initialized' }]);
    client.deliver([]);
    await tick();
    expect(server.sent).toHaveLength(1);
    expect(client.json()).toEqual([
      { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request: empty batch' } },
    ]);
  });

  it('answers invalid JSON with -32700 and non-JSON-RPC with -32600, forwarding neither', async () => {
    const { client, server } = setup();
    client.deliver('{"jsonrpc":"2.0",');
    client.deliver('{"jsonrpc":"1.0","id":9,"method":"tools/call","params":{"name":"x"}}');
    await tick();
    expect(server.sent).toHaveLength(0);
    expect(client.json().map((r) => [r.id, r.error.code])).toEqual([
      [null, -32700],
      [9, -32600],
    ]);
  });

  it('filters hidden tools from every tools/list page, keeping nextCursor and _meta', async () => {
    const { client, server, gate } = setup();
    client.deliver({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    await tick();
    server.deliver({
      jsonrpc: '2.0',
      id: 1,
      result: {
        tools: [{ name: 'read', inputSchema: { type: 'object' } }, { name: 'secret_delete' }],
        nextCursor: 'p2',
        _meta: { m: 1 },
      },
    });
    const page2 = '{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"write"}]}}';
    client.deliver({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: { cursor: 'p2' } });
    await tick();
    server.deliver(page2);
    await tick();
    const [p1, p2] = client.json();
    expect(p1.result).toEqual({
      tools: [{ name: 'read', inputSchema: { type: 'object' } }],
      nextCursor: 'p2',
      _meta: { m: 1 },
    });
    expect(client.texts()[1]).toBe(page2);
    expect(p2.result.tools).toHaveLength(1);
    expect(gate.schemas).toEqual(['read', 'secret_delete', 'write']);
  });

  it("hides a tool by cutting it out of the page's text: the kept tools' schemas reach the client unchanged", async () => {
    const { client, server, gate } = setup();
    gate.hidePrefix = 'move_file';
    client.deliver({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    await tick();
    const kept =
      '{"name":"read_file","inputSchema":{"type":"object","properties":{"n":{"type":"integer","maximum":18446744073709551615,"exclusiveMaximum":1e400}}}}';
    server.deliver(
      `{"jsonrpc":"2.0","id":1,"result":{"tools":[${kept},{"name":"move_file"}],"_meta":{"x":1e400}}}`,
    );
    expect(client.texts()).toEqual([
      `{"jsonrpc":"2.0","id":1,"result":{"tools":[${kept}],"_meta":{"x":1e400}}}`,
    ]);
  });

  it('drops a server response that answers no pending request: a second answer, an id of another type', async () => {
    const { client, server, router } = setup();
    client.deliver({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    await tick();
    const leaky = { tools: [{ name: 'secret_delete' }, { name: 'read' }] };
    // "2" is not 2 (JSON-RPC ids match by value and type), though the MCP SDK client reads Number(id).
    server.deliver({ jsonrpc: '2.0', id: '2', result: leaky });
    server.deliver({ jsonrpc: '2.0', id: 2, result: leaky });
    // A second answer to the same request, after the first was filtered and delivered.
    server.deliver({ jsonrpc: '2.0', id: 2, result: leaky });
    server.deliver({ jsonrpc: '2.0', id: 99, result: {} });
    await tick();
    expect(client.json()).toEqual([{ jsonrpc: '2.0', id: 2, result: { tools: [{ name: 'read' }] } }]);
    expect(router.stats.unmatchedResponses).toBe(3);
  });

  it('drops a late answer after the session ended quietly (debug), one with a session still open loudly (warn)', async () => {
    const logs: string[] = [];
    const at = (level: string) => (_: object, msg?: string) => logs.push(`${level}: ${msg}`);
    const client = new Peer();
    const server = new Peer();
    const router = new Router({
      client,
      server,
      gate: new TestGate(),
      prefetchToolSchemas: false,
      logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
    });
    server.deliver({ jsonrpc: '2.0', id: 98, result: {} });
    client.deliver({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} });
    await tick();
    // The client went away before the answer: the proxy answered it and ended the session.
    router.endSession('the client disconnected');
    server.deliver({ jsonrpc: '2.0', id: 1, result: {} });
    await tick();
    expect(logs.filter((l) => l.includes('dropped'))).toEqual([
      'warn: a server response answering no pending request was dropped',
      'debug: a server response after the session ended was dropped',
    ]);
    expect(router.stats.unmatchedResponses).toBe(2);
  });

  it('logs each allowed call at debug when the logger writes debug, and not otherwise', async () => {
    const run = async (debugOn: boolean) => {
      const logs: Array<[object, string | undefined]> = [];
      const at = (_level: string) => (o: object, msg?: string) => logs.push([o, msg]);
      const client = new Peer();
      const server = new Peer();
      new Router({
        client,
        server,
        gate: new TestGate(),
        prefetchToolSchemas: false,
        logger: {
          debug: at('debug'),
          info: at('info'),
          warn: at('warn'),
          error: at('error'),
          isLevelEnabled: (level) => debugOn && level === 'debug',
        },
      });
      client.deliver({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'read', arguments: {} },
      });
      await tick();
      return logs.filter(([, msg]) => msg === 'tools/call allowed');
    };
    expect(await run(true)).toEqual([[{ tool: 'read', id: 7, rule: undefined }, 'tools/call allowed']]);
    expect(await run(false)).toEqual([]);
  });

  it('sends notifications/tools/list_changed when a reload changes what is hidden', async () => {
    const { client, server, gate } = setup();
    client.deliver({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    await tick();
    server.deliver({ jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'read' }, { name: 'write' }] } });
    const view = (hidden: string[]) => ({ isHidden: (t: string) => hidden.includes(t) });
    gate.listener!(view([]), view(['nothing-listed']));
    expect(client.sent).toHaveLength(1);
    gate.listener!(view([]), view(['write']));
    expect(client.json()[1]).toEqual({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
  });

  it('advertises tools.listChanged in the initialize result', async () => {
    const { client, server } = setup();
    client.deliver({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { clientInfo: { name: 'c' } } });
    await tick();
    server.deliver({
      jsonrpc: '2.0',
      id: 0,
      result: { capabilities: { tools: {} }, serverInfo: { name: 's' } },
    });
    expect(client.json()[0].result.capabilities.tools).toEqual({ listChanged: true });
  });

  it("adds listChanged to the initialize result's text, every other byte as the server wrote it", async () => {
    const { client, server } = setup();
    client.deliver({ jsonrpc: '2.0', id: 0, method: 'initialize', params: {} });
    await tick();
    const answer = String.raw`{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-11-25","capabilities":{"tools":{},"experimental":{"big":12345678901234567890,"huge":1e400,"esc":"\u2028"}},"serverInfo":{"name":"s"}}}`;
    server.deliver(answer);
    expect(client.texts()).toEqual([answer.replace('"tools":{}', '"tools":{"listChanged":true}')]);
  });

  it('edits only the tools capability JSON.parse reads: whitespace, escaped and repeated names', async () => {
    /** What the client gets for an initialize answer whose `result.capabilities` is `caps`. */
    const answered = async (caps: string) => {
      const { client, server } = setup();
      client.deliver({ jsonrpc: '2.0', id: 0, method: 'initialize', params: {} });
      await tick(5);
      server.deliver(`{"jsonrpc":"2.0","id":0,"result":{"capabilities":${caps},"n":1e400}}`);
      const text = client.texts()[0]!;
      const prefix = '{"jsonrpc":"2.0","id":0,"result":{"capabilities":';
      expect(text.startsWith(prefix) && text.endsWith(',"n":1e400}}')).toBe(true);
      return text.slice(prefix.length, -',"n":1e400}}'.length);
    };
    expect(await answered('{ "tools" : { } }')).toBe('{ "tools" : {"listChanged":true } }');
    expect(await answered('{"tools":{ "a" : 1e400\t}}')).toBe(
      '{"tools":{ "a" : 1e400,"listChanged":true\t}}',
    );
    expect(await answered('{"tools":{"listChanged": false,"x":1e400}}')).toBe(
      '{"tools":{"listChanged": true,"x":1e400}}',
    );
    expect(await answered(String.raw`{"too\u006cs":{"list\u0043hanged":null}}`)).toBe(
      String.raw`{"too\u006cs":{"list\u0043hanged":true}}`,
    );
    // A name written twice: JSON.parse reads the last, which is the one edited.
    expect(await answered('{"tools":{"listChanged":true,"listChanged":0}}')).toBe(
      '{"tools":{"listChanged":true,"listChanged":true}}',
    );
    expect(await answered('{"tools":{"a":1},"x":1e400,"tools":{"b":2}}')).toBe(
      '{"tools":{"a":1},"x":1e400,"tools":{"b":2,"listChanged":true}}',
    );
    expect(await answered('{"tools":{},"e":[1e400]}, "capabilities" : {"tools":{}}')).toBe(
      '{"tools":{},"e":[1e400]}, "capabilities" : {"tools":{"listChanged":true}}',
    );
    // Nothing to change: passed as it came.
    for (const caps of ['{"tools":{"listChanged":true}}', '{"tools":[]}', '{"resources":{}}'])
      expect(await answered(caps)).toBe(caps);
  });

  it('a session the proxy ends answers a request still waiting for its decision at once, and never sends it', async () => {
    const { client, server, gate, router } = setup();
    client.deliver(call(1, 'slow_one'));
    // Queued behind it: a ping, a batch, a notification.
    client.deliver({ jsonrpc: '2.0', id: 2, method: 'ping' });
    client.deliver([
      call(3, 'echo'),
      { jsonrpc: '2.0', method: 'notifications/x' },
      { jsonrpc: '2.0', id: 4, method: 'ping' },
    ]);
    client.deliver({ jsonrpc: '2.0', method: 'notifications/y' });
    await tick(5);
    router.endSession('client sent DELETE');
    const before = (isCall: boolean) =>
      `Tollgate closed the session (client sent DELETE) before the request was sent to the MCP server${isCall ? "; the call does not count against the policy's limits" : ''}`;
    const error = (id: number, isCall: boolean) => ({
      jsonrpc: '2.0',
      id,
      error: { code: -32000, message: before(isCall), data: { reason: 'client sent DELETE' } },
    });
    expect(client.json()).toEqual([error(1, true), error(2, false), [error(3, true), error(4, false)]]);
    await tick(80);
    // Decided later: nothing sent, nothing answered again, the reservations given back.
    expect(server.sent).toHaveLength(0);
    expect(client.sent).toHaveLength(3);
    expect(gate.rolledBack.sort()).toEqual(['echo', 'slow_one']);
  });

  it('answers queued requests when the session ends after the server side already has (an HTTP upstream)', async () => {
    const { client, server, router } = setup();
    client.deliver(call(1, 'slow_one'));
    client.deliver({ jsonrpc: '2.0', id: 2, method: 'ping' });
    await tick(5);
    router.serverClosed({ reason: 'upstream HTTP session closed' });
    router.endSession('client sent DELETE');
    expect(client.json().map((m) => [m.id, m.error.code])).toEqual([
      [1, -32000],
      [2, -32000],
    ]);
    await tick(80);
    expect(client.sent).toHaveLength(2);
    expect(server.sent).toHaveLength(0);
  });

  it('answers every pending request and rolls back calls when the server dies', async () => {
    const { client, gate, router } = setup();
    client.deliver(call(1, 'echo'));
    client.deliver({ jsonrpc: '2.0', id: 2, method: 'resources/list' });
    await tick();
    router.serverClosed({ exitCode: 3, signal: null });
    client.deliver(call(3, 'echo'));
    await tick();
    const replies = client.json();
    expect(replies.map((r) => [r.id, r.error.code])).toEqual([
      [1, -32000],
      [2, -32000],
      [3, -32000],
    ]);
    expect(replies[0].error.message).toBe('MCP server exited with code 3 before answering');
    expect(gate.rolledBack).toEqual(['echo', 'echo']);
    expect(router.pendingRequests).toBe(0);
  });

  it('prefetches tools/list with its own ids before the first call and hides the exchange', async () => {
    const { client, server, gate } = setup({ prefetch: true });
    client.deliver(call(1, 'echo'));
    await tick();
    const [own] = server.json();
    expect(own.method).toBe('tools/list');
    expect(String(own.id)).toMatch(/^tollgate-[0-9a-f]{12}-1$/);
    // A client request reusing that id is refused, never confused with ours.
    client.deliver({ jsonrpc: '2.0', id: own.id, method: 'ping' });
    server.deliver({ jsonrpc: '2.0', id: own.id, result: { tools: [{ name: 'echo', inputSchema: {} }] } });
    await tick();
    expect(gate.schemas).toEqual(['echo']);
    expect(server.json().map((m) => m.method)).toEqual(['tools/list', 'tools/call']);
    expect(client.json()).toEqual([
      {
        jsonrpc: '2.0',
        id: own.id,
        error: { code: -32600, message: 'Invalid Request: id is in use by the proxy' },
      },
    ]);
  });

  it('uses a late answer to its own tools/list, and asks again after a failed one', async () => {
    const client = new Peer();
    const server = new Peer();
    const gate = new TestGate();
    const router = new Router({ client, server, gate, prefetchToolSchemas: true, prefetchTimeoutMs: 100 });
    client.deliver(call(1, 'echo'));
    await tick(20);
    expect(server.json().map((m) => m.method)).toEqual(['tools/list']);
    // The call waits at most the prefetch timeout, then goes on without the schemas.
    await tick(150);
    expect(server.json().map((m) => m.method)).toEqual(['tools/list', 'tools/call']);
    // The listing is still out: the next call does not wait for it again (and a call made during
    // the wait was released with the first: one deadline per listing, see below).
    client.deliver(call(2, 'echo'));
    await tick(20);
    expect(server.json().map((m) => m.method)).toEqual(['tools/list', 'tools/call', 'tools/call']);
    // The listing's late answer is still used (not dropped as answering nothing).
    const first = server.json()[0];
    server.deliver({ jsonrpc: '2.0', id: first.id, result: { tools: [{ name: 'echo', inputSchema: {} }] } });
    await tick();
    expect(gate.schemas).toEqual(['echo']);
    expect(router.stats.unmatchedResponses).toBe(0);

    // A listing answered with an error: calls right after it do not wait or ask again; one after
    // the retry delay asks again.
    const c2 = new Peer();
    const s2 = new Peer();
    new Router({
      client: c2,
      server: s2,
      gate: new TestGate(),
      prefetchToolSchemas: true,
      prefetchRetryMs: 200,
    });
    c2.deliver(call(1, 'echo'));
    await tick(20);
    const list1 = s2.json()[0];
    s2.deliver({ jsonrpc: '2.0', id: list1.id, error: { code: -32603, message: 'busy' } });
    await tick(20);
    c2.deliver(call(2, 'echo'));
    await tick(20);
    expect(s2.json().map((m) => m.method)).toEqual(['tools/list', 'tools/call', 'tools/call']);
    await tick(250);
    c2.deliver(call(3, 'echo'));
    await tick(20);
    expect(s2.json().map((m) => m.method)).toEqual(['tools/list', 'tools/call', 'tools/call', 'tools/list']);
  });

  it('releases every call waiting for one listing at its one deadline', async () => {
    const client = new Peer();
    const server = new Peer();
    new Router({ client, server, gate: new TestGate(), prefetchToolSchemas: true, prefetchTimeoutMs: 200 });
    client.deliver(call(1, 'echo'));
    await tick(150);
    client.deliver(call(2, 'echo'));
    await tick(5);
    expect(server.json().map((m) => m.method)).toEqual(['tools/list']);
    // At 200 ms both go, the second without a 200 ms wait of its own.
    await tick(80);
    expect(server.json().map((m) => [m.method, m.id])).toEqual([
      ['tools/list', server.json()[0].id],
      ['tools/call', 1],
      ['tools/call', 2],
    ]);
  });

  it('does not hold a call for the prefetch when the policy needs no inputSchema for its tool', async () => {
    const { client, server, gate } = setup({ prefetch: true });
    (gate as TestGate & { needsToolSchema(t: string): boolean }).needsToolSchema = (t) =>
      t.startsWith('checked');
    client.deliver(call(1, 'echo'));
    await tick();
    // Forwarded at once, without waiting for a listing.
    expect(server.json().map((m) => [m.method, m.params?.name])).toEqual([['tools/call', 'echo']]);
    // A tool whose arguments are checked against its schema still waits for the listing.
    client.deliver(call(2, 'checked_x'));
    await tick();
    expect(server.json().map((m) => m.method)).toEqual(['tools/call', 'tools/list']);
    const own = server.json()[1];
    server.deliver({
      jsonrpc: '2.0',
      id: own.id,
      result: { tools: [{ name: 'checked_x', inputSchema: {} }] },
    });
    await tick();
    expect(server.json().map((m) => m.params?.name)).toEqual(['echo', undefined, 'checked_x']);
    expect(gate.schemas).toEqual(['checked_x']);
  });

  it('refuses a tool name that reads as a known tool once case and invisible characters are set aside', async () => {
    const { client, server, gate, router } = setup();
    (gate as TestGate & { policyToolNames(): PolicyToolNames }).policyToolNames = () => ({
      exact: ['move_file'],
      globs: ['secret_*', '{drop,wipe}_db', 'x[0-Z]', 'y[A-_]', 'key_[0-9]*'],
    });
    // Not listed yet: the policy's names are known.
    client.deliver(call(1, 'Move_File'));
    await tick();
    expect(server.sent).toHaveLength(0);
    expect(client.json()[0].error).toEqual({
      code: -32602,
      message:
        'Invalid params: tool name "Move_File" differs from the tool "move_file" only by case or invisible characters (a server that ignores them would run that tool)',
    });
    // Globs of the policy too: a name one matches only once folded (no listing needed).
    client.deliver(call(2, 'Secret_key'));
    client.deliver(call(3, 'WIPE_db'));
    client.deliver(call(4, 'secret_key'));
    // A class that folding leaves as it is keeps the glob in the check.
    client.deliver(call(6, 'KEY_1'));
    // Globs with a class are left out: `x_` is its own name (folding `[0-Z]` would cover `_`).
    client.deliver(call(5, 'x_'));
    await tick();
    expect(
      client
        .json()
        .slice(1)
        .map((m) => [m.id, m.error?.message ?? m.result?.isError]),
    ).toEqual([
      [
        2,
        // secret_key is hidden (TestGate hides secret*): not named, nor is its glob.
        'Invalid params: tool name "Secret_key" differs from a tool name only by case or invisible characters (a server that ignores them would run that tool)',
      ],
      [
        3,
        'Invalid params: tool name "WIPE_db" differs from a tool the policy\'s glob "{drop,wipe}_db" names only by case or invisible characters (a server that ignores them would run that tool)',
      ],
      [4, true],
      [
        6,
        'Invalid params: tool name "KEY_1" differs from a tool the policy\'s glob "key_[0-9]*" names only by case or invisible characters (a server that ignores them would run that tool)',
      ],
    ]);
    expect(server.json().map((m) => m.params?.name)).toEqual(['x_']);
    client.sent.length = 1;
    // Listed: the server's names too.
    client.deliver({ jsonrpc: '2.0', id: 'l', method: 'tools/list' });
    await tick();
    server.deliver({
      jsonrpc: '2.0',
      id: 'l',
      result: { tools: [{ name: 'echo' }, { name: 'Echo' }, { name: 'deny_x' }] },
    });
    await tick();
    // Lone surrogates too: Go's encoding/json reads "\ud800" as U+FFFD, others drop it.
    const names = [
      'deny_x\u0000',
      'DENY_X',
      'deny_x ',
      'deny\uFFFD_x',
      '\u200Bdeny_x',
      'DENY_x\u00A0',
      'deny_x\uD800',
      '\uDFFFdeny_x',
    ];
    for (const [i, n] of names.entries()) client.deliver(call(10 + i, n));
    // Names the server lists itself, however close, and unknown names pass on to the policy.
    client.deliver(call(20, 'Echo'));
    client.deliver(call(21, 'echo'));
    client.deliver(call(22, 'brand_new'));
    await tick();
    const answers = client.json().slice(2);
    expect(answers.map((a) => [a.id, a.error?.code])).toEqual(names.map((_, i) => [10 + i, -32602]));
    expect(
      server
        .json()
        .slice(2)
        .map((m) => m.params?.name),
    ).toEqual(['Echo', 'echo', 'brand_new']);
    expect(router.stats.callsMalformed).toBe(4 + names.length);
  });

  it('refuses member names that differ from a JSON-RPC or tools/call member only by invisible characters', async () => {
    const { client, server } = setup();
    // A decoder that stops at NUL reads two `method`s (cJSON keeps the first: tools/call, unjudged).
    client.deliver(
      '{"jsonrpc":"2.0","id":1,"method\\u0000":"tools/call","method":"ping","params":{"name":"x"}}',
    );
    client.deliver(
      '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","name\\u0000":"deny_x"}}',
    );
    client.deliver(
      '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments ":{"a":1}}}',
    );
    await tick();
    expect(server.sent).toHaveLength(0);
    // Refused with the request's own id: it is unambiguous, and the client's request ends.
    expect(client.json().map((m) => [m.id, m.error.code, m.error.message])).toEqual([
      [
        1,
        -32600,
        'Invalid Request: member name "method\\u0000" differs from "method" only by invisible characters (decoders that stop at NUL or trim would read it as that member)',
      ],
      [
        2,
        -32602,
        'Invalid params: params member "name\\u0000" differs from "name" only by invisible characters',
      ],
      [
        3,
        -32602,
        'Invalid params: params member "arguments " differs from "arguments" only by invisible characters',
      ],
    ]);
  });

  it('refuses a request whose id is already awaiting an answer, so one answer never stands for two', async () => {
    const { client, server, gate } = setup();
    client.deliver({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    client.deliver({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    client.deliver(call(2, 'echo'));
    client.deliver(call(2, 'echo_again'));
    await tick();
    expect(server.json().map((m) => [m.id, m.method, m.params?.name])).toEqual([
      [1, 'tools/list', undefined],
      [2, 'tools/call', 'echo'],
    ]);
    const refused = client.json();
    expect(refused.map((r) => [r.id, r.error.code])).toEqual([
      [1, -32600],
      [2, -32600],
    ]);
    expect(refused[0].error.message).toBe(
      'Invalid Request: id is already used by a request awaiting its answer',
    );
    // The refused call was never decided (it waited for its turn behind the call holding its id,
    // then was refused): nothing reserved for it. The forwarded one still settles on its answer.
    expect(gate.decided.map((c) => c.tool)).toEqual(['echo']);
    expect(gate.rolledBack).toEqual([]);
    server.deliver({ jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'secret_x' }, { name: 'ok' }] } });
    server.deliver({ jsonrpc: '2.0', id: 2, result: { content: [] } });
    await tick();
    expect(client.json()[2].result.tools.map((t: { name: string }) => t.name)).toEqual(['ok']);
    expect(gate.committed).toEqual(['echo']);
    // Once answered, the id is free again.
    client.deliver({ jsonrpc: '2.0', id: 1, method: 'ping' });
    await tick();
    expect(server.json().at(-1)).toEqual({ jsonrpc: '2.0', id: 1, method: 'ping' });
  });

  it('refuses a reused call id before deciding it: no reservation to roll back holds a rate limit slot', async () => {
    // A gate deciding without I/O, with a limit of 2 calls, whose rollback takes time (as a
    // SQLite or Redis store's does): a refused duplicate that had reserved would deny the next call.
    const client = new Peer();
    const server = new Peer();
    let used = 0;
    const gate: Gate = {
      decide: async () => ({ allowed: true, reason: 'allowed', message: 'ok' }),
      decideNow: () =>
        used < 2
          ? (used++, { allowed: true, reason: 'allowed', message: 'ok' })
          : { allowed: false, reason: 'rate_limited', rule: 'two', message: 'Rate limit "two" reached' },
      commit: async () => {},
      rollback: async () => {
        await tick(200);
        used--;
      },
      isHidden: () => false,
      setToolSchemas: () => {},
    };
    new Router({ client, server, gate, prefetchToolSchemas: false });
    client.deliver(call(1, 'a'));
    client.deliver(call(1, 'a'));
    client.deliver(call(2, 'a'));
    client.deliver({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 2 } });
    client.deliver(call(2, 'a'));
    expect(server.json().map((m) => [m.id, m.method])).toEqual([
      [1, 'tools/call'],
      [2, 'tools/call'],
      [undefined, 'notifications/cancelled'],
    ]);
    expect(client.json().map((r) => [r.id, r.error.code, r.error.message])).toEqual([
      [1, -32600, 'Invalid Request: id is already used by a request awaiting its answer'],
      [
        2,
        -32600,
        'Invalid Request: id is still held by a cancelled request the server has not answered (MCP forbids reusing request ids)',
      ],
    ]);
    expect(used).toBe(2);
  });

  it('decides a call queued under a held id at its turn: forwarded if the id came free, refused undecided if not', async () => {
    const { client, server, gate, router } = setup();
    client.deliver({ jsonrpc: '2.0', id: 5, method: 'tools/list' });
    client.deliver({ jsonrpc: '2.0', id: 6, method: 'ping' });
    // Queued behind a slow decision, under ids still awaiting their answers.
    client.deliver(call(9, 'slow_one'));
    client.deliver(call(5, 'echo_five'));
    client.deliver(call(6, 'echo_six'));
    client.deliver(call(9, 'echo_nine'));
    // The ping is answered while the slow call is decided: id 6 is free by its turn, 5 and 9 not.
    server.deliver({ jsonrpc: '2.0', id: 6, result: {} });
    await tick(80);
    expect(gate.decided.map((c) => c.tool)).toEqual(['slow_one', 'echo_six']);
    expect(server.json().map((m) => [m.id, m.method, m.params?.name])).toEqual([
      [5, 'tools/list', undefined],
      [6, 'ping', undefined],
      [9, 'tools/call', 'slow_one'],
      [6, 'tools/call', 'echo_six'],
    ]);
    expect(client.json().map((m) => [m.id, m.error?.code ?? 'result'])).toEqual([
      [6, 'result'],
      [5, -32600],
      [9, -32600],
    ]);
    expect(gate.rolledBack).toEqual([]);
    // A held call still queued when the session ends is answered once, and the queue moves on.
    client.deliver(call(10, 'slow_two'));
    client.deliver(call(5, 'echo_again'));
    await tick(5);
    router.endSession('client sent DELETE');
    await tick(80);
    // The forwarded requests still awaiting answers (5, 9, 6), then the two queued ones.
    expect(
      client
        .json()
        .slice(3)
        .map((m) => [m.id, m.error.code]),
    ).toEqual([
      [5, -32000],
      [9, -32000],
      [6, -32000],
      [10, -32000],
      [5, -32000],
    ]);
    expect(router.queuedMessages).toBe(0);
    expect(gate.decided.map((c) => c.tool)).toEqual(['slow_one', 'echo_six', 'slow_two']);
  });

  it('refuses the second of two requests sharing an id inside a batch, and one pending outside it', async () => {
    const { client, server, gate } = setup();
    client.deliver({ jsonrpc: '2.0', id: 'x', method: 'ping' });
    await tick();
    client.deliver([call(1, 'echo'), call(1, 'echo_twin'), { jsonrpc: '2.0', id: 'x', method: 'ping' }]);
    await tick();
    expect(server.json().map((m) => m.id)).toEqual(['x', 1]);
    // The twin is refused before the policy sees it: nothing was reserved, nothing rolls back.
    expect(gate.decided.map((c) => c.tool)).toEqual(['echo']);
    expect(gate.rolledBack).toEqual([]);
    server.deliver({ jsonrpc: '2.0', id: 1, result: { content: [] } });
    await tick();
    const [batch] = client.json();
    expect(batch.map((r: { id: unknown }) => r.id)).toEqual([1, 1, 'x']);
    expect(batch[0].result).toEqual({ content: [] });
    expect(batch[1].error.code).toBe(-32600);
    expect(batch[2].error.code).toBe(-32600);
  });

  it('routes each element of a server batch on its own, as the bytes the server wrote', async () => {
    const { client, server, gate } = setup();
    client.deliver(call(1, 'echo'));
    await tick();
    const answer = '{"jsonrpc":"2.0","id":1,"result":{"content":[],"n":12345678901234567890}}';
    const note = '{ "jsonrpc" : "2.0", "method":"notifications/x","params":{"e":"\\u2028","x":1e400}}';
    server.deliver(`[${answer} , ${note}]`);
    await tick();
    expect(client.texts()).toEqual([answer, note]);
    expect(gate.committed).toEqual(['echo']);
  });

  it('drops an array nested in a server batch without recursing into it (3,000 levels overflowed the stack)', async () => {
    const { client, server, gate, router } = setup();
    client.deliver(call(1, 'echo'));
    await tick();
    const answer = '{"jsonrpc":"2.0","id":1,"result":{"content":[]}}';
    const deep = `${'['.repeat(100_000)}${answer}${']'.repeat(100_000)}`;
    server.deliver(deep);
    await tick();
    expect(client.sent).toHaveLength(0);
    expect(router.stats.noiseLines).toBe(1);
    // A nested array beside a real answer: the answer goes on, the array does not.
    server.deliver(`[[${answer}], ${answer}]`);
    await tick();
    expect(client.texts()).toEqual([answer]);
    expect(gate.committed).toEqual(['echo']);
    expect(router.stats.noiseLines).toBe(2);
  });

  it('logs non-JSON-RPC server output instead of forwarding it', async () => {
    const { client, server, router } = setup();
    server.deliver('Server running on stdio');
    server.deliver('{"jsonrpc":"2.0","method":"notifications/message","params":{}}');
    expect(client.sent).toHaveLength(1);
    expect(router.stats.noiseLines).toBe(1);
  });
});

/**
 * A client side that can take a message in parts, recording everything in write order. Like
 * StreamTransport, it queues whole messages sent while a stream is open.
 */
class StreamingClient extends Peer {
  events: string[] = [];
  private open = false;
  private queued: Buffer[] = [];
  override send(bytes: Buffer) {
    if (this.open) {
      this.queued.push(bytes);
      return;
    }
    super.send(bytes);
    this.events.push(`msg ${bytes.toString('utf8')}`);
  }
  /** The parts streamed so far, joined: the text the client got by cut-through. */
  streamed(): string {
    return this.events
      .filter((e) => e.startsWith('part '))
      .map((e) => e.slice(5))
      .join('');
  }
  openStream() {
    if (this.open) return undefined;
    this.open = true;
    return {
      write: (part: Buffer) => {
        this.events.push(`part ${part.toString('utf8')}`);
      },
      end: () => {
        this.open = false;
        this.events.push('end');
        for (const b of this.queued.splice(0)) this.send(b);
      },
    };
  }
}

/** Plays a server transport that offers `bytes` for cut-through in three parts. */
function streamFromServer(server: Peer, bytes: Buffer) {
  const head = bytes.subarray(0, 4096);
  const stream = server.onlongmessage?.(head);
  if (!stream) return { streamed: false, rest: () => server.deliver(bytes) };
  const third = Math.ceil(bytes.length / 3);
  stream.write(bytes.subarray(0, third));
  stream.write(bytes.subarray(third, 2 * third));
  return {
    streamed: true,
    rest: () => {
      stream.write(bytes.subarray(2 * third));
      stream.end();
    },
  };
}

/** What the client is told for request `id` when the server's answer had stray bytes after it. */
const strayBytesAnswer = (id: number) => ({
  jsonrpc: '2.0',
  id,
  error: {
    code: -32603,
    message:
      "The MCP server's answer could not be passed on: not a JSON-RPC message (malformed JSON: unexpected bytes after the message)",
  },
});

describe('a short server answer followed by stray bytes', () => {
  it('is not forwarded, and its call is answered with an error at once (not at the end of the session)', async () => {
    const { client, server, gate, router } = setup();
    client.deliver(call(1, 'echo'));
    await tick();
    server.deliver(Buffer.from('{"jsonrpc":"2.0","id":1,"result":{"content":[]}} 0'));
    await tick();
    expect(client.json()).toEqual([strayBytesAnswer(1)]);
    expect(router.pendingRequests).toBe(0);
    expect(gate.committed).toEqual(['echo']);
    // Stray text with no id stays noise.
    server.deliver(Buffer.from('{"jsonrpc":"2.0","method":"x"} 0'));
    await tick();
    expect(client.sent).toHaveLength(1);
    // Other invalid server messages with an id name no request of the client's (server requests
    // have their own ids): a sloppy request never settles the client's call 2.
    client.deliver(call(2, 'echo'));
    await tick();
    server.deliver(Buffer.from('{"id":2,"method":"roots/list"}'));
    server.deliver(Buffer.from('{"jsonrpc":"2.0","id":2,"method":"roots/list","method":"ping"}'));
    server.deliver(Buffer.from('{"jsonrpc":"2.0","id":2,"method":"x"} 0'));
    await tick();
    expect(client.sent).toHaveLength(1);
    server.deliver({ jsonrpc: '2.0', id: 2, result: { content: [] } });
    await tick();
    expect(client.json()[1]).toEqual({ jsonrpc: '2.0', id: 2, result: { content: [] } });
  });
});

describe('messages over the size cap in the other id space', () => {
  const report = (text: string) => {
    const bytes = Buffer.from(text);
    return { bytes: 27_259, limit: 20_000, head: bytes.subarray(0, 4096), tail: bytes.subarray(-4096) };
  };
  it("a server request over the cap is refused to the server, never taken for the answer to the client's request with its id", async () => {
    const { client, server, gate, router } = setup();
    client.deliver(call(0, 'echo'));
    await tick();
    const sent = server.sent.length;
    // The SDK writes a request method first and its id (here 0, the server's own) last.
    server.onoversize!(
      report(
        `{"method":"sampling/createMessage","params":{"messages":["${'x'.repeat(9000)}"]},"jsonrpc":"2.0","id":0}`,
      ),
    );
    await tick();
    expect(client.sent).toEqual([]);
    expect(router.pendingRequests).toBe(1);
    expect(gate.committed).toEqual([]);
    expect(server.json().slice(sent)).toEqual([
      {
        jsonrpc: '2.0',
        id: 0,
        error: {
          code: -32600,
          message:
            "Invalid Request: message of 27259 bytes exceeds Tollgate's limit of 20000 bytes (--max-message-bytes); it was not passed to the client",
        },
      },
    ]);
    // A notification over the cap has no one to tell.
    server.onoversize!(
      report(`{"method":"notifications/message","params":{"data":"${'x'.repeat(9000)}"},"jsonrpc":"2.0"}`),
    );
    expect(server.sent.length).toBe(sent + 1);
    // The client's call is still answered by the server's real answer.
    server.deliver({ jsonrpc: '2.0', id: 0, result: { content: [] } });
    await tick();
    expect(client.json()).toEqual([{ jsonrpc: '2.0', id: 0, result: { content: [] } }]);
    expect(gate.committed).toEqual(['echo']);
  });

  it('finds the id of a server request between its method and params (the order some SDKs write)', async () => {
    const { client, server } = setup();
    client.deliver(call(0, 'echo'));
    await tick();
    const sent = server.sent.length;
    server.onoversize!(
      report(
        `{"jsonrpc":"2.0","method":"sampling/createMessage","id":"j1","params":{"pad":"${'x'.repeat(9000)}"}}`,
      ),
    );
    await tick();
    expect(client.sent).toEqual([]);
    expect(
      server
        .json()
        .slice(sent)
        .map((m) => [m.id, m.error?.code]),
    ).toEqual([['j1', -32600]]);
  });

  it('an oversized notification does not make the pending calls count on an error', async () => {
    const { client, server, gate } = setup();
    client.deliver(call(0, 'echo'));
    await tick();
    server.onoversize!(
      report(`{"method":"notifications/message","params":{"data":"${'x'.repeat(9000)}"},"jsonrpc":"2.0"}`),
    );
    server.deliver({ jsonrpc: '2.0', id: 0, error: { code: -32603, message: 'x' } });
    await tick();
    expect(gate.rolledBack).toEqual(['echo']);
    expect(gate.committed).toEqual([]);
  });

  it("a client response over the cap goes to the server as an error, not back to the client under the server's id", async () => {
    const { client, server, router } = setup();
    client.deliver(call(0, 'echo'));
    await tick();
    const sent = server.sent.length;
    client.onoversize!(
      report(`{"result":{"content":{"type":"text","text":"${'x'.repeat(9000)}"}},"jsonrpc":"2.0","id":0}`),
    );
    await tick();
    expect(client.sent).toEqual([]);
    expect(router.pendingRequests).toBe(1);
    expect(server.json().slice(sent)).toEqual([
      {
        jsonrpc: '2.0',
        id: 0,
        error: {
          code: -32603,
          message:
            "The client's response of 27259 bytes exceeds Tollgate's limit of 20000 bytes (--max-message-bytes); it was not passed to the server",
        },
      },
    ]);
    // A client request over the cap is still refused to the client.
    client.onoversize!(
      report(
        `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"t":"${'x'.repeat(9000)}"}}}`,
      ),
    );
    await tick();
    expect(client.json().map((m) => [m.id, m.error?.code])).toEqual([[7, -32600]]);
  });
});

describe('client messages passed through as they are', () => {
  it('are refused with -32700 when they are not JSON, though their structure scans (tru, 1e, a raw control byte)', async () => {
    const { client, server } = setup();
    const bad = [
      '{"jsonrpc":"2.0","id":5,"method":"ping","params":{"a":tru}}',
      // A raw control byte inside a string.
      '{"jsonrpc":"2.0","id":6,"method":"ping","params":{"a":"\u0001"}}',
      '{"jsonrpc":"2.0","method":"notifications/progress","params":{"a":1e}}',
    ];
    for (const b of bad) client.deliver(b);
    await tick();
    expect(server.sent).toEqual([]);
    expect(client.json()).toEqual(
      bad.map(() => ({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } })),
    );
    // Valid JSON goes on byte for byte, spelling and all.
    const good = '{ "jsonrpc":"2.0", "id":7, "method":"ping", "params":{"n":1.50E+3,"s":"\\u00e9"} }';
    client.deliver(good);
    await tick();
    expect(server.texts()).toEqual([good]);
  });
});

describe('a variant of a hidden tool name', () => {
  it('is refused without naming the hidden tool (an agent would learn what is hidden from it)', async () => {
    const { client, server } = setup();
    client.deliver({ jsonrpc: '2.0', id: 'l', method: 'tools/list' });
    await tick();
    server.deliver({
      jsonrpc: '2.0',
      id: 'l',
      result: { tools: [{ name: 'secret_key' }, { name: 'echo' }] },
    });
    await tick();
    client.deliver(call(1, 'SECRET_KEY'));
    client.deliver(call(2, 'ECHO'));
    await tick();
    expect(
      client
        .json()
        .slice(1)
        .map((m) => m.error?.message),
    ).toEqual([
      'Invalid params: tool name "SECRET_KEY" differs from a tool name only by case or invisible characters (a server that ignores them would run that tool)',
      'Invalid params: tool name "ECHO" differs from the tool "echo" only by case or invisible characters (a server that ignores them would run that tool)',
    ]);
  });
});

describe('a call during which the server asked the client something', () => {
  it('counts even when a JSON-RPC error ends it; one without such a request is rolled back', async () => {
    const { client, server, gate } = setup();
    client.deliver(call(1, 'echo'));
    client.deliver(call(2, 'echo_twin'));
    await tick();
    server.deliver({ jsonrpc: '2.0', id: 'r1', method: 'sampling/createMessage', params: {} });
    await tick();
    // Both calls were pending when the request came: which one asked is not on the wire.
    server.deliver({ jsonrpc: '2.0', id: 1, error: { code: -32042, message: 'URL elicitation required' } });
    server.deliver({ jsonrpc: '2.0', id: 2, error: { code: -32603, message: 'x' } });
    client.deliver(call(3, 'echo'));
    await tick();
    server.deliver({ jsonrpc: '2.0', id: 3, error: { code: -32602, message: 'bad params' } });
    await tick();
    expect(gate.committed).toEqual(['echo', 'echo_twin']);
    expect(gate.rolledBack).toEqual(['echo']);
  });
});

describe('a client request without a method', () => {
  it('is refused to the client with its id, not taken for an answer to the server', async () => {
    const { client, server } = setup();
    client.deliver('{"jsonrpc":"2.0","id":30,"params":{}}');
    client.deliver('{"id":31,"params":{}}');
    await tick();
    expect(server.sent).toEqual([]);
    expect(client.json().map((m) => [m.id, m.error?.code])).toEqual([
      [30, -32600],
      [31, -32600],
    ]);
  });
});

describe('a malformed client answer to a server request', () => {
  it("goes to the server as an error, never back to the client under the server's id", async () => {
    const { client, server } = setup();
    client.deliver(call(5, 'echo'));
    await tick();
    server.deliver({ jsonrpc: '2.0', id: 5, method: 'sampling/createMessage', params: {} });
    await tick();
    const before = server.sent.length;
    client.deliver('{"jsonrpc":"2.0","id":5,"result":{},"error":{"code":1,"message":"x"}}');
    client.deliver('{"jsonrpc":"2.0","id":5,"result":{"a":tru}}');
    await tick();
    // The client got the server's request, and nothing else.
    expect(client.json().map((m) => m.method ?? m.id)).toEqual(['sampling/createMessage']);
    expect(
      server
        .json()
        .slice(before)
        .map((m) => [m.id, m.error?.code, m.error?.message]),
    ).toEqual([
      [
        5,
        -32603,
        "The client's answer could not be passed on: not a JSON-RPC response (a response with both result and error)",
      ],
      [
        5,
        -32603,
        expect.stringMatching(
          /^The client's answer could not be passed on: not a JSON-RPC response \(malformed JSON: /,
        ),
      ],
    ]);
    // The client's own call 5 is still pending, answered by the server's real answer.
    server.deliver({ jsonrpc: '2.0', id: 5, result: { content: [] } });
    await tick();
    expect(client.json().at(-1)).toEqual({ jsonrpc: '2.0', id: 5, result: { content: [] } });
  });
});

describe('a malformed server answer naming a pending request', () => {
  it('answers that request with an error at once, whatever made it no response', async () => {
    const { client, server, gate, router } = setup();
    const shapes = [
      '{"jsonrpc":"2.0","id":1,"result":{"content":[]},"error":{"code":1,"message":"x"}}',
      '{"jsonrpc":"2.0","id":2}',
      '{"jsonrpc":"1.0","id":3,"result":{"content":[]}}',
      '{"id":4,"result":{"content":[]}}',
    ];
    for (let id = 1; id <= shapes.length; id++) client.deliver(call(id, 'echo'));
    await tick();
    for (const s of shapes) server.deliver(Buffer.from(s));
    await tick();
    expect(client.json().map((m) => [m.id, m.error?.code, m.error?.message])).toEqual([
      [
        1,
        -32603,
        "The MCP server's answer could not be passed on: not a JSON-RPC message (a response with both result and error)",
      ],
      [
        2,
        -32603,
        "The MCP server's answer could not be passed on: not a JSON-RPC message (neither a request, a notification nor a response)",
      ],
      [
        3,
        -32603,
        'The MCP server\'s answer could not be passed on: not a JSON-RPC message (jsonrpc must be "2.0")',
      ],
      [
        4,
        -32603,
        'The MCP server\'s answer could not be passed on: not a JSON-RPC message (jsonrpc must be "2.0")',
      ],
    ]);
    expect(router.pendingRequests).toBe(0);
    // The server answered, so each call ran and counts.
    expect(gate.committed).toEqual(['echo', 'echo', 'echo', 'echo']);
  });
});

describe('Router cut-through of long server messages', () => {
  function setupStreaming() {
    const client = new StreamingClient();
    const server = new Peer();
    const gate = new TestGate();
    const router = new Router({ client, server, gate, prefetchToolSchemas: false });
    return { client, server, gate, router };
  }
  const bigResult = (id: unknown) =>
    Buffer.from(
      JSON.stringify({
        result: { content: [{ type: 'text', text: 'x'.repeat(30_000) }] },
        jsonrpc: '2.0',
        id,
      }),
    );

  it('forwards a long tools/call result while it streams, queues other replies, and commits at its end', async () => {
    const { client, server, gate, router } = setupStreaming();
    client.deliver(call(1, 'echo'));
    await tick();
    const bytes = bigResult(1);
    const s = streamFromServer(server, bytes);
    expect(s.streamed).toBe(true);
    // A denial decided while the result streams must not land inside it.
    client.deliver(call(2, 'deny_me'));
    await tick();
    expect(client.sent).toHaveLength(0);
    expect(gate.committed).toEqual([]);
    s.rest();
    await tick();
    expect(client.streamed()).toBe(bytes.toString('utf8'));
    expect(client.events.slice(-2)[0]).toBe('end');
    expect(JSON.parse(client.events.at(-1)!.slice(4)).id).toBe(2);
    expect(gate.committed).toEqual(['echo']);
    expect(router.pendingRequests).toBe(0);
    expect(router.stats.forwardedToClient).toBe(2);
  });

  it('cuts off a streamed message whose id, known only at its end, names a tools/list sent meanwhile: hidden tools never reach the client', async () => {
    const { client, server, router } = setupStreaming();
    client.deliver(call(1, 'echo'));
    await tick();
    // The server starts a long tools/list answer with hidden tools, leaving its id for the end.
    const head =
      '{"jsonrpc":"2.0","result":{"tools":[{"name":"secret_drop"},{"name":"echo"}],"_meta":{"pad":"';
    const s = streamFromServer(server, Buffer.from(`${head}${'x'.repeat(30_000)}"}},"id":7}`));
    expect(s.streamed).toBe(true);
    client.deliver({ jsonrpc: '2.0', id: 7, method: 'tools/list' });
    await tick();
    s.rest();
    await tick();
    const line = client.streamed();
    // Everything but the closing brace went out: an unfinished line no client reads as a message.
    expect(line.endsWith('"id":7')).toBe(true);
    expect(() => JSON.parse(line)).toThrow();
    // The tools/list gets an error instead; the call is still pending.
    const after = client.events.filter((e) => e.startsWith('msg ')).map((e) => JSON.parse(e.slice(4)));
    expect(after).toEqual([
      {
        jsonrpc: '2.0',
        id: 7,
        error: {
          code: -32603,
          message:
            "The MCP server's answer could not be passed on: it answers a request whose answer Tollgate must read whole",
        },
      },
    ]);
    expect(router.pendingRequests).toBe(1);
  });

  it('cuts off a streamed answer to no pending request (a second answer, "1" for 1) and a streamed line that is no JSON-RPC', async () => {
    const { client, server, gate, router } = setupStreaming();
    client.deliver(call(1, 'echo'));
    await tick();
    const first = streamFromServer(server, bigResult('1'));
    first.rest();
    await tick();
    const second = streamFromServer(server, Buffer.from(`{"jsonrpc":"1.0","pad":"${'y'.repeat(30_000)}"}  `));
    second.rest();
    await tick();
    const lines = client.events.join('\n').split('\nend');
    expect(lines).toHaveLength(3);
    for (const l of lines.slice(0, 2)) expect(() => JSON.parse(l.replace(/(^|\n)part /g, ''))).toThrow();
    expect(router.stats.unmatchedResponses).toBe(1);
    expect(gate.committed).toEqual([]);
    expect(router.pendingRequests).toBe(1);
  });

  it('never completes a streamed answer followed by stray bytes, and answers its call at once', async () => {
    // `{...} 0`: holding back only the last visible byte would have sent `{...} `, a whole message,
    // and the call would have been answered a second time at the end of the session.
    for (const stray of [' 0', '}', ' {"x":1}']) {
      const { client, server, gate, router } = setupStreaming();
      client.deliver(call(1, 'echo'));
      await tick();
      const s = streamFromServer(server, Buffer.concat([bigResult(1), Buffer.from(stray)]));
      expect(s.streamed).toBe(true);
      s.rest();
      await tick();
      const line = client.streamed();
      expect(() => JSON.parse(line), stray).toThrow();
      expect(line.endsWith('"id":1'), stray).toBe(true);
      expect(
        client.events.filter((e) => e.startsWith('msg ')).map((e) => JSON.parse(e.slice(4))),
        stray,
      ).toEqual([strayBytesAnswer(1)]);
      expect(router.pendingRequests).toBe(0);
      expect(gate.committed).toEqual(['echo']);
    }
  });

  it('rolls back a call whose streamed answer is a JSON-RPC error', async () => {
    const { client, server, gate } = setupStreaming();
    client.deliver(call(1, 'echo'));
    await tick();
    const bytes = Buffer.from(
      JSON.stringify({ jsonrpc: '2.0', id: 1, error: { code: -32000, message: 'e'.repeat(10_000) } }),
    );
    const s = streamFromServer(server, bytes);
    s.rest();
    await tick();
    expect(s.streamed).toBe(true);
    expect(gate.rolledBack).toEqual(['echo']);
    expect(gate.committed).toEqual([]);
  });

  it('denies a task-augmented call with a JSON-RPC error carrying the denial (its client awaits a CreateTaskResult)', async () => {
    const { client, server } = setup();
    client.deliver({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'deny_me', task: { ttl: 1000 } },
    });
    client.deliver(call(2, 'deny_me'));
    await tick();
    expect(server.sent).toEqual([]);
    const [task, plain] = client.json();
    expect(task).toEqual({
      jsonrpc: '2.0',
      id: 1,
      error: {
        code: -32002,
        message: '[TOLLGATE POLICY DENIED] Tool deny_me is not allowed',
        data: { [DENIAL_META_KEY]: { reason: 'denied_by_rule', rule: 'no deny tools', retryAfterMs: 1500 } },
      },
    });
    expect(plain.result.isError).toBe(true);
    expect(plain.result._meta[DENIAL_META_KEY]).toEqual(task.error.data[DENIAL_META_KEY]);
  });

  it('refuses a case variant of task: a server reading it as task could run the tool, then answer an error', async () => {
    const { client, server, gate } = setup();
    for (const [id, key] of [
      [1, 'Task'],
      [2, 'TASK'],
    ] as const) {
      client.deliver({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'pay', arguments: {}, [key]: {} },
      });
    }
    await tick();
    expect(gate.decided).toEqual([]);
    expect(server.sent).toEqual([]);
    expect(client.json().map((r) => r.error.message)).toEqual([
      'Invalid params: params member "Task" differs from "task" only by case',
      'Invalid params: params member "TASK" differs from "task" only by case',
    ]);
  });

  it('commits a task-augmented call whose streamed answer is a JSON-RPC error', async () => {
    const { client, server, gate } = setupStreaming();
    client.deliver({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', task: {} } });
    await tick();
    const bytes = Buffer.from(
      JSON.stringify({ jsonrpc: '2.0', id: 1, error: { code: -32602, message: 'e'.repeat(10_000) } }),
    );
    const s = streamFromServer(server, bytes);
    s.rest();
    await tick();
    expect(s.streamed).toBe(true);
    expect(gate.committed).toEqual(['echo']);
    expect(gate.rolledBack).toEqual([]);
  });

  it('handles a long message whole while a tools/list answer (which it filters) is pending', async () => {
    const { client, server } = setupStreaming();
    client.deliver({ jsonrpc: '2.0', id: 7, method: 'tools/list' });
    await tick();
    const tools = [{ name: 'secret_x', d: 'x'.repeat(10_000) }, { name: 'ok' }];
    const s = streamFromServer(
      server,
      Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 7, result: { tools } })),
    );
    expect(s.streamed).toBe(false);
    s.rest();
    expect(client.json()[0].result.tools.map((t: { name: string }) => t.name)).toEqual(['ok']);
  });

  it('does not stream a line that does not start a JSON object', () => {
    const { server } = setupStreaming();
    const s = streamFromServer(server, Buffer.from(`Banner ${'x'.repeat(10_000)}`));
    expect(s.streamed).toBe(false);
  });

  it('over the cap mid-stream: ends the broken line, then answers the request with an error', async () => {
    const { client, server, gate } = setupStreaming();
    client.deliver(call(1, 'echo'));
    await tick();
    const bytes = bigResult(1);
    const stream = server.onlongmessage!(bytes.subarray(0, 4096))!;
    stream.write(bytes.subarray(0, 8000));
    stream.end({
      bytes: 99_000_000,
      limit: 8000,
      head: bytes.subarray(0, 4096),
      tail: bytes.subarray(-4096),
    });
    await tick();
    // The client got the first `limit` bytes, all of them, then the end of that broken line.
    const end = client.events.indexOf('end');
    expect(
      client.events
        .slice(0, end)
        .map((e) => e.slice(5))
        .join(''),
    ).toBe(bytes.subarray(0, 8000).toString('utf8'));
    const reply = JSON.parse(client.events[end + 1]!.slice(4));
    expect(reply.id).toBe(1);
    expect(reply.error.message).toContain('exceeds the proxy');
    // The server answered: the call ran and counts, or huge results would dodge rate limits.
    expect(gate.committed).toEqual(['echo']);
    expect(gate.rolledBack).toEqual([]);
  });
});
