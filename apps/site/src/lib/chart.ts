/**
 * The home page chart: tools per category, each bar coloured by the category's risk level (a tool
 * whose result carries live credentials is rated higher than its category: not shown here), as an
 * SVG string made at build time (no client script, readable without CSS, with a text alternative).
 */
import type { Category, Risk } from '@tollgate/catalog';

/** Bar fill per risk level; chosen for contrast on both light and dark backgrounds. */
export const RISK_COLOUR: Readonly<Record<Risk, string>> = {
  Low: '#3b82f6',
  Medium: '#d97706',
  High: '#dc2626',
  Critical: '#7e22ce',
};

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Horizontal bar chart SVG.
 *
 * @param rows - one bar per category, with its risk and tool count
 * @returns SVG markup with `role="img"`, a `<title>` and a `<desc>` listing every value
 */
export function categoryChartSvg(rows: { category: Category; risk: Risk; count: number }[]): string {
  const width = 640;
  const rowH = 36;
  const labelW = 110;
  const valueW = 150;
  const barMax = width - labelW - valueW;
  const max = Math.max(1, ...rows.map((r) => r.count));
  const total = rows.reduce((n, r) => n + r.count, 0);
  const height = rows.length * rowH + 8;
  const desc = rows.map((r) => `${r.category} (a ${r.risk} risk category): ${r.count} tools`).join('; ');
  const bars = rows
    .map((r, i) => {
      const y = i * rowH + 4;
      const w = Math.max(r.count > 0 ? 2 : 0, Math.round((r.count / max) * barMax));
      const pct = total ? ((r.count / total) * 100).toFixed(1) : '0.0';
      return [
        `<text x="${labelW - 8}" y="${y + 22}" text-anchor="end" class="chart-label">${esc(r.category)}</text>`,
        `<rect x="${labelW}" y="${y + 6}" width="${w}" height="${rowH - 12}" rx="3" fill="${RISK_COLOUR[r.risk]}"/>`,
        `<text x="${labelW + w + 8}" y="${y + 22}" class="chart-value">${r.count} · ${pct}% · ${esc(r.risk)}</text>`,
      ].join('');
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-labelledby="chart-title chart-desc" class="category-chart"><title id="chart-title">Tools per category, coloured by the risk level of the category</title><desc id="chart-desc">${esc(desc)}</desc>${bars}</svg>`;
}
