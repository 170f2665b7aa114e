/**
 * Reads the envelope of a JSON-RPC 2.0 message (jsonrpc, id, method, result/error) straight
 * from its bytes, without materialising `params` or `result`. The proxy forwards most
 * messages untouched, so it only needs to know what a message is, not what it carries; a
 * 20 MiB tool result is skipped at `indexOf` speed instead of being parsed into objects.
 *
 * Classification follows JSON-RPC 2.0 section 4 and MCP spec 2025-11-25 "Base Protocol":
 * a request has `method` and `id`; a notification has `method` and no `id`; a response has
 * `id` and exactly one of `result`/`error`. A JSON array is a batch (JSON-RPC 2.0 section 6;
 * removed from MCP in 2025-06-18 but still carried).
 */

import { isUtf8 } from 'node:buffer';
import { isExactDecimal } from '@tollgate/policy';
import { lastColons, ScanError, skipString, skipValue, skipWs } from './json-text.js';
import { caseVariantOf, invisibleVariantOf, readsAs } from './member-names.js';

/** A JSON-RPC id: string or number (null only in error responses to unreadable requests). */
export type JsonRpcId = string | number | null;

/** What kind of message a line holds. */
export type MessageKind = 'request' | 'notification' | 'response' | 'batch' | 'invalid';

/** The envelope of one message. Values are parsed only for small fields. */
export interface Envelope {
  readonly kind: MessageKind;
  /** The `id` member, when present. */
  readonly id?: JsonRpcId;
  /** The `method` member of a request or notification. */
  readonly method?: string;
  /** For responses: true when the response carries `error` rather than `result`. */
  readonly isError?: boolean;
  /**
   * For `invalid`: why. An invalid message may still carry `id`: a request refused with its id, or
   * a response followed by stray bytes (the id of the request it was meant to answer).
   */
  readonly problem?: string;
  /**
   * For `invalid`: the id of the request a malformed answer was meant to answer: a response
   * followed by stray bytes (`{...} 0`), or a message with an `id` and no `method` that is no
   * response (both `result` and `error`, neither, or no `jsonrpc: "2.0"`). Other invalid messages
   * may carry an `id` too (a server request without `jsonrpc`, say), which names no request of
   * the client's.
   */
  readonly answers?: JsonRpcId;
  /**
   * For a request with `params`: the member names written in it, at any depth (`:` outside
   * strings), for {@link countMembers} to compare with what `JSON.parse` kept.
   */
  readonly paramsMembers?: number;
}

/**
 * Members of every object in a parsed value, at any depth. Fewer than the names written
 * ({@link Envelope.paramsMembers}) means a name appeared twice in one object, which `JSON.parse`
 * read as its last occurrence and some decoders as their first. Iterative.
 */
export function countMembers(value: unknown): number {
  let n = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (let k = 0; k < v.length; k++) stack.push(v[k]);
    } else {
      const keys = Object.keys(v);
      n += keys.length;
      for (let k = 0; k < keys.length; k++) stack.push((v as Record<string, unknown>)[keys[k]!]);
    }
  }
  return n;
}

/** Matches a UTF-16 surrogate that is not half of a pair (in `u` mode pairs are one code point). */
const LONE_SURROGATE = /\p{Cs}/u;

const Q = 0x22; // "
const BS = 0x5c; // \

/**
 * Scans one message. Never throws: malformed input yields `{ kind: 'invalid', problem }`.
 * Structural JSON errors are detected (unbalanced brackets, unterminated strings, missing
 * colons or commas, trailing bytes); number and literal spelling inside skipped values is not
 * checked, since those bytes go to a peer that parses them anyway.
 */
