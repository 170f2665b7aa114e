/**
 * Reads catalogue files. Every error names the file, line and column of the offending YAML node.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { catalogServerSchema } from './schema.js';
import type { CatalogServer } from './types.js';

/** A problem in a catalogue file. `message` starts with `file:line:col:` (1-based). */
export class CatalogError extends Error {
  override readonly name = 'CatalogError';
  constructor(
    message: string,
    /** File the problem is in. */
    readonly file: string,
    /** 1-based line. */
    readonly line: number,
    /** 1-based column. */
    readonly column: number,
  ) {
    super(`${file}:${line}:${column}: ${message}`);
  }
}

/**
 * Parse and validate the text of one catalogue file.
 * @param text YAML text.
 * @param filename Used in error messages.
 * @returns The validated server.
 * @throws {CatalogError} on a YAML syntax error, duplicate key, or schema violation (first problem,
 *   with every further problem appended to the message one per line).
 */
export function parseCatalog(text: string, filename = '<inline>'): CatalogServer {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const at = (offset: number) => lineCounter.linePos(offset);
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const pos = at(first.pos[0]);
    const rest = doc.errors.slice(1).map((e) => {
      const p = at(e.pos[0]);
      return `\n${filename}:${p.line}:${p.col}: ${e.message.split('\n')[0]}`;
    });
    throw new CatalogError(first.message.split('\n')[0] + rest.join(''), filename, pos.line, pos.col);
  }
  const result = catalogServerSchema.safeParse(doc.toJS({ maxAliasCount: 100 }));
  if (result.success) return result.data as CatalogServer;
  const located = result.error.issues.map((issue) => {
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    // Walk up to the nearest node that exists (a missing key points at its parent mapping).
    let offset = 0;
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) {
        offset = node.range[0];
        break;
      }
    }
    const pos = at(offset);
    const where = path.length ? ` (at ${path.join('.')})` : '';
    return { pos, text: `${issue.message}${where}` };
  });
  const first = located[0]!;
  const rest = located.slice(1).map((l) => `\n${filename}:${l.pos.line}:${l.pos.col}: ${l.text}`);
  throw new CatalogError(first.text + rest.join(''), filename, first.pos.line, first.pos.col);
}

/**
 * Read one catalogue file from disk.
 * @throws {CatalogError} when the file is invalid; Node's `ENOENT` error when it does not exist;
 *   for any other read failure (`EACCES`, `EISDIR`...) an error whose message names the file
 *   (`cannot read the catalogue file <path>: EACCES`) and keeps Node's `code` and `path`.
 */
export function loadCatalogFile(path: string): CatalogServer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' || e.code === undefined) throw err;
    throw Object.assign(new Error(`cannot read the catalogue file ${path}: ${e.code}`), {
      code: e.code,
      path,
    });
  }
  return parseCatalog(text, path);
}

/**
 * Read every `*.yaml` file of a catalogue directory, sorted by server id.
 * @param dir e.g. the repository's `catalog/`.
 * @throws {CatalogError} on the first invalid file, or when a file's `id` differs from its file name.
 */
export function loadCatalog(dir: string): CatalogServer[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .sort();
  const servers = files.map((f) => {
    const server = loadCatalogFile(join(dir, f));
    const stem = f.replace(/\.ya?ml$/, '');
    if (server.id !== stem)
      throw new CatalogError(`id "${server.id}" does not match the file name "${stem}"`, join(dir, f), 1, 1);
    return server;
  });
  return servers.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
