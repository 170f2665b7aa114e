/**
 * A call's arguments as the server receives them, where `JSON.parse` would round a number.
 *
 * The proxy forwards a call's bytes unchanged, so a server that reads exact integers or decimals
 * acts on `1098765432109876543` while `JSON.parse` gives the policy 1098765432109876500. A
 * condition that compared the rounded value would judge another number than the one the server
 * receives (an allow-list of IDs let a neighbouring ID through). Such numbers reach the conditions
 * as {@link InexactNumber}: no numeric comparison can vouch for them (they fail, so the call is
 * denied), and `regex` / `not_regex` search their digits exactly as sent.
 */
import { isExactDecimal } from '@tollgate/policy';

/** A JSON number in a call's arguments that a double does not hold exactly; `text` is as sent. */
export class InexactNumber {
  /** @param text the number's JSON text, e.g. `1098765432109876543` */
  constructor(readonly text: string) {}

  /** For messages: the digits, and why they are not compared as a number. */
  toString(): string {
    return `${this.text}, which a double does not hold exactly`;
  }

  /** In JSON output (an explain trace): `{ "inexactNumber": "<digits as sent>" }`. */
  toJSON(): { inexactNumber: string } {
    return { inexactNumber: this.text };
  }
}

/** Where an inexact number sits in a JSON text: object keys and array indexes from the root. */
export interface InexactNumberMark {
  readonly path: readonly (string | number)[];
  readonly text: string;
}

/**
 * Cheap test before {@link inexactNumbers}: true when `text` has a run of 16 digits (a decimal
 * point may sit among them) or an exponent of three digits. A number of 15 significant digits or
 * fewer reads exactly unless its exponent leaves the double's range (`1e400` reads as Infinity,
 * `1e-400` as 0), which takes an exponent of at least three digits.
 */
export function mayHoldInexactNumbers(text: string): boolean {
  return MAY_BE_INEXACT.test(text);
}

const MAY_BE_INEXACT = /\d[\d.]{15}|\d[eE][-+]?\d{3}/;

/**
 * Every number in a valid JSON `text` that {@link isExactDecimal} refuses, with its path. Walks
 * the text with an explicit stack (no recursion, so nesting depth cannot overflow it); a key
 * repeated in an object is reported at that key whichever occurrence held the number.
 *
 * @throws SyntaxError when `text` is not valid JSON (callers parse it first)
 */
export function inexactNumbers(text: string): InexactNumberMark[] {
  const marks: InexactNumberMark[] = [];
  const path: (string | number)[] = [];
  /** Per open container: true for an object. */
  const isObject: boolean[] = [];
  let i = 0;
  const n = text.length;
  const ws = () => {
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else return;
    }
  };
  const string = (): string => {
    const start = i++;
    let escaped = false;
    for (;;) {
      if (i >= n) throw new SyntaxError('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c === 0x5c) {
        escaped = true;
        i += 2;
      } else i++;
    }
    i++;
    return escaped ? (JSON.parse(text.slice(start, i)) as string) : text.slice(start + 1, i - 1);
  };
  const key = () => {
    ws();
    path.push(string());
    ws();
    if (text.charCodeAt(i++) !== 0x3a) throw new SyntaxError('expected ":"');
  };
  for (;;) {
    // A value starts here.
    ws();
    const c = text.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) {
      i++;
      ws();
      const close = c === 0x7b ? 0x7d : 0x5d;
      if (text.charCodeAt(i) !== close) {
        isObject.push(c === 0x7b);
        if (c === 0x7b) key();
        else path.push(0);
        continue;
      }
      i++;
    } else if (c === 0x22) {
      string();
    } else {
      const start = i;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x2c || d === 0x7d || d === 0x5d || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09)
          break;
        i++;
      }
      if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
        const literal = text.slice(start, i);
        if (!isExactDecimal(literal)) marks.push({ path: [...path], text: literal });
      }
    }
    // After a value: the next member or element, or close containers.
    for (;;) {
      if (isObject.length === 0) return marks;
      ws();
      const d = text.charCodeAt(i++);
      const inObject = isObject[isObject.length - 1]!;
      if (d === 0x2c) {
        if (inObject) {
          path.pop();
          key();
        } else path.push((path.pop() as number) + 1);
        break;
      }
      if (d !== (inObject ? 0x7d : 0x5d)) throw new SyntaxError('unbalanced JSON');
      isObject.pop();
      path.pop();
    }
  }
}

/**
 * `value` with each mark under `prefix` replaced by an {@link InexactNumber}, copying only the
 * objects and arrays on the way to a mark; `undefined` when no mark falls under `prefix`.
 *
 * @param value the parsed value at `prefix` (e.g. a request's `params.arguments`)
 * @param marks from {@link inexactNumbers} over the whole text
 * @param prefix the path of `value` in that text (e.g. `['params', 'arguments']`)
 */
export function withInexactNumbers<T>(
  value: T,
  marks: readonly InexactNumberMark[],
  prefix: readonly (string | number)[] = [],
): T | undefined {
  let out: unknown = value;
  let changed = false;
  const copied = new Set<unknown>();
  outer: for (const m of marks) {
    if (m.path.length <= prefix.length) continue;
    for (let k = 0; k < prefix.length; k++) if (m.path[k] !== prefix[k]) continue outer;
    const rest = m.path.slice(prefix.length);
    const copy = (node: unknown): unknown => {
      if (copied.has(node)) return node;
      const c = Array.isArray(node) ? [...node] : { ...(node as object) };
      copied.add(c);
      return c;
    };
    if (out === null || typeof out !== 'object') continue;
    out = copy(out);
    let parent = out as Record<string | number, unknown>;
    for (let k = 0; k < rest.length - 1; k++) {
      const child = parent[rest[k]!];
      if (child === null || typeof child !== 'object') continue outer;
      parent[rest[k]!] = copy(child);
      parent = parent[rest[k]!] as Record<string | number, unknown>;
    }
    const last = rest[rest.length - 1]!;
    if (typeof parent[last] !== 'number') continue;
    parent[last] = new InexactNumber(m.text);
    changed = true;
  }
  return changed ? (out as T) : undefined;
}

/**
 * The arguments of a `tools/call` as its sender wrote them: `args` (parsed from `text`, with
 * `params.arguments` at `prefix`) with its inexact numbers as {@link InexactNumber}, or
 * `undefined` when every number reads exactly (the common case, decided by a regex test).
 */
export function argumentsAsSent<T>(
  text: string,
  args: T,
  prefix: readonly (string | number)[] = [],
): T | undefined {
  if (!mayHoldInexactNumbers(text)) return undefined;
  return withInexactNumbers(args, inexactNumbers(text), prefix);
}
