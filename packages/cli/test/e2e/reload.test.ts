/**
 * Policy reload while a session runs: when the file changes what is hidden, the client gets
 * `notifications/tools/list_changed` and the next `tools/list` reflects the new policy.
 */
import { writeFileSync } from 'node:fs';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, FAKE_SERVER, type Scratch, scratch, sleep, textOf } from './helpers.js';

let s: Scratch;
afterEach(() => s?.cleanup());

describe('policy reload', () => {
  it('sends tools/list_changed when hide changes, and enforces the new policy', async () => {
    s = scratch();
    const policy = s.write('policy.yaml', 'version: "1"\nhide: [crash]\n');
    let changed = 0;
    const sdk = await connect(s, policy, [process.execPath, FAKE_SERVER], {
      setup: (c) =>
        c.setNotificationHandler(ToolListChangedNotificationSchema, () => {
          changed++;
        }),
    });
    expect(sdk.client.getServerCapabilities()?.tools?.listChanged).toBe(true);
    const before = (await sdk.client.listTools()).tools.map((t) => t.name);
    expect(before).toContain('echo');
    expect(before).not.toContain('crash');

    // A reload that changes nothing visible sends nothing.
    writeFileSync(policy, 'version: "1"\ndescription: same hide\nhide: [crash]\n');
    await sleep(1500);
    expect(changed).toBe(0);

    writeFileSync(policy, 'version: "1"\nhide: [crash, echo]\n');
    for (let i = 0; i < 100 && changed === 0; i++) await sleep(100);
    expect(changed).toBe(1);
    const after = (await sdk.client.listTools()).tools.map((t) => t.name);
    expect(after).not.toContain('echo');
    const denied = await sdk.client.callTool({ name: 'echo', arguments: { text: 'x' } });
    expect(denied.isError).toBe(true);
    expect(textOf(denied)).toMatch(/^\[TOLLGATE POLICY DENIED\] /);

    // An invalid edit keeps the previous policy (echo stays hidden) and sends nothing.
    writeFileSync(policy, 'version: "1"\nhide: [\n');
    await sleep(1500);
    expect(changed).toBe(1);
    expect((await sdk.client.listTools()).tools.map((t) => t.name)).not.toContain('echo');
    await sdk.close();
  });
});