export function scanEnvelope(buf: Buffer): Envelope {
  try {
    let i = skipWs(buf, 0);
    const first = buf[i];
    if (first === 0x5b /* [ */) {
      const end = skipValue(buf, i);
      if (skipWs(buf, end) !== buf.length) throw new ScanError('unexpected bytes after the message');
      return { kind: 'batch' };
    }
    if (first !== 0x7b /* { */) {
      // Valid JSON that is no object (`"x"`, `5`) is an invalid request; anything else (a byte
      // order mark, stray text) is not JSON at all (JSON-RPC 2.0 section 5.1: -32700).
      let json = true;
      try {
        JSON.parse(buf.toString('utf8'));
      } catch {
        json = false;
      }
      return json
        ? { kind: 'invalid', problem: 'not a JSON object or array' }
        : { kind: 'invalid', problem: 'malformed JSON: not a JSON value' };
    }
    let jsonrpc: unknown;
    let id: JsonRpcId | undefined;
    let hasId = false;
    let method: unknown;
    let hasMethod = false;
    let hasResult = false;
    let hasError = false;
    let paramsMembers: number | undefined;
    let seen = 0;
    // A refused member (written twice, a case variant) is reported once the whole message is read,
    // with the id when that is unambiguous, so the client's request is answered rather than left
    // waiting; an `id` written twice or as a variant (`"ID"`) leaves the answer without one.
    let refusal: string | undefined;
    let idSpoiled = false;
    let variantRequestLike = false;
    i = skipWs(buf, i + 1);
    if (buf[i] === 0x7d /* } */) {
      i++;
    } else {
      for (;;) {
        if (buf[i] !== Q) throw new ScanError('expected a member name');
        const keyStart = i;
        const keyEnd = skipString(buf, i);
        const member = memberOf(buf, i + 1, keyEnd - 1);
        i = skipWs(buf, keyEnd);
        if (buf[i] !== 0x3a /* : */) throw new ScanError('expected ":"');
        const vStart = skipWs(buf, i + 1);
        const vEnd = skipValue(buf, vStart);
        if (member !== Member.Other && member !== Member.CaseVariant) {
          // A repeated member is read as its first occurrence by some decoders and as its last by
          // JavaScript's: the proxy cannot know which the server acts on.
          if (seen & (1 << member)) {
            refusal ??= repeatedMemberProblem(MEMBER_NAMES[member]);
            if (member === Member.Id) idSpoiled = true;
          }
          seen |= 1 << member;
        }
        switch (member) {
          case Member.Params:
            paramsMembers = lastColons();
            break;
          case Member.Jsonrpc:
            jsonrpc = bytesAre(buf, vStart, vEnd, '"2.0"') ? '2.0' : parseSlice(buf, vStart, vEnd);
            break;
          case Member.Id:
            id = parseSlice(buf, vStart, vEnd) as JsonRpcId;
            hasId = true;
            // A number id the double rounds (`1e-400` reads as 0, `1.00000000000000000001` as 1)
            // comes back from a JavaScript server as another id, answering another request.
            // (Infinity and integers past 2^53 get their own message from idProblem.)
            if (
              typeof id === 'number' &&
              !shortInteger(buf, vStart, vEnd) &&
              Number.isFinite(id) &&
              (!Number.isInteger(id) || Number.isSafeInteger(id)) &&
              !isExactDecimal(buf.toString('latin1', vStart, vEnd))
            )
              return {
                kind: 'invalid',
                problem: 'id is a number a double does not hold exactly; the server could not echo it back',
              };
            // Guarded here too: every message has an id, and this call must stay off the hot path.
            if (typeof id === 'string' && id.includes('\uFFFD') && idBytesProblem(id, buf, vStart, vEnd)) {
              return { kind: 'invalid', problem: ID_NOT_UTF8 };
            }
            break;
          case Member.Method:
            // The one method every call carries, without building its string per message.
            method = bytesAre(buf, vStart, vEnd, '"tools/call"')
              ? 'tools/call'
              : parseSlice(buf, vStart, vEnd);
            hasMethod = true;
            break;
          case Member.Result:
            hasResult = true;
            break;
          case Member.Error:
            hasError = true;
            break;
          case Member.CaseVariant: {
            const name = memberName(buf, keyStart, keyEnd);
            refusal ??= caseVariantProblem(name) as string;
            const reads = variantOf(name);
            if (reads === 'id') idSpoiled = true;
            else if (reads === 'method' || reads === 'params') variantRequestLike = true;
            break;
          }
        }
        i = skipWs(buf, vEnd);
        if (buf[i] === 0x2c /* , */) {
          i = skipWs(buf, i + 1);
          continue;
        }
        if (buf[i] === 0x7d) {
          i++;
          break;
        }
        throw new ScanError('expected "," or "}"');
      }
    }
    if (refusal !== undefined) {
      if (skipWs(buf, i) !== buf.length) throw new ScanError('unexpected bytes after the message');
      return refusedEnvelope(
        refusal,
        hasId && !idSpoiled ? id : undefined,
        requestLike(hasMethod, paramsMembers !== undefined, hasResult || hasError, variantRequestLike),
      );
    }
    const env = classifyEnvelope({
      jsonrpc,
      id,
      hasId,
      method,
      hasMethod,
      hasResult,
      hasError,
      hasParams: paramsMembers !== undefined,
    });
    if (skipWs(buf, i) !== buf.length) {
      // A response with bytes after it is no message; its id still names the request it was
      // meant to answer, which can be answered with an error instead of waiting forever.
      const problem = 'malformed JSON: unexpected bytes after the message';
      return env.kind === 'response'
        ? { kind: 'invalid', problem, answers: env.id }
        : { kind: 'invalid', problem };
    }
    // Built member by member: a spread of `env` (whose shape varies with its kind) took a slow,
    // megamorphic copy that cost more than the whole scan (measured: 2.5 us against 0.5 us).
    return paramsMembers !== undefined && env.kind === 'request'
      ? { kind: 'request', id: env.id, method: env.method, paramsMembers }
      : env;
  } catch (err) {
    if (err instanceof ScanError) return { kind: 'invalid', problem: `malformed JSON: ${err.message}` };
    throw err;
  }
}

