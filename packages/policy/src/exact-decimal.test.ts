import { describe, expect, it } from 'vitest';
import { isExactDecimal } from './exact-decimal.js';

describe('isExactDecimal', () => {
  it('literals a double holds as written', () => {
    for (const t of [
      '0',
      '-0',
      '100',
      '-2.5',
      '1e3',
      '1E+3',
      '0.1',
      '0.30000000000000004',
      '9007199254740991',
      '9007199254740992',
      '123456789012345',
      '1.50',
      '1500e-3',
      '5e-324',
      '1.7976931348623157e308',
    ])
      expect(isExactDecimal(t), t).toBe(true);
  });

  it('literals that round, overflow or underflow, and text that is not a JSON number', () => {
    for (const t of [
      '9007199254740993',
      '1098765432109876543',
      '-1098765432109876543',
      '100.00000000000000001',
      '3.14159265358979323846',
      '1e400',
      '-1e400',
      '1e-400',
      '2e-324',
      '+5',
      '05',
      ' 5',
      '0x10',
      '.5',
      '1.',
      'Infinity',
      '',
    ])
      expect(isExactDecimal(t), t).toBe(false);
  });
});
