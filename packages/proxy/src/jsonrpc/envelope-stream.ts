/**
 * The envelope of a JSON-RPC message read while it streams past, without keeping the message.
 *
 * Used for cut-through (router.ts): a long server message is forwarded to the client part by
 * part, and the proxy still needs its envelope at the end (the `id` to find the pending call,
 * `result` or `error` to commit or roll it back). Holding 20 MiB only to scan it once costs a
 * copy and garbage collection; this reader keeps a few bytes of state instead.
 *
 * It follows the top-level object only: member names, and the values of `jsonrpc`, `id` and
 * `method` (at most {@link MAX_CAPTURED_BYTES} each). Nested values are skipped, strings at
 * `indexOf` speed. Classification is the same as {@link scanEnvelope}'s (JSON-RPC 2.0 section 4),
 * with the same name lookup (`envelopeMember`: escaped names decoded, case variants of JSON-RPC
 * members refused), the same refusal of a JSON-RPC member written twice, and the same id checks.
 * Structural checks are lighter: brackets are counted, not matched, since the bytes have
 * already gone to a peer that parses them anyway.
 */
import {
  caseVariantProblem,
  classifyEnvelope,
  type Envelope,
  type EnvelopeFields,
  type EnvelopeMemberName,
  envelopeMember,
  idBytesProblem,
  refusedEnvelope,
  repeatedMemberProblem,
  requestLike,
  variantOf,
} from './envelope.js';
import { isJsonWhitespace as isWs } from './json-text.js';

/** Longest member name or captured value kept, in bytes; longer ones cannot be `jsonrpc`/`id`/`method`. */
const MAX_CAPTURED_BYTES = 4096;

const Q = 0x22;
const BS = 0x5c;

type Phase =
  | 'start' // before the opening brace
  | 'key' // expecting a member name (or `}` right after `{`)
  | 'colon'
  | 'value' // expecting the start of a value
  | 'scalar' // inside a number or literal at depth 1
  | 'nested' // inside an object or array value
  | 'after' // expecting `,` or `}`
  | 'done' // after the closing brace
  | 'bad';

/** Reads one message's envelope from its bytes, pushed in order. */
export class EnvelopeStream {
  private phase: Phase = 'start';
  /** The message was whole, then stray bytes followed it. */
  private trailing = false;
  /** Index, in the chunk that held it, of the top-level closing brace (see {@link push}). */
  private closedAt = 0;
  private inString = false;
  private escape = false;
  /** Whether the string being read is a member name (else a value). */
  private stringIsKey = false;
  /** Container depth inside a nested value. */
  private depth = 0;
  private capture: number[] | undefined;
  private captureOverflow = false;
  /** The envelope member the current value belongs to (undefined for any other name). */
  private key: EnvelopeMemberName | undefined;
  private problem: string | undefined;
  /** Set when the message is well-formed JSON but refused as JSON-RPC (a case-variant name, an id that is not UTF-8). */
  private refusal: string | undefined;
  /** The id cannot name the request a refusal answers: written twice, beside a variant of `id`, not UTF-8. */
  private idSpoiled = false;
  /** A variant of `method` or `params` was among the names: the message is a request to some decoders. */
  private variantRequestLike = false;
  private first = true;
  /** JSON-RPC member names met so far at the top level (a repeated one is refused, as by scanEnvelope). */
  private readonly seen = new Set<string>();
  private readonly fields: {
    jsonrpc?: unknown;
    id?: unknown;
    hasId: boolean;
    method?: unknown;
    hasMethod: boolean;
    hasResult: boolean;
    hasError: boolean;
    hasParams: boolean;
  } = { hasId: false, hasMethod: false, hasResult: false, hasError: false, hasParams: false };

