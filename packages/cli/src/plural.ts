/** `n` and `word`, with an `s` unless `n` is 1: `1 error`, `3 errors`. */
export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
