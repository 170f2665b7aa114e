import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './from-source.js';

// Runs from source (no build needed): what upstream mode refuses at startup and how it shows the
// upstream URL. Nothing listens on port 9: a command line that starts gets EOF on stdin at once
// and stops by itself, writing only under the scratch TOLLGATE_HOME.
let dir: string;
let policy: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-upstream-secrets-'));
  policy = join(dir, 'p.yaml');
  writeFileSync(policy, 'version: "1"\ndefault: allow\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tollgate(args: string[], home = join(dir, 'home')) {
  return runCli(['-c', policy, ...args], { env: { TOLLGATE_HOME: home }, timeoutMs: 30_000 });
}

describe('--upstream with credentials in the URL', () => {
  it('is a usage error that points to -H and does not echo the password', () => {
    for (const url of ['http://alice:hunter2@127.0.0.1:9/mcp', 'https://hunter2@mcp.example.com/mcp']) {
      const r = tollgate(['--upstream', url]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        "tollgate: --upstream must not contain credentials (user:password@host): send them in a header instead, e.g. -H 'Authorization: Bearer ...'\n",
      );
      expect(r.stdout).toBe('');
    }
  });

  it('is refused by the listener too', () => {
    const r = tollgate([
      '--transport',
      'http',
      '--port',
      '0',
      '--upstream',
      'http://alice:hunter2@127.0.0.1:9/mcp',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--upstream must not contain credentials');
    expect(r.stderr).not.toContain('hunter2');
  });
});

describe('credentials on a server command line', () => {
  it('are masked in the startup log line and the decision log, which only its owner can read', () => {
    const home = join(dir, 'home-argv');
    const r = tollgate(
      [
        '--',
        process.execPath,
        '-e',
        'process.stdin.resume(); process.stdin.on("end", () => process.exit(0))',
        '--',
        '--api-key=sk_live_SUPERSECRET',
        '--access-token',
        'topsecret',
        'ghp_abcdefghijklmnopqrstuvwxyz0123456789',
      ],
      home,
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('"--api-key=***","--access-token","***","***"]');
    const files = readdirSync(join(home, 'events'));
    const events = files.map((f) => readFileSync(join(home, 'events', f), 'utf8')).join('');
    expect(events).toContain('"--api-key=***","--access-token","***","***"]');
    for (const secret of ['SUPERSECRET', 'topsecret', 'ghp_'])
      expect(r.stderr + events, secret).not.toContain(secret);
    for (const f of files) expect(statSync(join(home, 'events', f)).mode & 0o777, f).toBe(0o600);
    // The directory it created too: nobody else may list or read the daily files.
    expect(statSync(join(home, 'events')).mode & 0o777).toBe(0o700);
  });

  it('are masked in the usage errors of a command line without --', () => {
    const positional = tollgate(['node', 'server.js', 'sk_live_SUPERSECRET']);
    expect(positional.code).toBe(2);
    expect(positional.stderr).toContain('-- node server.js ***');
    const option = tollgate(['node', 'server.js', '--api-key=sk_live_SUPERSECRET']);
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("error: unknown option '--api-key=***'");
    expect(positional.stderr + option.stderr).not.toContain('SUPERSECRET');
  });

  it('a daily log file an older version made readable by others becomes owner-only', () => {
    const home = join(dir, 'home-mode');
    const events = join(home, 'events');
    mkdirSync(events, { recursive: true });
    const today = join(events, `events-${new Date().toISOString().slice(0, 10)}.jsonl`);
    writeFileSync(today, '', { mode: 0o644 });
    chmodSync(today, 0o644);
    const r = tollgate(
      [
        '--',
        process.execPath,
        '-e',
        'process.stdin.resume(); process.stdin.on("end", () => process.exit(0))',
      ],
      home,
    );
    expect(r.code).toBe(0);
    expect(statSync(today).mode & 0o777).toBe(0o600);
  });
});

describe('scan and init --upstream with credentials in the URL', () => {
  const problem =
    "--upstream must not contain credentials (user:password@host): send them in a header instead, e.g. -H 'Authorization: Bearer ...'";
  const url = 'http://alice:hunter2@127.0.0.1:9/mcp';

  for (const command of ['scan', 'init']) {
    it(`tollgate ${command} refuses it as the proxy does: usage, exit 2, the same message`, () => {
      const output = join(dir, `${command}-policy.yaml`);
      const extra = command === 'init' ? ['-o', output] : [];
      const text = runCli([command, '--upstream', url, ...extra], { timeoutMs: 30_000 });
      expect(text.code).toBe(2);
      expect(text.stdout).toBe('');
      expect(text.stderr).toBe(`tollgate ${command}: ${problem}\n`);
      const json = runCli([command, '--upstream', url, ...extra, '--json'], { timeoutMs: 30_000 });
      expect(json.code).toBe(2);
      expect(json.stderr).toBe('');
      expect(JSON.parse(json.stdout)).toEqual({
        ok: false,
        errors: [{ code: 'usage', message: problem }],
        warnings: [],
      });
    });
  }
});

describe('--header values', () => {
  it('a header without its colon is refused without echoing what follows its name', () => {
    const r = tollgate(['--upstream', 'http://127.0.0.1:9/mcp', '-H', 'Authorization Bearer topsecret']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'tollgate: --header starting "Authorization" is not "Name: value" (the rest is not shown)\n',
    );
  });

  const bad: Array<[string, string]> = [
    ['a line break', 'X-A: topsecret\nb'],
    ['a carriage return', 'X-A: topsecret\rb'],
    ['an emoji', 'X-A: topsecret😀'],
    ['a character past Latin-1', 'X-A: topsecret\u0100'],
  ];
  for (const [what, header] of bad) {
    it(`refuses a value with ${what} at startup, naming the header but not its value`, () => {
      const r = tollgate(['--upstream', 'http://127.0.0.1:9/mcp', '-H', header]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        'tollgate: --header X-A: its value is not a valid HTTP header value (no line breaks or NUL, only Latin-1 characters: no emoji); the value is not shown\n',
      );
    });
  }

  const empty: Array<[string, string]> = [
    [
      'Authorization:',
      'tollgate: --header Authorization: its value is empty (an unset variable?); give it one, or leave out the header\n',
    ],
    [
      'X-Api-Key:   ',
      'tollgate: --header X-Api-Key: its value is empty (an unset variable?); give it one, or leave out the header\n',
    ],
    [
      'Authorization: Bearer ',
      'tollgate: --header Authorization: "Bearer" with no credentials after it (an unset variable?); give them, or leave out the header\n',
    ],
    [
      'Authorization: basic',
      'tollgate: --header Authorization: "basic" with no credentials after it (an unset variable?); give them, or leave out the header\n',
    ],
    // Any scheme, not only Bearer and Basic: `-H "Authorization: Token $UNSET"`.
    [
      'Authorization: Token ',
      'tollgate: --header Authorization: "Token" with no credentials after it (an unset variable?); give them, or leave out the header\n',
    ],
    [
      'Proxy-Authorization: Digest',
      'tollgate: --header Proxy-Authorization: "Digest" with no credentials after it (an unset variable?); give them, or leave out the header\n',
    ],
    [
      'Authorization: ApiKey ',
      'tollgate: --header Authorization: "ApiKey" with no credentials after it (an unset variable?); give them, or leave out the header\n',
    ],
    // A scheme Tollgate does not know, left alone by an unset variable: the word is not shown.
    [
      'Authorization: Custom-Scheme ',
      'tollgate: --header Authorization: one word with nothing after it, as a scheme without its credentials (an unset variable?); give them, or leave out the header (the value is not shown)\n',
    ],
  ];
  for (const [header, message] of empty) {
    it(`refuses ${JSON.stringify(header)} at startup, before any request gets 401`, () => {
      const r = tollgate(['--upstream', 'http://127.0.0.1:9/mcp', '-H', header]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(message);
      expect(r.stdout).toBe('');
    });
  }

  it('refuses an empty value in front of the listener too', () => {
    const r = tollgate([
      '--transport',
      'http',
      '--port',
      '0',
      '--upstream',
      'http://127.0.0.1:9/mcp',
      '-H',
      'Authorization: Bearer',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--header Authorization: "Bearer" with no credentials after it');
  });

  it('accepts a key sent in Authorization without a scheme, and a scheme word in another header', () => {
    const r = tollgate([
      '--log-level',
      'silent',
      '--upstream',
      'http://127.0.0.1:9/mcp',
      '-H',
      'Authorization: lin_api_0123456789abcdef',
      '-H',
      'X-Auth-Scheme: Token',
      '-H',
      'X-Mode: basic',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('accepts Latin-1 values, and surrounding whitespace', () => {
    const r = tollgate([
      '--log-level',
      'silent',
      '--upstream',
      'http://127.0.0.1:9/mcp',
      '-H',
      'X-Name: caf\u00e9',
      '-H',
      'Authorization:   Bearer t  ',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('the upstream URL in logs', () => {
  it('shows query values as *** in the startup log and the decision log', () => {
    const home = join(dir, 'home-redact');
    const r = tollgate(['--upstream', 'http://127.0.0.1:9/mcp?api_key=topsecret&v=2'], home);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('"upstream":"http://127.0.0.1:9/mcp?api_key=***&v=***"');
    const events = readdirSync(join(home, 'events'))
      .map((f) => readFileSync(join(home, 'events', f), 'utf8'))
      .join('');
    expect(events).toContain('"server_command":["http://127.0.0.1:9/mcp?api_key=***&v=***"]');
    expect(r.stderr + events).not.toContain('topsecret');
  });
});
