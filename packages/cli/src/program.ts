import type { Command } from 'commander';
import { registerRun } from './commands/run.js';
import { acceptNoColor, commandLineOf, createRootProgram, registerSubcommands } from './commands-tree.js';
import { refuseRepeatedOptions } from './option-once.js';

/**
 * Build the `tollgate` command tree. The root command runs the proxy
 * (`tollgate -c policy.yaml -- <server command>`); every other capability is a subcommand
 * registered by its own module under `commands/`.
 */
export function buildProgram(): Command {
  const program = createRootProgram();
  registerRun(program);
  registerSubcommands(program);
  acceptNoColor(program);
  refuseRepeatedOptions(program, () => commandLineOf(program));
  // `tollgate --state-dsn memory: explain ...`: the proxy's options, read before the subcommand,
  // would be parsed and then dropped, and `explain` would read another store than the one named.
  program.hook('preSubcommand', (root, sub) => {
    // `--no-color` is every command's: before the subcommand's name it is as good as after.
    const proxyOnly = root.options.filter((o) => o.attributeName() !== 'color');
    if (!proxyOnly.some((o) => root.getOptionValueSource(o.attributeName()) === 'cli')) return;
    // As typed (`-c`, `--state-dsn=memory:`), up to the subcommand's name.
    const words = commandLineOf(root);
    const before = words.slice(0, words.indexOf(sub.name()));
    if (before.includes('--')) {
      // `tollgate -c p.yaml -- status`: a server command whose name is one of Tollgate's.
      root.error(
        `error: the server command \`${sub.name()}\` after -- has the name of a tollgate command; give its path (./${sub.name()}) or start it through env: tollgate ... -- env ${sub.name()} ...`,
        { code: 'tollgate.serverNamedLikeCommand', exitCode: 2 },
      );
    }
    const given = before
      .filter((w) => w.startsWith('-') && w !== '--no-color')
      .map((w) => w.replace(/=.*/s, ''));
    root.error(
      `error: ${given.join(', ')} before \`${sub.name()}\` ${given.length === 1 ? 'is an option' : 'are options'} of the proxy, not of \`${sub.name()}\`: put the options of a command after its name, e.g. tollgate ${sub.name()} ${given[0]} ...`,
      { code: 'tollgate.optionBeforeCommand', exitCode: 2 },
    );
  });
  return program;
}
