/**
 * Edits to the raw text of a JSON message that change only the bytes they must. The proxy changes
 * two kinds of server answers (an `initialize` result's `capabilities.tools.listChanged`, hidden
 * tools in a `tools/list` page); `JSON.parse` decides what to change, and the edit is made on the
 * text itself, located with json-text.ts, so that every other byte reaches the client as the
 * server wrote it. A re-encoding through `JSON.stringify` would not: `12345678901234567890`
 * becomes `12345678901234567000`, `1e400` becomes `null` (RFC 8259 section 6 lets numbers exceed
 * a double), and escapes such as `\u2028` are written out.
 */
import { lastMember, objectMembers, type Span } from './json-text.js';

/** One edit: the bytes `[from, to)` of the original text replaced by `text` (nothing: removed). */
export interface Edit {
  /** Offset of the first byte replaced (or of the insertion, when `to` equals it). */
  readonly from: number;
  /** Offset just after the last byte replaced. */
  readonly to: number;
  /** What takes their place; omitted for a cut. Never holds a newline: a message stays one line. */
  readonly text?: string;
}

/**
 * `buf` with `edits` made, which must be sorted by position and not overlap. One copy of the
 * kept bytes, whatever the number of edits; `buf` itself when there are none.
 */
export function applyEdits(buf: Buffer, edits: readonly Edit[]): Buffer {
  if (edits.length === 0) return buf;
  const parts: Buffer[] = [];
  let at = 0;
  for (const e of edits) {
    if (e.from < at || e.to < e.from) throw new RangeError('edits overlap or are out of order');
    if (e.from > at) parts.push(buf.subarray(at, e.from));
    if (e.text !== undefined && e.text.length > 0) parts.push(Buffer.from(e.text, 'utf8'));
    at = e.to;
  }
  if (at < buf.length) parts.push(buf.subarray(at));
  return Buffer.concat(parts);
}

/**
 * The edit that makes the object whose `{` is at `buf[at]` read `name` as the JSON text `value`:
 * the value of its last member of that name (the one `JSON.parse` keeps) is replaced, or, when it
 * has none, `"name":value` is added after its last member (first thing after `{` in an empty
 * object). Whitespace and every other member stay as written. `undefined` when no object starts
 * at `at`.
 */
export function setMember(buf: Buffer, at: number, name: string, value: string): Edit | undefined {
  const members = objectMembers(buf, at);
  if (members === undefined) return undefined;
  const existing = lastMember(members, name);
  if (existing !== undefined) return { from: existing.start, to: existing.end, text: value };
  const member = `${JSON.stringify(name)}:${value}`;
  const lastOne = members[members.length - 1];
  return lastOne === undefined
    ? { from: at + 1, to: at + 1, text: member }
    : { from: lastOne.end, to: lastOne.end, text: `,${member}` };
}

/**
 * The cuts that remove from an array the elements (of `elements`, as json-text.ts's
 * `elementSpans` found them) for which `remove(index)` is true, each with one comma next to it:
 * a run of removed elements goes with the separator after it (`a, b, c` without `b`: `a, c`),
 * or, when it ends the array, with the separator before it (`a, b, c` without `c`: `a, b`). Kept
 * elements, and the whitespace around them, stay as written; with every element removed the
 * array keeps only the whitespace inside its brackets (`[]` for a compact one). Sorted, for
 * {@link applyEdits}; linear in the number of elements.
 */
export function removeElements(elements: readonly Span[], remove: (index: number) => boolean): Edit[] {
  const cuts: Edit[] = [];
  const n = elements.length;
  let run = -1; // first element of the current run of removed ones
  for (let k = 0; k <= n; k++) {
    if (k < n && remove(k)) {
      if (run === -1) run = k;
      continue;
    }
    if (run === -1) continue;
    // Elements run..k-1 go.
    if (k < n) cuts.push({ from: elements[run]!.start, to: elements[k]!.start });
    else if (run > 0) cuts.push({ from: elements[run - 1]!.end, to: elements[n - 1]!.end });
    else cuts.push({ from: elements[0]!.start, to: elements[n - 1]!.end });
    run = -1;
  }
  return cuts;
}
