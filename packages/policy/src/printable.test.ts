import { describe, expect, it } from 'vitest';
import { formatPolicyError } from './errors.js';
import { printable } from './printable.js';

describe('printable', () => {
  it('escapes control, bidi, separator and zero-width characters, and leaves the rest alone', () => {
    expect(printable('\u001b]0;x\u0007\u001b[2J')).toBe('\\u001b]0;x\\u0007\\u001b[2J');
    expect(printable('a\u202eb\u2066c\u200bd\u200de\u2060f\ufeffg\u2028h\u0085i')).toBe(
      'a\\u202eb\\u2066c\\u200bd\\u200de\\u2060f\\ufeffg\\u2028h\\u0085i',
    );
    const plain = 'read_file é 😀 名前';
    expect(printable(plain)).toBe(plain);
  });

  it('formatPolicyError shows a key with a bidi override escaped, keeping its hint line', () => {
    const text = formatPolicyError({
      file: 'p.yaml',
      line: 3,
      column: 3,
      code: 'invisible-text',
      severity: 'warning',
      message: 'tool key "evil\u202etxt.exe" ends with an invisible character',
      hint: 'write the tool name alone',
    });
    expect(text).toBe(
      'p.yaml:3:3: warning invisible-text: tool key "evil\\u202etxt.exe" ends with an invisible character\n  hint: write the tool name alone',
    );
  });
});
