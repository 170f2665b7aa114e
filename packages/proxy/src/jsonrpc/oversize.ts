/**
 * Finding the `id` of a message that was too large to keep, from its first and last bytes.
 * The id is either the first member (`{"jsonrpc":"2.0","id":7,...` or `{"id":7,...`) or the
 * last one (`...,"id":7}`, the order the MCP SDK serialises in). An id inside nested values
 * cannot match either pattern: the head pattern is anchored at the opening brace, the tail
 * pattern at the final closing one.
 */
import type { JsonRpcId } from './envelope.js';

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
