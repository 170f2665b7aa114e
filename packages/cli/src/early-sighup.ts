/**
 * SIGHUP while Tollgate starts. The proxy reloads its policy on SIGHUP (the daemon convention),
 * but installs that handler only once its policy and counter store are loaded; a SIGHUP before
 * then (an editor hook running `pkill -HUP -f tollgate` just as a client starts a proxy) took
 * Node's default action and ended the proxy, which the client saw as its server dying.
 *
 * Imported first by the CLI's entry point, this module catches SIGHUP from the moment the CLI's
 * code starts loading, and remembers one: {@link takeOverSighup} hands it to the proxy's handler.
 * A subcommand gives SIGHUP back its default action ({@link releaseSighup}).
 */

let pending = false;
const early = (): void => {
  pending = true;
};
process.on('SIGHUP', early);

/**
 * Installs `handler` for SIGHUP in place of the early one, and calls it at once when a SIGHUP
 * arrived before (the policy on disk may have changed after it was read).
 */
export function takeOverSighup(handler: () => void): void {
  process.off('SIGHUP', early);
  process.on('SIGHUP', handler);
  if (pending) {
    pending = false;
    handler();
  }
}

/**
 * For a subcommand (no policy to reload): SIGHUP takes its default action again, so a terminal
 * hangup ends `tollgate scan -- <server>` as it would any command; one that arrived meanwhile is
 * raised again.
 */
export function releaseSighup(): void {
  process.off('SIGHUP', early);
  if (pending) {
    pending = false;
    process.kill(process.pid, 'SIGHUP');
  }
}
