/**
 * Finding the `id` of a message that was too large to keep, from its first and last bytes.
 * The id is either the first member (`{"jsonrpc":"2.0","id":7,...` or `{"id":7,...`) or the
 * last one (`...,"id":7}`, the order the MCP SDK serialises in). An id inside nested values
 * cannot match either pattern: the head pattern is anchored at the opening brace, the tail
 * pattern at the final closing one.
 */
import type { JsonRpcId } from './envelope.js';
import { ScanError, skipString, skipValue, skipWs } from './json-text.js';

const ID = String.raw`(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*")`;
const HEAD = new RegExp(String.raw`^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*` + ID);
const TAIL = new RegExp(String.raw`[,{]\s*"id"\s*:\s*` + ID + String.raw`\s*\}\s*$`);

/** The id of a dropped message, or undefined when neither edge shows it. */
export function findIdInEdges(head: Buffer, tail: Buffer): JsonRpcId | undefined {
  const m = HEAD.exec(head.toString('utf8')) ?? TAIL.exec(tail.toString('utf8'));
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
  try {
    let i = skipWs(head, 0);
    if (head[i] !== 0x7b /* { */) return undefined;
    i = skipWs(head, i + 1);
    for (;;) {
      if (head[i] !== 0x22 /* " */) return undefined;
      const nameEnd = skipString(head, i);
      const name = JSON.parse(head.toString('utf8', i, nameEnd)) as string;
      if (name === 'method' || name === 'params') return 'request';
      if (name === 'result' || name === 'error') return 'response';
      i = skipWs(head, nameEnd);
      if (head[i] !== 0x3a /* : */) return undefined;
      i = skipWs(head, skipValue(head, skipWs(head, i + 1)));
      if (head[i] !== 0x2c /* , */) return undefined;
      i = skipWs(head, i + 1);
    }
  } catch (err) {
    if (err instanceof ScanError || err instanceof SyntaxError) return undefined;
    throw err;
  }
}