/**
 * The envelope of a message refused for one of its member names (a JSON-RPC member written twice,
 * a case or invisible-character variant of one): invalid, with `id` when the message carried one
 * usable id, so that a request is answered with an error instead of left waiting. Shared by
 * {@link scanEnvelope} and the streaming reader in envelope-stream.ts.
 *
 * @param id the message's id, or undefined when it had none or it is ambiguous (written twice,
 *   next to a variant of `id`)
 * @param requestLike see {@link requestLike}: its id is the sender's own (`id` set); otherwise it
 *   is taken for a response (`answers` set)
 */
export function refusedEnvelope(problem: string, id: unknown, requestLike: boolean): Envelope {
  if (id === undefined || idProblem(id) !== undefined) return { kind: 'invalid', problem };
  // A response (see requestLike) is never answered; the request it answers is, with an error
  // (see classifyEnvelope).
  return requestLike
    ? { kind: 'invalid', problem, id: id as JsonRpcId }
    : { kind: 'invalid', problem, answers: id as JsonRpcId };
}

/**
 * Whether a refused message is taken for a request (its id is the sender's own: the error goes
 * back to it) rather than a response (its id is the peer's: the peer's request is failed), for
 * {@link refusedEnvelope}: it has `method` or `params`, or, without `result` and `error`, a
 * variant of either (`"METHOD"` beside `"result"` is a response with a stray member).
 */
export function requestLike(
  hasMethod: boolean,
  hasParams: boolean,
  hasAnswer: boolean,
  variantOfMethodOrParams: boolean,
): boolean {
  return hasMethod || hasParams || (variantOfMethodOrParams && !hasAnswer);
}

/** The top-level members of a message that decide what it is (see {@link classifyEnvelope}). */
export interface EnvelopeFields {
  /** Parsed value of `jsonrpc`. */
  readonly jsonrpc: unknown;
  /** Parsed value of `id`, when `hasId`. */
  readonly id?: unknown;
  readonly hasId: boolean;
  /** Parsed value of `method`, when `hasMethod`. */
  readonly method?: unknown;
  readonly hasMethod: boolean;
  readonly hasResult: boolean;
  readonly hasError: boolean;
  /** A top-level `params` member is present (a request's mark, never an answer's). */
  readonly hasParams?: boolean;
}

/**
 * Request, notification, response or invalid, from the top-level members (JSON-RPC 2.0
 * section 4; MCP spec 2025-11-25 "Base Protocol"). Shared by {@link scanEnvelope} and the
 * streaming reader in envelope-stream.ts.
 */
