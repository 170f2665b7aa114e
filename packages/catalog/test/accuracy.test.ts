// Classifier vs hand labels. The labels live in data/curation/<server-id>.json (`category`), written
// by hand by the curators before the classifier was tuned. Rules were tuned on the tuning split only;
// the held-out split (servers whose id sorts in the last quarter of all 62 snapshot ids) was never
// used for tuning and is reported separately. Floors below are the measured values, rounded down.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CatalogServer,
  defaultCatalogDir,
  defaultCurationDir,
  formatMatrix,
  heldOutServers,
  type Label,
  loadCatalog,
  measure,
  readLabels,
} from '../src/index.js';
import { snapshots } from './sources.js';

// Measured 95.5% / 95.3% / 96.5% (round 5 labels; 95.6% / 95.5% / 96.5% after the noun and money round).
// The held-out figure is no longer clean: see docs/classifier.md, "Honesty about tuning".
const FLOOR = { all: 0.95, tuning: 0.95, heldOut: 0.95 };

let servers: CatalogServer[];
let labels: Label[];
let held: Set<string>;
beforeAll(() => {
  servers = loadCatalog(defaultCatalogDir());
  labels = readLabels(defaultCurationDir());
  held = heldOutServers([...snapshots().keys()]);
}, 120_000);

function report(name: string, m: ReturnType<typeof measure>): void {
  console.log(
    `\nclassifier ${name}: ${m.correct}/${m.total} = ${(m.accuracy * 100).toFixed(1)}% over ${m.servers} servers\n${formatMatrix(m)}`,
  );
}

describe('classifier accuracy against hand labels', () => {
  it('the label set covers at least 200 tools from at least 30 servers', () => {
    expect(labels.length).toBeGreaterThanOrEqual(200);
    expect(new Set(labels.map((l) => l.server)).size).toBeGreaterThanOrEqual(30);
  });

  it('the held-out split is the last quarter of the server ids', () => {
    expect(held.size).toBe(16);
    expect([...held].sort()[0]).toBe('notion');
  });

  it('meets the measured floor overall', () => {
    const m = measure(servers, labels);
    report('overall', m);
    expect(m.total).toBe(labels.length);
    expect(m.accuracy).toBeGreaterThanOrEqual(FLOOR.all);
  });

  it('meets the measured floor on the tuning split', () => {
    const m = measure(servers, labels, (l) => !held.has(l.server));
    report('tuning split', m);
    expect(m.accuracy).toBeGreaterThanOrEqual(FLOOR.tuning);
  });

  it('meets the measured floor on the held-out split', () => {
    const m = measure(servers, labels, (l) => held.has(l.server));
    report('held-out split', m);
    expect(m.servers).toBe(16);
    expect(m.accuracy).toBeGreaterThanOrEqual(FLOOR.heldOut);
  });

  it('a wrong label would be counted as a miss', () => {
    const flipped: Label[] = labels
      .slice(0, 50)
      .map((l) => ({ ...l, category: l.category === 'Read' ? 'Financial' : 'Read' }));
    expect(measure(servers, flipped).accuracy).toBeLessThan(0.5);
  });
});
