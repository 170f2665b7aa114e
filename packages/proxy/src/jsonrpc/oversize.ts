/**
 * What a message too large to keep was, from its first and last bytes: its `id` and whether it is
 * a request (or notification) or a response. The head is read member by member from the opening
 * brace, as far as its members are whole (`{"jsonrpc":"2.0","method":"x","id":7,"params":...`);
 * the tail gives the id when it is the last member (`...,"id":7}`, the order the TypeScript MCP SDK
 * serialises in). An id inside nested values matches neither: the head is read at the top level
 * only, and the tail pattern is anchored at the final closing brace.
 */
import { type JsonRpcId, variantOf } from './envelope.js';
import { ScanError, skipString, skipValue, skipWs } from './json-text.js';

const ID = String.raw`(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*")`;
const TAIL = new RegExp(String.raw`[,{]\s*"id"\s*:\s*` + ID + String.raw`\s*\}\s*$`);

/** What the whole top-level members at the start of `head` tell. */
interface HeadMembers {
  /** The first member that tells: `method` or `params` (request), `result` or `error` (response). */
  kind?: 'request' | 'response';
  /** The `id` member, when it is among them and is a string or a number. */
  id?: JsonRpcId;
  /** `id` appears twice, or beside a variant of it (`"ID"`): no id can be trusted. */
  idAmbiguous?: boolean;
}

/** Reads the top-level members of `head` up to the first one that does not end within it. */
function headMembers(head: Buffer): HeadMembers {
  const out: HeadMembers = {};
  let seenId = false;
  try {
    let i = skipWs(head, 0);
    if (head[i] !== 0x7b /* { */) return out;
    i = skipWs(head, i + 1);
    for (;;) {
      if (head[i] !== 0x22 /* " */) return out;
      const nameEnd = skipString(head, i);
      const name = JSON.parse(head.toString('utf8', i, nameEnd)) as string;
      if (out.kind === undefined) {
        if (name === 'method' || name === 'params') out.kind = 'request';
        else if (name === 'result' || name === 'error') out.kind = 'response';
      }
      i = skipWs(head, nameEnd);
      if (head[i] !== 0x3a /* : */) return out;
      const start = skipWs(head, i + 1);
      const end = skipValue(head, start);
      // A value that reaches the end of the head may go on past it.
      if (skipWs(head, end) >= head.length) return out;
      if (name === 'id') {
        if (seenId) out.idAmbiguous = true;
        seenId = true;
        const id = JSON.parse(head.toString('utf8', start, end)) as unknown;
        if (out.id === undefined && (typeof id === 'string' || typeof id === 'number')) out.id = id;
      } else if (variantOf(name) === 'id') out.idAmbiguous = true;
      i = skipWs(head, end);
      if (head[i] !== 0x2c /* , */) return out;
      i = skipWs(head, i + 1);
    }
  } catch (err) {
    if (err instanceof ScanError || err instanceof SyntaxError) return out;
    throw err;
  }
}

/**
 * The id of a dropped message, or undefined when neither edge shows it, or when they show `id`
 * twice or beside a variant of it (`"ID"`).
 */
export function findIdInEdges(head: Buffer, tail: Buffer): JsonRpcId | undefined {
  const members = headMembers(head);
  if (members.idAmbiguous) return undefined;
  const m = TAIL.exec(tail.toString('utf8'));
  // An id at each edge is `id` written twice (the edges of a dropped message do not overlap):
  // which one a server would act on is unknown, as for a message refused whole.
  if (members.id !== undefined) return m?.[1] === undefined ? members.id : undefined;
  if (!m?.[1]) return undefined;
  try {
    const id = JSON.parse(m[1]) as unknown;
    return typeof id === 'string' || typeof id === 'number' ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a dropped message was a request (or notification) or a response, from its first bytes:
 * the first top-level member that tells, `method` or `params` for a request, `result` or `error`
 * for a response (JSON-RPC 2.0 section 4; the MCP SDK writes `{"method":...` and `{"result":...`
 * first). Undefined when the head ends before one of them, or is no JSON object.
 */
export function kindInEdges(head: Buffer): 'request' | 'response' | undefined {
  return headMembers(head).kind;
}