export function classifyEnvelope(f: EnvelopeFields): Envelope {
  const { jsonrpc, hasId, hasMethod, hasResult, hasError, hasParams, method } = f;
  const id = f.id as JsonRpcId | undefined;
  // An id without a method (and without params, a request's mark) is an answer, however
  // malformed: the request it names can be answered with an error instead of waiting forever.
  const answers =
    hasId && !hasMethod && hasParams !== true && idProblem(id) === undefined
      ? { answers: id as JsonRpcId }
      : {};
  if (jsonrpc !== '2.0')
    return { kind: 'invalid', problem: 'jsonrpc must be "2.0"', ...(hasId ? { id } : {}), ...answers };
  if (hasId) {
    const problem = idProblem(id);
    if (problem !== undefined) return { kind: 'invalid', problem };
  }
  if (hasMethod) {
    if (typeof method !== 'string') {
      return { kind: 'invalid', problem: 'method must be a string', ...(hasId ? { id } : {}) };
    }
    if (!hasId) return { kind: 'notification', method };
    // JSON-RPC 2.0 section 4: numbers SHOULD NOT have fractional parts; MCP's RequestId is a string
    // or an integer (the SDK's RequestIdSchema), and an SDK server drops `"id": 1.5` unanswered: the
    // request is answered here (its id echoes exactly: isExactDecimal) rather than left waiting.
    if (typeof id === 'number' && !Number.isInteger(id)) {
      return { kind: 'invalid', problem: 'a request id must be a string or an integer', id };
    }
    return { kind: 'request', id: id as JsonRpcId, method };
  }
  if (hasId && hasResult !== hasError) {
    return { kind: 'response', id: id as JsonRpcId, isError: hasError };
  }
  return {
    kind: 'invalid',
    problem:
      hasId && hasResult && hasError
        ? 'a response with both result and error'
        : 'neither a request, a notification nor a response',
    ...(hasId ? { id } : {}),
    ...answers,
  };
}

/**
 * Why a parsed `id` value cannot be used, or undefined when it can. An id must be a string, a
 * number or null (JSON-RPC 2.0 section 4), and one the peer cannot echo back as the same value
 * cannot be matched to its answer (which would then pass unfiltered or unsettled): a number too
 * large for a double (`1e400` reads as Infinity and is echoed as null), an integer past 2^53
 * (`9007199254740993` reads as ...992), or a string with a lone surrogate (echoed as U+FFFD).
 * Used by {@link classifyEnvelope} and by the HTTP listener before a body reaches the SDK.
 */
export function idProblem(id: unknown): string | undefined {
  if (id === null) return undefined;
  if (typeof id === 'number') {
    if (!Number.isFinite(id)) return 'id must be a finite number';
    if (Number.isInteger(id) && !Number.isSafeInteger(id)) return 'an integer id must be within +-(2^53 - 1)';
    return undefined;
  }
  if (typeof id !== 'string') return 'id must be a string or a number';
  return LONE_SURROGATE.test(id) ? 'id must not contain a lone surrogate' : undefined;
}

/** True for `buf[from, to)` of at most 15 digits, after an optional `-`: an id that reads exactly. */
function shortInteger(buf: Buffer, from: number, to: number): boolean {
  if (buf[from] === 0x2d) from++;
  if (to - from > 15 || to === from) return false;
  for (let k = from; k < to; k++) {
    const b = buf[k] as number;
    if (b < 0x30 || b > 0x39) return false;
  }
  return true;
}

/** The top-level members the envelope is made of; `Other` for any other name. */
const Member = {
  Other: 0,
  Jsonrpc: 1,
  Id: 2,
  Method: 3,
  Result: 4,
  Error: 5,
  CaseVariant: 6,
  Params: 7,
} as const;

/** Names of the members, for the duplicate-member problem text. */
const MEMBER_NAMES = ['', 'jsonrpc', 'id', 'method', 'result', 'error', '', 'params'] as const;
type Member = (typeof Member)[keyof typeof Member];

