import { describe, expect, it } from 'vitest';
import { skippedNote } from '../src/commands/scan-notes.js';

describe('skippedNote', () => {
  it('says what happens to calls of a tool left out of a generated policy', () => {
    expect(skippedNote({ name: 'delete_*', reason: 'a glob' }, 'scaffold')).toBe(
      'warning: tool "delete_*" left out of the scaffold, so default: allow lets it run without rules (a glob)',
    );
    // The proxy refuses an empty tool name (-32602): it does not run at all.
    expect(skippedNote({ name: '', reason: 'empty' }, 'policy')).toBe(
      'warning: tool "" left out of the policy, the proxy refuses calls to a tool with an empty name anyway (empty)',
    );
  });
});
