/**
 * Measures the classifier against hand labels: accuracy and a confusion matrix.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { classifyTool } from './classifier.js';
import { CATEGORIES, type CatalogServer, type Category } from './types.js';

/** Hand label of one tool. */
export interface Label {
  server: string;
  tool: string;
  category: Category;
}

/** Accuracy over a set of labelled tools. */
export interface Measurement {
  /** Labelled tools compared. */
  total: number;
  correct: number;
  /** correct / total, 0..1. */
  accuracy: number;
  /** Distinct servers among the labelled tools. */
  servers: number;
  /** `matrix[label][predicted]` = number of tools. */
  matrix: Record<Category, Record<Category, number>>;
  /** Every disagreement, for reading. */
  misses: Array<{ server: string; tool: string; label: Category; predicted: Category }>;
}

/**
 * Read hand labels from curation files (`<dir>/<server-id>.json`, `tools.<name>.category`).
 * Entries without a valid category are skipped.
 */
export function readLabels(curationDir: string): Label[] {
  const labels: Label[] = [];
  for (const f of readdirSync(curationDir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const cur = JSON.parse(readFileSync(join(curationDir, f), 'utf8')) as {
      server: string;
      tools: Record<string, { category?: string }>;
    };
    for (const [tool, v] of Object.entries(cur.tools ?? {}))
      if (CATEGORIES.includes(v.category as Category))
        labels.push({ server: cur.server, tool, category: v.category as Category });
  }
  return labels;
}

/**
 * Server ids held out from tuning: those whose id sorts in the last quarter of `ids`.
 */
export function heldOutServers(ids: readonly string[]): Set<string> {
  const sorted = [...ids].sort();
  return new Set(sorted.slice(Math.floor(sorted.length * 0.75)));
}

/**
 * Classify every labelled tool found in `servers` (overrides ignored: the classifier itself is
 * measured) and compare with its label.
 * @param filter keep only labels for which it returns true (e.g. held-out servers).
 */
export function measure(
  servers: readonly CatalogServer[],
  labels: readonly Label[],
  filter: (label: Label) => boolean = () => true,
): Measurement {
  const byKey = new Map<string, CatalogServer['tools'][number]>();
  for (const s of servers) for (const t of s.tools) byKey.set(`${s.id}\u0000${t.name}`, t);
  const matrix = Object.fromEntries(
    CATEGORIES.map((l) => [l, Object.fromEntries(CATEGORIES.map((p) => [p, 0]))]),
  ) as Record<Category, Record<Category, number>>;
  const misses: Measurement['misses'] = [];
  const seenServers = new Set<string>();
  let total = 0;
  let correct = 0;
  for (const label of labels) {
    if (!filter(label)) continue;
    const tool = byKey.get(`${label.server}\u0000${label.tool}`);
    if (!tool) continue;
    const { category: _override, ...input } = tool;
    const predicted = classifyTool(input).category;
    matrix[label.category][predicted]++;
    seenServers.add(label.server);
    total++;
    if (predicted === label.category) correct++;
    else misses.push({ server: label.server, tool: label.tool, label: label.category, predicted });
  }
  return { total, correct, accuracy: total ? correct / total : 0, servers: seenServers.size, matrix, misses };
}

/** The confusion matrix as a Markdown table (rows: hand label, columns: classifier). */
export function formatMatrix(m: Measurement): string {
  const head = `| label \\ predicted | ${CATEGORIES.join(' | ')} | total |`;
  const sep = `|---|${CATEGORIES.map(() => '---:').join('|')}|---:|`;
  const rows = CATEGORIES.map((l) => {
    const row = CATEGORIES.map((p) => m.matrix[l][p]);
    return `| ${l} | ${row.join(' | ')} | ${row.reduce((a, b) => a + b, 0)} |`;
  });
  return [head, sep, ...rows].join('\n');
}
