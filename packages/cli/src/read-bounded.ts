/**
 * Reads a whole file, a pipe, a FIFO or `/dev/stdin` with a byte bound, for the one-shot commands
 * (`validate`, `test`): `tollgate validate -c <(generate-policy)` and `... -c /dev/stdin` work, and
 * an endless or huge input is never read past `limit + 1` bytes.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** What {@link readBounded} got: the text, or how much there was when it is over the limit. */
export type BoundedRead =
  | { readonly ok: true; readonly text: string; readonly bytes: number }
  /** `bytes` is the file's size when `exact`; for a stream, only that it is over `limit`. */
  | { readonly ok: false; readonly bytes: number; readonly exact: boolean };

const CHUNK = 64 * 1024;

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Reads `path` (`-` for standard input) as UTF-8, up to `limit` bytes. A regular file over the limit is reported from its
 * size without reading it; any other readable file (pipe, FIFO, character device) is read until
 * EOF or until it has given more than `limit` bytes.
 *
 * @throws Error (`EISDIR: ...`, `ENOENT: ...`) when it cannot be opened or read
 */
export function readBounded(path: string, limit: number): BoundedRead {
  // `-` is standard input, as for `tollgate init -o -` (standard output).
  const file = path === '-' ? '/dev/stdin' : path;
  let fd: number;
  let own = true;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    // `/dev/stdin` or `/dev/fd/N` on a socket (what Node's child_process gives a child for
    // 'pipe'): a socket cannot be opened by path (ENXIO), but the inherited descriptor reads.
    const inherited = inheritedFd(file);
    if ((err as NodeJS.ErrnoException).code !== 'ENXIO' || inherited === undefined) throw err;
    fd = inherited;
    own = false;
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new Error(`EISDIR: is a directory`);
    if (st.isFile() && st.size > limit) return { ok: false, bytes: st.size, exact: true };
    // Chunks in a list, joined once: no buffer of `limit` bytes for a ten-line policy.
    const chunks: Buffer[] = [];
    let total = 0;
    while (total <= limit) {
      const chunk = Buffer.allocUnsafe(Math.min(CHUNK, limit + 1 - total));
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (err) {
        // A non-blocking pipe (a parent that set O_NONBLOCK on its end) has no data yet: wait.
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          sleepMs(5);
          continue;
        }
        throw err;
      }
      if (n === 0) return { ok: true, text: Buffer.concat(chunks, total).toString('utf8'), bytes: total };
      chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n));
      total += n;
    }
    return { ok: false, bytes: total, exact: false };
  } finally {
    if (own) closeSync(fd);
  }
}

/** The descriptor a `/dev/stdin`, `/dev/fd/N` or `/proc/self/fd/N` path names, if it is one. */
function inheritedFd(file: string): number | undefined {
  if (file === '/dev/stdin') return 0;
  const m = /^\/(?:dev|proc\/self)\/fd\/(\d+)$/.exec(file);
  return m ? Number(m[1]) : undefined;
}

const mib = (bytes: number) => `${Math.round((bytes / (1024 * 1024)) * 100) / 100} MiB`;

/** The `input-too-large` message for a {@link BoundedRead} over the limit. */
export function tooLargeMessage(r: { bytes: number; exact: boolean }, limit: number, what: string): string {
  return `${what} is ${r.exact ? `${r.bytes} bytes` : `more than ${limit} bytes`}; the limit is ${limit} bytes (${mib(limit)})`;
}
