/**
 * Where an SSE event ends, for the per-message cap in upstream mode: every line ending SSE allows
 * (CRLF, LF, a lone CR), also when the two line ends of an event's end arrive in two chunks.
 */
import { describe, expect, it } from 'vitest';
import { lastEventEnd } from '../../src/http/upstream.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const last = (s: string) => s.charCodeAt(s.length - 1);

describe('lastEventEnd', () => {
  it('finds the last blank line with LF, CRLF or CR line endings', () => {
    expect(lastEventEnd(-1, bytes('data: a\n\ndata: b'))).toBe(7);
    expect(lastEventEnd(-1, bytes('data: a\r\n\r\ndata: b'))).toBe(8);
    // CR only: the ending the cap used to miss, counting every event of the stream as one.
    expect(lastEventEnd(-1, bytes('data: a\r\rdata: b'))).toBe(7);
    expect(lastEventEnd(-1, bytes('data: a\n\rdata: b'))).toBe(7);
    expect(lastEventEnd(-1, bytes('data: a\r\ndata: b\r\n'))).toBe(-1);
    expect(lastEventEnd(-1, bytes('data: a\rdata: b\r'))).toBe(-1);
  });

  it('sees a blank line split across two chunks', () => {
    for (const [first, second] of [
      ['data: a\n', '\ndata: b'],
      ['data: a\r', '\rdata: b'],
      ['data: a\n', '\r\ndata: b'],
      ['data: a\r\n', '\r\ndata: b'],
    ] as const)
      expect(lastEventEnd(last(first), bytes(second)), JSON.stringify([first, second])).toBe(0);
    expect(lastEventEnd(last('data: a\r'), bytes('\ndata: b'))).toBe(-1);
    expect(lastEventEnd(-1, bytes('\ndata: b'))).toBe(-1);
  });
});
