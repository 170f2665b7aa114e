import { describe, expect, it } from 'vitest';
import { catalogStats } from './stats.js';
import type { CatalogServer } from './types.js';

const s = (id: string, names: string[]): CatalogServer => ({
  id,
  name: id,
  package: { registry: 'npm', name: id },
  tools: names.map((name) => ({ name, description: 'x', inputSchema: { type: 'object' } })),
});

describe('catalogStats', () => {
  it('counts per category and risk, per server and overall', () => {
    const servers = [s('a', ['list_a', 'get_b', 'delete_c']), s('b', ['run_job', 'create_refund'])];
    servers[1]!.tools[0]!.category = { value: 'Write', reason: 'only queues' };
    const st = catalogStats(servers);
    expect(st.servers).toBe(2);
    expect(st.perServer[0]).toMatchObject({ id: 'a', tools: 3, byCategory: { Read: 2, Destructive: 1 } });
    expect(st.perServer[1]).toMatchObject({
      tools: 2,
      overridden: 1,
      byCategory: { Write: 1, Financial: 1 },
    });
    expect(st.overall.byCategory).toEqual({ Read: 2, Write: 1, Execute: 0, Destructive: 1, Financial: 1 });
    expect(st.overall.byRisk).toEqual({ Low: 2, Medium: 1, High: 0, Critical: 2 });
  });
});
