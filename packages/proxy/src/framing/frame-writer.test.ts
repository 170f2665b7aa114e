import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FrameWriter } from './frame-writer.js';

/** A stream that records each system-call-sized batch it is handed (`_writev` or `_write`). */
function recorder() {
  const batches: string[][] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      batches.push([chunk.toString('utf8')]);
      cb();
    },
    writev(chunks, cb) {
      batches.push(chunks.map((c) => (c.chunk as Buffer).toString('utf8')));
      cb();
    },
  });
  return { stream, batches };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('FrameWriter', () => {
  it('hands the messages written in one callback to the stream as one batch, each with its newline', async () => {
    const { stream, batches } = recorder();
    const w = new FrameWriter(stream);
    await new Promise<void>((done) =>
      setImmediate(() => {
        w.write(Buffer.from('{"a":1}'));
        w.write(Buffer.from('{"b":2}'));
        expect(batches).toEqual([]);
        done();
      }),
    );
    await turn();
    expect(batches).toEqual([['{"a":1}\n{"b":2}\n']]);
  });

  it('batches the messages written by the microtasks of one callback (decisions resolving together)', async () => {
    const { stream, batches } = recorder();
    const w = new FrameWriter(stream);
    await new Promise<void>((done) =>
      setImmediate(() => {
        const decided = Promise.resolve();
        void decided.then(() => w.write(Buffer.from('{"c":3}')));
        void decided.then(() => Promise.resolve()).then(() => w.write(Buffer.from('{"d":4}')));
        done();
      }),
    );
    await turn();
    expect(batches).toEqual([['{"c":3}\n{"d":4}\n']]);
  });

  it('a message written by an I/O callback leaves before the microtasks that callback queued run', async () => {
    const { stream, batches } = recorder();
    const w = new FrameWriter(stream);
    const seenByMicrotask: number[] = [];
    await new Promise<void>((done) =>
      setImmediate(() => {
        w.write(Buffer.from('{"answer":1}'));
        queueMicrotask(() => seenByMicrotask.push(batches.length));
        done();
      }),
    );
    await turn();
    expect(seenByMicrotask).toEqual([1]);
  });

  it('writes a message over 64 KiB and large raw parts as they are, in order with what waits', async () => {
    const { stream, batches } = recorder();
    const w = new FrameWriter(stream);
    const big = Buffer.alloc(70 * 1024, 0x61);
    const part = Buffer.alloc(8 * 1024, 0x62);
    await new Promise<void>((done) =>
      setImmediate(() => {
        w.write(Buffer.from('{"first":1}'));
        w.write(big);
        w.writeRaw(part);
        w.writeRaw(Buffer.from('\n'));
        w.write(Buffer.from('{"last":2}'));
        done();
      }),
    );
    await turn();
    const written = batches.flat();
    // The small frame waiting is flushed before the big one; nothing is copied into a join with
    // the big message or the large part; the small tail joins the turn's last write.
    expect(written.map((b) => b.length)).toEqual([12, 70 * 1024, 1, 8 * 1024, 12]);
    expect(written.join('')).toBe(`{"first":1}\n${big}\n${part}\n{"last":2}\n`);
  });
});
