/**
 * Finding values in the raw text of a JSON message without materialising them: where a string,
 * an object, an array or a scalar starts and ends, at `indexOf` speed inside strings. The
 * envelope reader (envelope.ts) classifies messages with it; batches are split into their
 * elements' exact bytes with it; and the few answers the proxy edits (`initialize`, `tools/list`)
 * locate the bytes they change with it, so that every other byte passes as the server wrote it.
 *
 * Callers that need a value's meaning `JSON.parse` the whole text first: these functions check
 * bracket and string structure (enough not to run off a value), not number or literal spelling.
 */

const Q = 0x22; // "
const BS = 0x5c; // \

/** Thrown on malformed JSON text; callers catch it (`scanEnvelope` in envelope.ts answers it as malformed JSON). */
export class ScanError extends Error {}

/** True for the four JSON whitespace bytes (RFC 8259 section 2). */
export function isJsonWhitespace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Index of the first byte at or after `i` that is not JSON whitespace (`buf.length` at the end). */
export function skipWs(buf: Buffer, i: number): number {
  while (isJsonWhitespace(buf[i])) i++;
  return i;
}

/** `i` at an opening quote; returns the index after the closing quote. Throws {@link ScanError}. */
export function skipString(buf: Buffer, i: number): number {
  let pos = i + 1;
  // Most strings of an envelope are short (names, ids, methods): a loop over their first bytes
  // costs less than a call into indexOf. Longer ones continue at indexOf speed.
  const stop = Math.min(buf.length, pos + SHORT_STRING_BYTES);
  for (; pos < stop; pos++) {
    const b = buf[pos];
    if (b === Q) return pos + 1;
    if (b === BS) pos++;
  }
  for (;;) {
    const q = buf.indexOf(Q, pos);
    if (q === -1) throw new ScanError('unterminated string');
    let backslashes = 0;
    for (let k = q - 1; k > i && buf[k] === BS; k--) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
    pos = q + 1;
  }
}

/** Strings are scanned byte by byte for this many bytes before indexOf takes over. */
const SHORT_STRING_BYTES = 64;

/** The bracket stack of {@link skipValue}, grown (doubled) for deeper nesting and kept. */
let closers = new Uint8Array(64);

/**
 * Member names (`:` outside strings) in the container {@link skipValue} last walked: compared with
 * the members `JSON.parse` kept, it tells whether a name appeared twice in one object.
 */
let colons = 0;

/**
 * Member names (`:` outside strings), at any depth, in the value {@link skipValue} last walked (0
 * for a string or scalar). Read right after the call: the next call resets it.
 */
export function lastColons(): number {
  return colons;
}

/**
 * `i` at the first byte of a value; returns the index after it. Throws {@link ScanError} on
 * unbalanced brackets or an unterminated string. Afterwards {@link lastColons} tells how many
 * member names the value holds.
 */
export function skipValue(buf: Buffer, i: number): number {
  const c = buf[i];
  colons = 0;
  if (c === Q) return skipString(buf, i);
  if (c === 0x7b || c === 0x5b) {
    // Walk nested containers with an explicit stack (of expected closing brackets) so deep
    // nesting cannot overflow ours. One stack serves every call: scanning is synchronous.
    let stack = closers;
    let depth = 0;
    stack[depth++] = c === 0x7b ? 0x7d : 0x5d;
    let pos = i + 1;
    while (depth > 0) {
      const b = buf[pos];
      if (b === undefined) throw new ScanError('unbalanced brackets');
      if (b === Q) {
        pos = skipString(buf, pos);
        continue;
      }
      if (b === 0x7b || b === 0x5b) {
        if (depth === stack.length) {
          const grown = new Uint8Array(stack.length * 2);
          grown.set(stack);
          stack = grown;
          closers = grown;
        }
        stack[depth++] = b === 0x7b ? 0x7d : 0x5d;
      } else if (b === 0x7d || b === 0x5d) {
        if (stack[--depth] !== b) throw new ScanError('unbalanced brackets');
      } else if (b === 0x3a) colons++;
      pos++;
    }
    return pos;
  }
  // Number or literal: runs until a structural byte or whitespace.
  let pos = i;
  for (;;) {
    const b = buf[pos];
    if (
      b === undefined ||
      b === 0x2c ||
      b === 0x7d ||
      b === 0x5d ||
      b === 0x20 ||
      b === 0x0a ||
      b === 0x0d ||
      b === 0x09
    )
      break;
    pos++;
  }
  if (pos === i) throw new ScanError('expected a value');
  return pos;
}

