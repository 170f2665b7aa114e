/**
 * `s` on one line (whitespace runs, line breaks included, collapsed to one space), cut to `max`
 * characters (UTF-16 code units) with `…` as the last one when it was longer.
 */
export function oneLine(s: string, max = 300): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
