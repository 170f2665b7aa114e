import type { Command } from 'commander';
import { directoryGiven } from '../option-values.js';
import type { ImportOptions } from './catalog-action.js';

/** Registers `tollgate catalog import|stats`. */
export function registerCatalog(program: Command): void {
  const catalog = program
    .command('catalog')
    .description('Work with the catalogue of MCP servers and their tools');
  catalog
    .command('import')
    .description('Turn captured tools/list snapshots into catalog/<server-id>.yaml files (our descriptions)')
    .argument('<snapshot...>', 'snapshot JSON files')
    .option(
      '-o, --out <dir>',
      'catalogue directory to write (default: the repository catalog/)',
      directoryGiven,
    )
    .option(
      '--curation <dir>',
      'directory of <server-id>.json curation files with our descriptions',
      directoryGiven,
    )
    .option('--json', 'print results as JSON')
    .action(async (snapshots: string[], opts: ImportOptions) => {
      const { runImport } = await import('./catalog-action.js');
      runImport(snapshots, opts);
    });
  catalog
    .command('stats')
    .description('Tools per category and risk, per server and overall')
    .option(
      '--dir <dir>',
      'catalogue directory (default: the repository catalog/ or the shipped copy)',
      directoryGiven,
    )
    .option('--json', 'print the statistics as JSON')
    .action(async (opts: { dir?: string; json?: boolean }) => {
      const { runStats } = await import('./catalog-action.js');
      runStats(opts);
    });
}