/** The JSON-RPC member names, `params` included: a case variant of any of them is refused. */
const ENVELOPE_NAMES: readonly string[] = ['jsonrpc', 'id', 'method', 'params', 'result', 'error'];

/** The envelope member a top-level name stands for: `jsonrpc`, `id`, `method`, `result` or `error`. */
export type EnvelopeMemberName = 'jsonrpc' | 'id' | 'method' | 'result' | 'error';

/**
 * What a decoded top-level member name means to the envelope: the member it is, `'variant'` when
 * it differs from a JSON-RPC member name (`params` included) only by case (refused: decoders that
 * ignore case, such as Go's `encoding/json`, would read it as that member; see member-names.ts),
 * or undefined for any other name. The one lookup of both readers, {@link scanEnvelope} (which
 * compares plain names as bytes first) and the streaming reader of envelope-stream.ts.
 */
export function envelopeMember(name: string): EnvelopeMemberName | 'variant' | undefined {
  switch (name) {
    case 'jsonrpc':
    case 'id':
    case 'method':
    case 'result':
    case 'error':
      return name;
    default:
      return readsAs(name, ENVELOPE_NAMES) === undefined ? undefined : 'variant';
  }
}

/**
 * The JSON-RPC member name (`params` included) that a case or invisible-character variant reads
 * as to a lenient decoder (`"METHOD"` reads as `method`), or undefined when `name` is no variant.
 */
export function variantOf(name: string): string | undefined {
  return readsAs(name, ENVELOPE_NAMES);
}

/**
 * The problem text for a top-level member name that is a case variant of a JSON-RPC member, or
 * undefined when `name` is not one.
 */
export function caseVariantProblem(name: string): string | undefined {
  const variant = caseVariantOf(name, ENVELOPE_NAMES);
  if (variant !== undefined) {
    return `member name ${JSON.stringify(name)} differs from "${variant}" only by case (decoders that ignore case would read it as that member)`;
  }
  const invisible = invisibleVariantOf(name, ENVELOPE_NAMES);
  if (invisible === undefined) return undefined;
  return `member name ${JSON.stringify(name)} differs from "${invisible}" only by invisible characters (decoders that stop at NUL or trim would read it as that member)`;
}

/**
 * The problem text for a JSON-RPC member (`jsonrpc`, `id`, `method`, `params`, `result`, `error`)
 * written twice at the top level: decoders differ on whether the first or the last occurrence
 * counts (RFC 8259 section 4: names SHOULD be unique; behaviour otherwise is unpredictable).
 */
export function repeatedMemberProblem(name: string): string {
  return `member "${name}" appears twice (decoders differ on which one counts)`;
}

/** Problem text of an id whose bytes are not valid UTF-8 (see {@link idBytesProblem}). */
export const ID_NOT_UTF8 = 'id must be valid UTF-8';

/**
 * `id` parsed from `raw[from, to)` (its JSON text): a string id whose bytes are not valid UTF-8
 * decodes to U+FFFD here and to something else (or an error) in other parsers, so the peer's echo
 * of the id would not match it. Returns {@link ID_NOT_UTF8} then, else undefined. The bytes are
 * only looked at when the id holds a U+FFFD (every message has an id: no view is made otherwise).
 */
export function idBytesProblem(id: unknown, raw: Buffer, from = 0, to = raw.length): string | undefined {
  return typeof id === 'string' && id.includes('\uFFFD') && !isUtf8(raw.subarray(from, to))
    ? ID_NOT_UTF8
    : undefined;
}

const MEMBER_OF_NAME: Readonly<Record<EnvelopeMemberName | 'variant', Member>> = {
  jsonrpc: Member.Jsonrpc,
  id: Member.Id,
  method: Member.Method,
  result: Member.Result,
  error: Member.Error,
  variant: Member.CaseVariant,
};

/**
 * True when `buf[from, to)` has a byte that may make a name a variant of a JSON-RPC member: A-Z,
 * non-ASCII, a space (`"method "`, which a decoder that trims names reads as `method`), DEL or a
 * raw control byte (no JSON, but a decoder that stops at a NUL reads up to it).
 */
