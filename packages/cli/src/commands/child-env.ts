/**
 * The environment the MCP server is started with: the client's (MCP spec 2025-11-25, "Transports >
 * stdio": the server runs in the environment it is given), without Tollgate's own secrets. The
 * server, and through its tools the agent, must not read the counter store's DSN (a Redis
 * password would let the agent reset its own budgets) nor the listener's bearer token.
 */
export const SECRET_VARIABLES: readonly string[] = ['TOLLGATE_STATE_DSN', 'TOLLGATE_AUTH_TOKEN'];

/** `env` without {@link SECRET_VARIABLES}. */
export function childEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const name of SECRET_VARIABLES) delete out[name];
  return out;
}
