import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where Tollgate keeps its files. */
export interface TollgatePaths {
  /** `$TOLLGATE_HOME`, else `~/.tollgate`. */
  readonly home: string;
  /** `$TOLLGATE_STATE_DIR`, else `<home>/state` (holds `tollgate.sqlite`). */
  readonly stateDir: string;
  /** `<home>/events` (the decision log, one JSON-lines file per UTC day). */
  readonly eventsDir: string;
  /** `<home>/args.key`: the key of the decision log's `args_hmac` (see `loadArgsKey`). */
  readonly argsKeyFile: string;
}

/**
 * Resolve Tollgate's directories from the environment. Pure: creates nothing.
 *
 * @param env - environment to read (default `process.env`)
 */
export function defaultPaths(env: NodeJS.ProcessEnv = process.env): TollgatePaths {
  const home = env.TOLLGATE_HOME || join(homedir(), '.tollgate');
  return {
    home,
    stateDir: env.TOLLGATE_STATE_DIR || join(home, 'state'),
    eventsDir: join(home, 'events'),
    argsKeyFile: join(home, 'args.key'),
  };
}
