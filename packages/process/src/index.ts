/**
 * `@tollgate/process`: how Tollgate runs a stdio MCP server as a child process (DESIGN section 3,
 * "Process"), shared by the proxy and by live scans (`tollgate scan`, `tollgate init`).
 */
export { type ChildExit, ChildProcessHandle, type SpawnChildOptions, spawnChild } from './process.js';