/**
 * The elements of a JSON array (a JSON-RPC batch) as slices of `buf`, each exactly the bytes that
 * were sent (numbers keep every digit, keys their spelling); `undefined` when `buf` is not a
 * JSON array. Validates bracket structure only: callers `JSON.parse` the whole text first.
 */
export function arrayElements(buf: Buffer): Buffer[] | undefined {
  const spans = elementSpans(buf, skipWs(buf, 0));
  return spans?.map((s) => buf.subarray(s.start, s.end));
}

/** Where a value lies in a buffer: the bytes `buf[start, end)`. */
export interface Span {
  /** Offset of the value's first byte. */
  readonly start: number;
  /** Offset just after the value's last byte. */
  readonly end: number;
}

/** A member of a JSON object: its name, decoded, and where its value lies. */
export interface MemberSpan extends Span {
  /** The name as `JSON.parse` reads it: `"too\u006cs"` is `tools`. */
  readonly name: string;
}

/**
 * The elements of the JSON array whose `[` is at `buf[at]`, in order; `undefined` when no array
 * starts there or its text is malformed. One pass over the array's bytes.
 */
export function elementSpans(buf: Buffer, at: number): Span[] | undefined {
  try {
    if (buf[at] !== 0x5b) return undefined;
    const out: Span[] = [];
    let i = skipWs(buf, at + 1);
    if (buf[i] === 0x5d) return out;
    for (;;) {
      const end = skipValue(buf, i);
      out.push({ start: i, end });
      i = skipWs(buf, end);
      if (buf[i] === 0x2c) i = skipWs(buf, i + 1);
      else if (buf[i] === 0x5d) return out;
      else return undefined;
    }
  } catch (err) {
    if (err instanceof ScanError) return undefined;
    throw err;
  }
}

/**
 * The members of the JSON object whose `{` is at `buf[at]`, in the order written, a name written
 * twice included twice; `undefined` when no object starts there or its text is malformed. Names
 * are decoded (escapes, then UTF-8 as `Buffer.toString` decodes it, like the `JSON.parse` of the
 * message's text). One pass over the object's bytes.
 */
export function objectMembers(buf: Buffer, at: number): MemberSpan[] | undefined {
  try {
    if (buf[at] !== 0x7b) return undefined;
    const out: MemberSpan[] = [];
    let i = skipWs(buf, at + 1);
    if (buf[i] === 0x7d) return out;
    for (;;) {
      if (buf[i] !== Q) return undefined;
      const keyEnd = skipString(buf, i);
      const name = hasByte(buf, BS, i + 1, keyEnd - 1)
        ? (JSON.parse(buf.toString('utf8', i, keyEnd)) as string)
        : buf.toString('utf8', i + 1, keyEnd - 1);
      i = skipWs(buf, keyEnd);
      if (buf[i] !== 0x3a) return undefined;
      const start = skipWs(buf, i + 1);
      const end = skipValue(buf, start);
      out.push({ name, start, end });
      i = skipWs(buf, end);
      if (buf[i] === 0x2c) i = skipWs(buf, i + 1);
      else if (buf[i] === 0x7d) return out;
      else return undefined;
    }
  } catch (err) {
    if (err instanceof ScanError || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/**
 * Where the value `JSON.parse` reads at `path` lies, from the top-level object of `buf`: at each
 * step the last member of that name, as `JSON.parse` keeps the last of a name written twice.
 * `undefined` when a step is missing or is not an object. Each step walks one object's bytes.
 */
export function memberAt(buf: Buffer, path: readonly string[]): Span | undefined {
  let span: Span = { start: skipWs(buf, 0), end: buf.length };
  for (const name of path) {
    const members = objectMembers(buf, span.start);
    if (members === undefined) return undefined;
    const found = lastMember(members, name);
    if (found === undefined) return undefined;
    span = found;
  }
  return span;
}

/** The last of `members` named `name` (the one `JSON.parse` keeps), or undefined. */
export function lastMember(members: readonly MemberSpan[], name: string): MemberSpan | undefined {
  for (let k = members.length - 1; k >= 0; k--) if (members[k]!.name === name) return members[k];
  return undefined;
}

/** True when `buf[from, to)` holds the byte `b` (bounded, unlike `indexOf`, which runs to the end). */
function hasByte(buf: Buffer, b: number, from: number, to: number): boolean {
  for (let k = from; k < to; k++) if (buf[k] === b) return true;
  return false;
}
