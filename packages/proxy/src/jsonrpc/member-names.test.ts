import { describe, expect, it } from 'vitest';
import { caseCollision, caseVariantOf, foldName, isFoldStable } from './member-names.js';

describe('member names read regardless of case', () => {
  it('folds as Unicode simple case folding does, long S and Kelvin sign included', () => {
    expect(foldName('PARAMS')).toBe('params');
    expect(foldName('param\u017f')).toBe('params');
    expect(foldName('\u212aey')).toBe('key');
    expect(foldName('Ωmega')).toBe(foldName('\u2126mega'));
    // Simple folding only, as Go compares: no ß/ss, no dotless or dotted i with i.
    expect(foldName('ß')).not.toBe(foldName('ss'));
    expect(foldName('ß')).toBe(foldName('\u1e9e'));
    expect(foldName('ı')).not.toBe(foldName('i'));
    expect(foldName('İ')).not.toBe(foldName('i'));
    expect(foldName('a-b.c_1')).toBe('a-b.c_1');
    expect(isFoldStable('file_path-2')).toBe(true);
    expect(isFoldStable('filePath')).toBe(false);
    expect(isFoldStable('café')).toBe(false);
  });

  it('names a case variant of a member, never the member itself', () => {
    expect(caseVariantOf('Name', ['name', 'arguments'])).toBe('name');
    expect(caseVariantOf('ARGUMENTS', ['name', 'arguments'])).toBe('arguments');
    expect(caseVariantOf('name', ['name', 'arguments'])).toBeUndefined();
    expect(caseVariantOf('Names', ['name', 'arguments'])).toBeUndefined();
  });

  it('finds names equal regardless of case in any object of a value, at any depth', () => {
    expect(caseCollision({ text: 'a', TEXT: 'b' })).toBe('"text" and "TEXT"');
    expect(caseCollision({ a: [{ x: 1 }, { deep: { pa\u017fs: 1, pass: 2 } }] })).toBe('"paſs" and "pass"');
    expect(caseCollision({ filePath: 1, file_path: 2, FilePaths: 3 })).toBeUndefined();
    expect(caseCollision({ a: 1, b: { c: [1, 2, { d: 'D' }] } })).toBeUndefined();
    // Invisible characters too: a decoder that trims names or stops at a NUL reads one name.
    expect(caseCollision({ message: 'safe', 'message\u200b': 'evil' })).toBe('"message" and "message\u200b"');
    expect(caseCollision({ message: 'safe', 'message ': 'evil' })).toBe('"message" and "message "');
    expect(caseCollision({ message: 'safe', 'message\u0000': 'evil' })).toBe(
      '"message" and "message\\u0000"',
    );
    expect(caseCollision({ 'a b': 1, ab: 2 })).toBe('"a b" and "ab"');
    expect(caseCollision({ 'a-b': 1, a_b: 2, 'a.b': 3 })).toBeUndefined();
    let deep: unknown = { Z: 1, z: 2 };
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(caseCollision({ args: deep })).toBe('"Z" and "z"');
  });
});
