/**
 * Text from outside (a server's tool names and descriptions, the decision log, a policy's keys)
 * as it may be printed to a terminal or written into a YAML comment: control characters (C0, DEL,
 * C1), line and paragraph separators, the bidirectional controls (U+200E/F, U+202A-202E,
 * U+2066-2069) and the zero-width characters (U+200B-200D, U+2060-2064, U+FEFF) become `\uXXXX`. An escape sequence in a tool description must not retitle, clear
 * or recolour the user's terminal when a generated policy is printed, and a bidi control must not
 * show a name reversed.
 *
 * @param text - any string
 * @returns `text` with those characters written as six-character `\uXXXX` escapes; unchanged
 *   (the same string) when it holds none
 */
export function printable(text: string): string {
  return text.replace(
    /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
