import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { StreamTransport } from './stdio-stream.js';

function transport() {
  const input = new PassThrough();
  const output = new PassThrough();
  const chunks: Buffer[] = [];
  output.on('data', (c: Buffer) => chunks.push(c));
  const t = new StreamTransport({ input, output });
  return { t, text: () => Buffer.concat(chunks).toString('utf8') };
}

describe('StreamTransport cut-through', () => {
  it('writes a streamed message in parts, holding whole messages sent meanwhile until it ends', async () => {
    const { t, text } = transport();
    await t.start();
    t.send(Buffer.from('{"before":1}'));
    const s = t.openStream()!;
    expect(t.openStream()).toBeUndefined();
    s.write(Buffer.from('{"long":"ab'));
    t.send(Buffer.from('{"during":2}'));
    s.write(Buffer.from('cd"}'));
    await new Promise((r) => setImmediate(r));
    expect(text()).toBe('{"before":1}\n{"long":"abcd"}');
    s.end();
    s.end();
    await new Promise((r) => setImmediate(r));
    expect(text()).toBe('{"before":1}\n{"long":"abcd"}\n{"during":2}\n');
    expect(t.openStream()).toBeDefined();
  });
});

describe('StreamTransport flush', () => {
  it('hands messages still waiting for the end of the turn to the stream before it resolves', async () => {
    const { t, text } = transport();
    await t.start();
    t.send(Buffer.from('{"last":1}'));
    await t.flush();
    expect(text()).toBe('{"last":1}\n');
  });
});
