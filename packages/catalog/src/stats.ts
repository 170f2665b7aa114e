/**
 * Counts of tools per category and risk, per server and across the catalogue.
 */
import { type Classification, classifyTool } from './classifier.js';
import {
  CATEGORIES,
  type CatalogServer,
  type CatalogTool,
  type Category,
  RISKS,
  type Risk,
} from './types.js';

/** Tool counts of one server or of the whole catalogue. */
export interface CategoryCounts {
  tools: number;
  byCategory: Record<Category, number>;
  byRisk: Record<Risk, number>;
  /** Tools decided by a manual override rather than the classifier. */
  overridden: number;
}

/** Result of {@link catalogStats}. */
export interface CatalogStats {
  servers: number;
  overall: CategoryCounts;
  /** One entry per server, in the order given. */
  perServer: Array<{ id: string; name: string } & CategoryCounts>;
}

function emptyCounts(): CategoryCounts {
  return {
    tools: 0,
    byCategory: Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>,
    byRisk: Object.fromEntries(RISKS.map((r) => [r, 0])) as Record<Risk, number>,
    overridden: 0,
  };
}

/**
 * Classify every tool and count per category and risk.
 * @param servers catalogue entries (e.g. from `loadCatalog`).
 * @param classify classifier (default {@link classifyTool}).
 */
export function catalogStats(
  servers: readonly CatalogServer[],
  classify: (tool: CatalogTool) => Classification = classifyTool,
): CatalogStats {
  const overall = emptyCounts();
  const perServer = servers.map((server) => {
    const counts = emptyCounts();
    for (const tool of server.tools) {
      const c = classify(tool);
      for (const k of [counts, overall]) {
        k.tools++;
        k.byCategory[c.category]++;
        k.byRisk[c.risk]++;
        if (c.overridden) k.overridden++;
      }
    }
    return { id: server.id, name: server.name, ...counts };
  });
  return { servers: servers.length, overall, perServer };
}
