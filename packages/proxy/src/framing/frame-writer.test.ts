import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BACKLOG_BYTES, FrameWriter, inReadTurn } from './frame-writer.js';

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

  it('hands the frames written while a read is handled to each stream as one batch when the handler returns', () => {
    const a = recorder();
    const b = recorder();
    const toA = new FrameWriter(a.stream);
    const toB = new FrameWriter(b.stream);
    inReadTurn(() => {
      toA.write(Buffer.from('{"x":1}'));
      toB.write(Buffer.from('{"y":1}'));
      inReadTurn(() => toA.write(Buffer.from('{"x":2}')));
      // Nothing leaves before the outermost handler returns.
      expect([a.batches, b.batches]).toEqual([[], []]);
    });
    expect(a.batches).toEqual([['{"x":1}\n{"x":2}\n']]);
    expect(b.batches).toEqual([['{"y":1}\n']]);
  });

  it('after a read is handled, a frame written later (a decision that waited) waits for its own turn', async () => {
    const { stream, batches } = recorder();
    const w = new FrameWriter(stream);
    inReadTurn(() => w.write(Buffer.from('{"now":1}')));
    w.write(Buffer.from('{"later":2}'));
    expect(batches).toEqual([['{"now":1}\n']]);
    await turn();
    expect(batches).toEqual([['{"now":1}\n'], ['{"later":2}\n']]);
  });

  it('keeps the order of frames waiting for the end of the turn and frames of a read handled meanwhile', async () => {
    const { stream, batches } = recorder();
    const w = new FrameWriter(stream);
    w.write(Buffer.from('{"first":1}'));
    inReadTurn(() => w.write(Buffer.from('{"second":2}')));
    await turn();
    expect(batches.flat().join('')).toBe('{"first":1}\n{"second":2}\n');
  });

  it('flushes what a throwing handler wrote, then rethrows', () => {
    const { stream, batches } = recorder();
    const w = new FrameWriter(stream);
    expect(() =>
      inReadTurn(() => {
        w.write(Buffer.from('{"a":1}'));
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(batches).toEqual([['{"a":1}\n']]);
    // The next read is a turn of its own again.
    inReadTurn(() => w.write(Buffer.from('{"b":2}')));
    expect(batches).toEqual([['{"a":1}\n'], ['{"b":2}\n']]);
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

  it('reports a backlog once the stream holds more than BACKLOG_BYTES unread, and its end once drained', async () => {
    // A reader that takes nothing until told to.
    let release: (() => void) | undefined;
    const held: Array<() => void> = [];
    const stream = new Writable({
      highWaterMark: 1024,
      write(_chunk, _enc, cb) {
        held.push(cb);
        release ??= () => {
          for (const c of held.splice(0)) c();
        };
      },
    });
    const w = new FrameWriter(stream);
    const events: boolean[] = [];
    w.onbacklog = (full) => events.push(full);
    const big = Buffer.alloc(BACKLOG_BYTES / 4, 0x61);
    for (let i = 0; i < 3; i++) w.write(big);
    expect(events).toEqual([]);
    w.write(big);
    w.write(big);
    expect(events).toEqual([true]);
    w.write(big);
    expect(events).toEqual([true]);
    // Drained: one call per written chunk is still owed; keep answering until the buffer is empty.
    while (stream.writableLength > 0) {
      release!();
      await turn();
    }
    expect(events).toEqual([true, false]);
  });

  it('reports the frames of a failed write undelivered, and only those', async () => {
    // A pipe whose reader closed it after the first write: every later write fails (EPIPE).
    let writes = 0;
    const stream = new Writable({
      write(_chunk, _enc, cb) {
        writes++;
        if (writes === 1) cb();
        else cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    stream.on('error', () => {});
    const w = new FrameWriter(stream);
    const failed: string[] = [];
    const sent = (name: string) => () => failed.push(name);
    w.write(Buffer.from('{"id":1}'), sent('1'));
    await turn();
    w.write(Buffer.from('{"id":2}'), sent('2'));
    w.write(Buffer.from('{"notification":true}'));
    w.write(Buffer.from('{"id":3}'), sent('3'));
    await turn();
    // A large frame, written on its own, after the stream failed.
    w.write(Buffer.alloc(70 * 1024, 0x61), sent('big'));
    await turn();
    await turn();
    expect(writes).toBe(2);
    expect(failed).toEqual(['2', '3', 'big']);
  });
});