function mayFold(buf: Buffer, from: number, to: number): boolean {
  for (let k = from; k < to; k++) {
    const b = buf[k] as number;
    if (b >= 0x7f || b <= 0x20 || (b >= 0x41 && b <= 0x5a)) return true;
  }
  return false;
}

/** True when `buf[from, to)` holds exactly the ASCII bytes of `name`. */
function bytesAre(buf: Buffer, from: number, to: number, name: string): boolean {
  if (to - from !== name.length) return false;
  for (let k = 0; k < name.length; k++) if (buf[from + k] !== name.charCodeAt(k)) return false;
  return true;
}

/**
 * Which envelope member the name in `buf[from, to)` (between its quotes) is. The name is
 * compared as JSON text means it: `"\u0069d"` is `id` to every JSON parser, so an escaped
 * name is decoded before comparing (otherwise a request spelled that way would pass for a
 * notification here and reach the server as a `tools/call` nobody evaluated). Plain names,
 * which is all of them in practice, are compared byte by byte without decoding.
 */
function memberOf(buf: Buffer, from: number, to: number): Member {
  for (let k = from; k < to; k++) {
    if (buf[k] === BS) {
      let name: unknown;
      try {
        name = JSON.parse(buf.toString('utf8', from - 1, to + 1));
      } catch {
        throw new ScanError('malformed member name');
      }
      return memberOfName(name as string);
    }
  }
  if (mayFold(buf, from, to)) return memberOfName(buf.toString('utf8', from, to));
  switch (to - from) {
    case 2:
      return bytesAre(buf, from, to, 'id') ? Member.Id : Member.Other;
    case 5:
      return bytesAre(buf, from, to, 'error') ? Member.Error : Member.Other;
    case 6:
      return bytesAre(buf, from, to, 'method')
        ? Member.Method
        : bytesAre(buf, from, to, 'params')
          ? Member.Params
          : bytesAre(buf, from, to, 'result')
            ? Member.Result
            : Member.Other;
    case 7:
      return bytesAre(buf, from, to, 'jsonrpc') ? Member.Jsonrpc : Member.Other;
    default:
      return Member.Other;
  }
}

/**
 * The member name whose JSON text (quotes included) is `buf[from, to)`, decoded; a name holding a
 * raw control byte (which JSON forbids, so `JSON.parse` refuses it) is taken as its bytes.
 */
function memberName(buf: Buffer, from: number, to: number): string {
  try {
    return JSON.parse(buf.toString('utf8', from, to)) as string;
  } catch {
    return buf.toString('utf8', from + 1, to - 1);
  }
}

function memberOfName(name: string): Member {
  if (name === 'params') return Member.Params;
  const m = envelopeMember(name);
  return m === undefined ? Member.Other : MEMBER_OF_NAME[m];
}

/**
 * The JSON value in `buf[from, to)`. The values read here are short strings (`"2.0"`, a method
 * name, a string id) and integer ids: those are decoded straight from the bytes when they hold
 * no escape (no allocation of an intermediate string for `JSON.parse`); anything else goes
 * through `JSON.parse`.
 */
function parseSlice(buf: Buffer, from: number, to: number): unknown {
  const first = buf[from];
  if (first === Q && to - from >= 2 && buf[to - 1] === Q) {
    let plain = true;
    for (let k = from + 1; k < to - 1; k++) {
      const b = buf[k] as number;
      if (b === BS || b < 0x20) {
        plain = false;
        break;
      }
    }
    if (plain) return buf.toString('utf8', from + 1, to - 1);
  } else if (
    first !== undefined &&
    ((first >= 0x31 && first <= 0x39) || (first === 0x30 && to - from === 1))
  ) {
    // A positive integer without leading zeros, short enough to be exact.
    if (to - from <= 15) {
      let n = 0;
      let k = from;
      for (; k < to; k++) {
        const d = (buf[k] as number) - 0x30;
        if (d < 0 || d > 9) break;
        n = n * 10 + d;
      }
      if (k === to) return n;
    }
  }
  try {
    return JSON.parse(buf.toString('utf8', from, to));
  } catch {
    throw new ScanError('malformed value');
  }
}
