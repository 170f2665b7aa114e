/**
 * What a failed call costs, through the built proxy and the real server-everything: a tool
 * failure reported as an `isError` result commits its reservation (the tool ran; an agent
 * retrying a failing tool must still hit its limit), a JSON-RPC error rolls it back, except for
 * a task-augmented call (the server may have run the tool before it failed to create the task).
 */
import {
  CallToolResultSchema,
  CreateMessageRequestSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, FAKE_SERVER, type Scratch, type Session, scratch, serverBin } from './helpers.js';

const POLICY = `version: "1"
tools:
  echo:
    rules:
      - { name: echo budget, rate_limit: 2/minute }
`;

const FAIL_POLICY = `version: "1"
tools:
  fail:
    rules:
      - { name: fail budget, rate_limit: 1/minute }
  echo:
    rules:
      - { name: echo once, rate_limit: 1/minute }
`;

const TASK_POLICY = `version: "1"
tools:
  trigger-long-running-operation:
    rules:
      - { name: one run, rate_limit: 1/minute }
`;

const SAMPLING_POLICY = `version: "1"
tools:
  trigger-sampling-request:
    rules:
      - { name: two samples, rate_limit: 2/minute }
`;

let s: Scratch;
let via: Session;
beforeAll(async () => {
  s = scratch();
  via = await connect(s, s.write('policy.yaml', POLICY), [process.execPath, serverBin('server-everything')], {
    flags: ['--state-dsn', 'memory:'],
  });
}, 60_000);
afterAll(async () => {
  await via?.close();
  s?.cleanup();
});

function text(r: unknown): string {
  return (r as { content: { text: string }[] }).content[0]?.text ?? '';
}

describe('quota on failed calls', () => {
  it('an isError result from the server uses quota', async () => {
    // A number where the tool wants a string: the server runs its validation and reports a tool error.
    for (let i = 0; i < 2; i++) {
      const r = await via.client.callTool({ name: 'echo', arguments: { message: 123 } });
      expect(r.isError).toBe(true);
      expect(text(r)).not.toMatch(/TOLLGATE/);
    }
    const third = await via.client.callTool({ name: 'echo', arguments: { message: 'hi' } });
    expect(third.isError).toBe(true);
    expect(text(third)).toMatch(
      /^\[TOLLGATE POLICY DENIED\] Rate limit "echo budget" reached: 2 per minute \(UTC\)/,
    );
  });

  it('a JSON-RPC error from the server does not', async () => {
    // server-everything reports even unknown tools as isError results; the scripted server's
    // "fail" tool answers with a JSON-RPC error.
    const fake = await connect(s, s.write('fail.yaml', FAIL_POLICY), [process.execPath, FAKE_SERVER], {
      flags: ['--state-dsn', 'memory:'],
    });
    try {
      for (let i = 0; i < 3; i++) {
        // Each call reaches the server (its error, not our denial): the quota of 1 came back each time.
        await expect(fake.client.callTool({ name: 'fail', arguments: {} })).rejects.toThrow(
          'MCP error -32050: upstream failure',
        );
      }
      const r = await fake.client.callTool({ name: 'echo', arguments: { text: 'x' } });
      expect(r.isError).toBeFalsy();
      const denied = await fake.client.callTool({ name: 'echo', arguments: { text: 'y' } });
      expect(text(denied)).toMatch(/^\[TOLLGATE POLICY DENIED\] Rate limit "echo once" reached/);
    } finally {
      await fake.close();
    }
  });

  it("a call ended by the client's error answer to the server's request (sampling) uses quota", async () => {
    // The tool asks the client for a sample; the client answers with -32042 (URL elicitation
    // required), which the SDK server passes on as the call's JSON-RPC error. The tool ran: the
    // call counts, or a client could have every call of a limited tool given back.
    let samplingRequests = 0;
    const sampled = await connect(
      s,
      s.write('sampling.yaml', SAMPLING_POLICY),
      [process.execPath, serverBin('server-everything')],
      {
        flags: ['--state-dsn', 'memory:'],
        capabilities: { sampling: {} },
        setup: (c) =>
          c.setRequestHandler(CreateMessageRequestSchema, async () => {
            samplingRequests++;
            throw new McpError(-32042, 'URL elicitation required');
          }),
      },
    );
    try {
      const call = () =>
        sampled.client.callTool({
          name: 'trigger-sampling-request',
          arguments: { prompt: 'p', maxTokens: 5 },
        });
      for (let i = 0; i < 2; i++) await expect(call()).rejects.toThrow(/-32042/);
      expect(samplingRequests).toBe(2);
      const third = await call();
      expect(text(third)).toMatch(/^\[TOLLGATE POLICY DENIED\] Rate limit "two samples" reached/);
      expect(samplingRequests).toBe(2);
    } finally {
      await sampled.close();
    }
  });

  it('a task-augmented call the server runs and then answers with a JSON-RPC error uses quota', async () => {
    // server-everything advertises tasks for tools/call, but its tools are plain ones: the SDK runs
    // the handler, then refuses the plain result as a task creation result (-32602). The tool ran
    // (its progress notifications reached the client), so the call counts.
    const task = await connect(
      s,
      s.write('task.yaml', TASK_POLICY),
      [process.execPath, serverBin('server-everything')],
      {
        flags: ['--state-dsn', 'memory:'],
      },
    );
    try {
      const progress: unknown[] = [];
      await expect(
        task.client.request(
          {
            method: 'tools/call',
            params: {
              name: 'trigger-long-running-operation',
              arguments: { duration: 0.2, steps: 2 },
              task: { ttl: 60_000 },
            },
          },
          CallToolResultSchema,
          { onprogress: (p) => progress.push(p) },
        ),
      ).rejects.toThrow(/-32602/);
      // The tool ran: its progress reached the client (the last step's may race the error).
      expect(progress.length).toBeGreaterThanOrEqual(1);
      const denied = await task.client.callTool({
        name: 'trigger-long-running-operation',
        arguments: { duration: 0.1, steps: 1 },
      });
      expect(text(denied)).toMatch(/^\[TOLLGATE POLICY DENIED\] Rate limit "one run" reached/);
      // A denied task-augmented call: a JSON-RPC error with the denial, not a tool result the
      // client (awaiting a CreateTaskResult) would reject as malformed.
      await expect(
        task.client.request(
          {
            method: 'tools/call',
            params: {
              name: 'trigger-long-running-operation',
              arguments: { duration: 0.1, steps: 1 },
              task: { ttl: 60_000 },
            },
          },
          CallToolResultSchema,
        ),
      ).rejects.toThrow(/-32002.*\[TOLLGATE POLICY DENIED\] Rate limit "one run" reached/);
    } finally {
      await task.close();
    }
  });
});
