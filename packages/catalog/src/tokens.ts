/**
 * Splits tool names and text into lower-case word tokens.
 */

/**
 * Tokens of a tool name in any of the usual styles: snake_case, kebab-case, camelCase,
 * PascalCase, dotted and slashed (`mail.send`, `API-get-user`, `linear_createIssue`).
 * @example nameTokens('linear_createIssue') // ['linear', 'create', 'issue']
 */
export function nameTokens(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** Lower-case words of free text (letters, digits, `_` and `-` kept inside words). */
export function words(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9_\s-]/g, ' ')
    .split(/\s+/)
    .filter(Boolean);
}

/**
 * The first run of `n` or more consecutive identical words shared by two texts (compared as
 * {@link words}), or `null`. Used to keep catalogue descriptions in our own words.
 * @param n minimum run length in words (default 6).
 */
export function sharedRun(ours: string, theirs: string, n = 6): string | null {
  const a = words(ours);
  const b = words(theirs);
  const grams = new Set<string>();
  for (let i = 0; i + n <= b.length; i++) grams.add(b.slice(i, i + n).join(' '));
  for (let i = 0; i + n <= a.length; i++) {
    const g = a.slice(i, i + n).join(' ');
    if (grams.has(g)) return g;
  }
  return null;
}