  /**
   * Feeds the next bytes of the message.
   *
   * @returns how many leading bytes of `chunk` come before the top-level closing brace and before
   *   any malformed byte: a peer given only those bytes of the message never holds a complete JSON
   *   value (an object without its closing brace). 0 once the brace, or a malformed byte, was met.
   */
  push(chunk: Buffer): number {
    if (this.phase === 'done') {
      this.pushAfterEnd(chunk);
      return 0;
    }
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      const phase = this.phase as Phase;
      if (phase === 'bad') break;
      if (phase === 'done') {
        this.pushAfterEnd(chunk.subarray(i));
        return this.closedAt;
      }
      if (this.inString) {
        i = this.readString(chunk, i);
        continue;
      }
      const c = chunk[i] as number;
      switch (phase) {
        case 'start':
          if (isWs(c)) break;
          if (c !== 0x7b) {
            this.fail('not a JSON object');
            return i;
          }
          this.phase = 'key';
          break;
        case 'key':
          if (isWs(c)) break;
          if (c === 0x7d && this.first) {
            this.phase = 'done';
            this.closedAt = i;
            break;
          }
          if (c !== Q) {
            this.fail('expected a member name');
            return i;
          }
          this.startString(true, true);
          break;
        case 'colon':
          if (isWs(c)) break;
          if (c !== 0x3a) {
            this.fail('expected ":"');
            return i;
          }
          this.phase = 'value';
          break;
        case 'value':
          if (isWs(c)) break;
          this.startValue(c);
          break;
        case 'scalar':
          if (c === 0x2c || c === 0x7d || isWs(c)) {
            this.endValue();
            continue; // the byte belongs to 'after'
          }
          this.keep(c);
          break;
        case 'nested':
          this.keep(c);
          if (c === Q) this.startString(false, this.capture !== undefined, true);
          else if (c === 0x7b || c === 0x5b) this.depth++;
          else if (c === 0x7d || c === 0x5d) {
            this.depth--;
            if (this.depth === 0) this.endValue();
          }
          break;
        case 'after':
          if (isWs(c)) break;
          if (c === 0x2c) this.phase = 'key';
          else if (c === 0x7d) {
            this.phase = 'done';
            this.closedAt = i;
          } else {
            this.fail('expected "," or "}"');
            return i;
          }
          break;
      }
      i++;
    }
    if ((this.phase as Phase) === 'done') return this.closedAt;
    // Malformed at `i` (fail returned before advancing), or still open: bytes before `i` go on.
    return i;
  }

  /** Bytes after the top-level closing brace: only JSON whitespace may follow. */
  private pushAfterEnd(chunk: Buffer): void {
    for (let k = 0; k < chunk.length; k++) {
      if (!isWs(chunk[k] as number)) {
        this.trailing = true;
        this.fail('unexpected bytes after the message');
        return;
      }
    }
  }

  /** The envelope, once every byte has been pushed. */
  result(): Envelope {
    if (this.trailing && !this.refusal) {
      // As scanEnvelope: a response with bytes after it keeps the id of the request it answers.
      const env = classifyEnvelope(this.fields as EnvelopeFields);
      const problem = `malformed JSON: ${this.problem}`;
      return env.kind === 'response'
        ? { kind: 'invalid', problem, answers: env.id }
        : { kind: 'invalid', problem };
    }
    if (this.problem) return { kind: 'invalid', problem: `malformed JSON: ${this.problem}` };
    if (this.phase !== 'done' || this.inString) {
      return { kind: 'invalid', problem: 'malformed JSON: the message ended early' };
    }
    if (this.refusal) {
      const f = this.fields;
      return refusedEnvelope(
        this.refusal,
        f.hasId && !this.idSpoiled ? f.id : undefined,
        requestLike(
          f.hasMethod === true,
          f.hasParams === true,
          f.hasResult === true || f.hasError === true,
          this.variantRequestLike,
        ),
      );
    }
    return classifyEnvelope(this.fields as EnvelopeFields);
  }

  private fail(problem: string): void {
    this.problem ??= problem;
    this.phase = 'bad';
  }

  /** `c` starts a value at depth 1. */
  private startValue(c: number): void {
    this.first = false;
    const k = this.key;
    if (k === 'result') this.fields.hasResult = true;
    else if (k === 'error') this.fields.hasError = true;
    this.capture = k === 'jsonrpc' || k === 'id' || k === 'method' ? [] : undefined;
    this.captureOverflow = false;
    if (c === Q) {
      this.keep(c);
      this.startString(false, this.capture !== undefined);
    } else if (c === 0x7b || c === 0x5b) {
      this.keep(c);
      this.depth = 1;
      this.phase = 'nested';
    } else {
      this.keep(c);
      this.phase = 'scalar';
    }
  }

  private endValue(): void {
    const k = this.key;
    if (k !== undefined && this.capture) {
      let value: unknown;
      const raw = Buffer.from(this.capture);
      try {
        value = this.captureOverflow ? undefined : JSON.parse(raw.toString('utf8'));
      } catch {
        this.fail('malformed value');
        return;
      }
      if (k === 'jsonrpc') this.fields.jsonrpc = value;
      else if (k === 'id') {
        const bytesProblem = idBytesProblem(value, raw);
        if (bytesProblem !== undefined) {
          this.refusal ??= bytesProblem;
          this.idSpoiled = true;
        }
        this.fields.id = value;
        this.fields.hasId = true;
      } else if (k === 'method') {
        this.fields.method = value;
        this.fields.hasMethod = true;
      }
    }
    this.capture = undefined;
    this.key = undefined;
    this.phase = 'after';
  }

  private startString(isKey: boolean, capturing: boolean, nested = false): void {
    this.inString = true;
    this.escape = false;
    this.stringIsKey = isKey;
    if (isKey) {
      this.capture = [Q];
      this.captureOverflow = false;
    } else if (!capturing && !nested) {
      this.capture = undefined;
    }
  }

  /** Inside a string from `i`; returns where reading goes on. */
  private readString(chunk: Buffer, i: number): number {
    let pos = i;
    if (this.escape) {
      // The previous part ended with a backslash: this byte is escaped.
      this.keep(chunk[pos] as number);
      this.escape = false;
      pos++;
    }
    for (;;) {
      const q = chunk.indexOf(Q, pos);
      const end = q === -1 ? chunk.length : q;
      let run = 0;
      for (let k = end - 1; k >= pos && chunk[k] === BS; k--) run++;
      this.keepRange(chunk, pos, end);
      if (q === -1) {
        this.escape = run % 2 === 1;
        return chunk.length;
      }
      this.keep(Q);
      pos = q + 1;
      if (run % 2 === 0) break;
    }
    this.inString = false;
    if (this.stringIsKey) {
      const raw = this.captureOverflow ? undefined : Buffer.from(this.capture ?? []).toString('utf8');
      this.capture = undefined;
      let name: string | undefined;
      try {
        // As scanEnvelope: a name without escapes is its bytes (a raw control byte, which JSON
        // forbids, is then seen as what makes it a variant of a member name).
        name =
          raw === undefined ? undefined : raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
      } catch {
        this.fail('malformed member name');
        return pos;
      }
      // A name longer than the capture cannot be an envelope member nor a case variant of one.
      const member = name === undefined ? undefined : envelopeMember(name);
      const tracked = member === 'variant' ? undefined : name === 'params' ? name : member;
      if (tracked !== undefined) {
        if (this.seen.has(tracked)) {
          this.refusal ??= repeatedMemberProblem(tracked);
          if (tracked === 'id') this.idSpoiled = true;
        }
        this.seen.add(tracked);
        if (tracked === 'params') this.fields.hasParams = true;
      }
      if (member === 'variant') {
        this.refusal ??= caseVariantProblem(name as string);
        const reads = variantOf(name as string);
        if (reads === 'id') this.idSpoiled = true;
        else if (reads === 'method' || reads === 'params') this.variantRequestLike = true;
        this.key = undefined;
      } else this.key = member;
      this.phase = 'colon';
    } else if (this.phase !== 'nested') {
      this.endValue();
    }
    return pos;
  }

  private keep(c: number): void {
    if (!this.capture) return;
    if (this.capture.length >= MAX_CAPTURED_BYTES) this.captureOverflow = true;
    else this.capture.push(c);
  }

  private keepRange(chunk: Buffer, from: number, to: number): void {
    if (!this.capture || from >= to) return;
    if (this.capture.length + (to - from) > MAX_CAPTURED_BYTES) {
      this.captureOverflow = true;
      return;
    }
    for (let k = from; k < to; k++) this.capture.push(chunk[k] as number);
  }
}
