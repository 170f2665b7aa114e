// `pnpm demo`: the main job on the embedded default. Tollgate (built CLI) runs
// @modelcontextprotocol/server-filesystem under examples/policies/filesystem.yaml with SQLite
// state, and the MCP SDK's real Client drives a short scripted session through it.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const requireFromProxy = createRequire(join(root, 'packages/proxy/package.json'));
const { Client } = await import(requireFromProxy.resolve('@modelcontextprotocol/sdk/client/index.js'));
const { StdioClientTransport } = await import(
  requireFromProxy.resolve('@modelcontextprotocol/sdk/client/stdio.js')
);

const manifest = requireFromProxy.resolve('@modelcontextprotocol/server-filesystem/package.json');
const serverBin = join(dirname(manifest), 'dist/index.js');
const cli = join(root, 'packages/cli/dist/bin.js');
const policy = join(root, 'examples/policies/filesystem.yaml');

const demo = join(root, '.tollgate-demo');
const sandbox = join(demo, 'sandbox');
const state = join(demo, 'state');
rmSync(demo, { recursive: true, force: true });
mkdirSync(sandbox, { recursive: true });
writeFileSync(join(sandbox, 'todo.md'), '# To do\n- try Tollgate\n- read POLICY docs\n');
writeFileSync(join(sandbox, 'notes.txt'), 'Tollgate sits between the agent and the MCP server.\n');
writeFileSync(join(demo, 'secrets.env'), 'API_KEY=do-not-touch\n');

const color = !process.env.NO_COLOR && process.stdout.isTTY;
const paint = (code, s) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
const say = (s = '') => console.log(s);
const step = (s) => say(`\n${paint('1', `> ${s}`)}`);
const show = (result) => {
  const text = (result.content ?? []).map((c) => c.text ?? `[${c.type}]`).join('\n');
  const denied = result.isError && text.startsWith('[TOLLGATE POLICY DENIED]');
  for (const line of text.trimEnd().split('\n').slice(0, 6)) say(`  ${denied ? paint('31', line) : line}`);
  const meta = result._meta?.['tollgate/denial'];
  if (meta) say(paint('2', `  _meta["tollgate/denial"]: ${JSON.stringify(meta)}`));
  return { denied, meta };
};

const rel = (p) => relative(root, p) || '.';
const args = [
  cli,
  '-c',
  policy,
  '--state-dir',
  state,
  '--log-level',
  'warn',
  '--',
  process.execPath,
  serverBin,
  sandbox,
];
say(paint('1', 'Tollgate demo: a policy in front of @modelcontextprotocol/server-filesystem'));
say(`  policy: ${rel(policy)}   state: ${rel(state)} (SQLite)   sandbox: ${rel(sandbox)}`);
say(
  `  launching: tollgate -c ${rel(policy)} --state-dir ${rel(state)} -- mcp-server-filesystem ${rel(sandbox)}`,
);

const transport = new StdioClientTransport({
  command: process.execPath,
  args,
  env: { ...process.env, TOLLGATE_HOME: join(demo, 'home') },
  stderr: 'inherit',
});
const client = new Client({ name: 'tollgate-demo', version: '1.0.0' });
await client.connect(transport);
let failures = 0;
const expect = (ok, what) => {
  if (!ok) {
    failures++;
    say(paint('31', `  UNEXPECTED: ${what}`));
  }
};

step('tools/list: hidden tools are absent');
const { tools } = await client.listTools();
say(`  ${tools.length} tools: ${tools.map((t) => t.name).join(', ')}`);
expect(!tools.some((t) => t.name === 'move_file'), 'move_file should be hidden');
say(
  `  move_file present? ${tools.some((t) => t.name === 'move_file') ? 'yes' : 'no (hidden by the policy)'}`,
);

step(`read_text_file ${rel(join(sandbox, 'todo.md'))}: allowed`);
expect(
  !show(await client.callTool({ name: 'read_text_file', arguments: { path: join(sandbox, 'todo.md') } }))
    .denied,
  'read denied',
);

step(`write_file ${rel(join(sandbox, 'done.md'))}: inside the sandbox, allowed`);
expect(
  !show(
    await client.callTool({
      name: 'write_file',
      arguments: { path: join(sandbox, 'done.md'), content: 'demo ran\n' },
    }),
  ).denied,
  'sandbox write denied',
);

step(`write_file ${rel(join(demo, 'secrets.env'))}: outside the sandbox, denied`);
expect(
  show(
    await client.callTool({
      name: 'write_file',
      arguments: { path: join(demo, 'secrets.env'), content: 'overwritten' },
    }),
  ).denied,
  'write outside the sandbox was not denied',
);

step(`write_file ${rel(sandbox)}/../secrets.env: a .. escape, denied`);
expect(
  show(
    await client.callTool({
      name: 'write_file',
      arguments: { path: `${sandbox}/../secrets.env`, content: 'x' },
    }),
  ).denied,
  '.. escape was not denied',
);

step('move_file: hidden, so denied even when called by name');
expect(
  show(
    await client.callTool({
      name: 'move_file',
      arguments: { source: join(sandbox, 'notes.txt'), destination: join(sandbox, 'moved.txt') },
    }),
  ).denied,
  'hidden tool was not denied',
);

step('list_directory in a burst: the global burst guard (20 calls per 5 s) trips');
let admitted = 0;
let limited;
for (let i = 0; i < 25 && !limited; i++) {
  const r = await client.callTool({ name: 'list_directory', arguments: { path: sandbox } });
  const meta = r._meta?.['tollgate/denial'];
  if (meta?.reason === 'rate_limited') limited = r;
  else admitted++;
}
say(
  `  ${admitted} calls admitted (the 20 count every call admitted in the last 5 s, the earlier steps' too), then:`,
);
expect(limited !== undefined, 'rate limit never hit');
if (limited) show(limited);

await client.close();
say(
  `\n${paint('1', failures === 0 ? 'Demo finished: every call went as the policy says.' : `Demo finished with ${failures} surprise(s).`)}`,
);
say(`
Run the proxy for a real client (Claude Desktop, Claude Code, Cursor, VS Code: see docs/clients.md).
First copy the example policy out of this clone, to a directory the agent cannot write (for
example ~/.config/tollgate/filesystem.yaml), and pin its sandbox to your own directory with an
absolute path (the comment at its top says how): as it is, it admits writes into any directory
named "sandbox".

  node ${rel(cli)} -c /abs/path/to/filesystem.yaml -- npx -y @modelcontextprotocol/server-filesystem <dir>

Claude Code (.mcp.json):
  { "mcpServers": { "filesystem": { "command": "node",
      "args": ["${cli}", "-c", "/abs/path/to/filesystem.yaml", "--",
               "npx", "-y", "@modelcontextprotocol/server-filesystem", "/abs/path/dir"] } } }

Decisions so far:  TOLLGATE_HOME=${rel(join(demo, 'home'))} node ${rel(cli)} status`);
process.exit(failures === 0 ? 0 : 1);
