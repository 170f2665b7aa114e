import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bearerCarries, DEFAULT_MAX_MESSAGE_BYTES } from '@tollgate/proxy';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addRemoteOptions } from '../src/commands/remote.js';
import { directoryArgumentHolding, ownSecretsReadableIn } from '../src/commands/run-action.js';
import { cliRoot, runCli } from './from-source.js';

// Runs from source (no build needed): usage errors of the root command's remote options. A
// command line that is wrongly accepted starts a real proxy; its stdin is closed at once, so it
// stops by itself, writing only under the scratch TOLLGATE_HOME.
const FAKE_SERVER = fileURLToPath(new URL('./e2e/fixtures/fake-server.mjs', import.meta.url));
const UNREACHABLE = 'http://127.0.0.1:9/mcp';
const UNREACHABLE_REDIS = 'redis://127.0.0.1:9/0';

let dir: string;
let policy: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tollgate-run-usage-'));
  policy = join(dir, 'p.yaml');
  writeFileSync(policy, 'version: "1"\ndefault: allow\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A listener wrongly started runs until a signal: `timeoutMs` ends it (code null). */
function tollgate(args: string[], timeoutMs = 30_000) {
  return runCli(args, { env: { TOLLGATE_HOME: join(dir, 'home') }, timeoutMs });
}

describe('an empty server command', () => {
  it('is a usage error (exit 2) that says it is empty, before any store is opened', () => {
    // `tollgate -c p.yaml -- "$SERVER"` with the variable unset: spawn would fail with Node's words.
    for (const command of [[''], [' ', 'arg']]) {
      const r = tollgate(['-c', policy, '--', ...command]);
      expect(r.code, JSON.stringify(command)).toBe(2);
      expect(r.stderr).toBe(
        'tollgate: the server command after -- is empty (an unset variable?): give the program to start, e.g. -- npx -y @modelcontextprotocol/server-memory\n',
      );
      expect(r.stdout).toBe('');
    }
  });
});

describe('listener-only flags without --transport http', () => {
  const cases: Array<[string, string[]]> = [
    ['--bind', ['--bind', '0.0.0.0']],
    ['--port', ['--port', '8787']],
    ['--auth-token', ['--auth-token', 'x']],
    ['--allowed-origin', ['--allowed-origin', 'https://app.example.com']],
    ['--max-body-bytes', ['--max-body-bytes', '1000']],
    ['--max-sessions', ['--max-sessions', '8']],
    ['--session-idle-timeout', ['--session-idle-timeout', '60']],
    ['--per-session-counters', ['--per-session-counters']],
  ];
  for (const [flag, extra] of cases) {
    it(`refuses ${flag} with exit 2 in the stdio proxy`, () => {
      const r = tollgate(['-c', policy, ...extra, '--', process.execPath, FAKE_SERVER]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        `tollgate: ${flag} needs --transport http: it only applies to the HTTP listener\n`,
      );
      expect(r.stdout).toBe('');
    });
  }

  it('refuses them in upstream mode and with an explicit --transport stdio, naming every flag given', () => {
    const up = tollgate(['-c', policy, '--upstream', UNREACHABLE, '--auth-token', 'x']);
    expect(up.code).toBe(2);
    expect(up.stderr).toBe(
      'tollgate: --auth-token needs --transport http: it only applies to the HTTP listener\n',
    );
    const two = tollgate([
      '-c',
      policy,
      '--transport',
      'stdio',
      '--bind',
      '127.0.0.1',
      '--port',
      '1',
      '--',
      process.execPath,
      FAKE_SERVER,
    ]);
    expect(two.code).toBe(2);
    expect(two.stderr).toBe(
      'tollgate: --bind and --port need --transport http: they only apply to the HTTP listener\n',
    );
  });
});

describe('--allowed-origin values', () => {
  for (const bad of ['evil.com', 'https://evil.com/path', 'https://evil.com?q=1', '*', 'null', 'https://']) {
    it(`refuses ${JSON.stringify(bad)} with exit 2, saying what an origin is`, () => {
      const r = tollgate(
        [
          '-c',
          policy,
          '--transport',
          'http',
          '--port',
          '0',
          '--allowed-origin',
          bad,
          '--',
          process.execPath,
          FAKE_SERVER,
        ],
        10_000,
      );
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(
        `argument '${bad}' is invalid. must be an origin, scheme://host[:port] (e.g. https://app.example.com)`,
      );
      expect(r.stderr).not.toContain('listening on');
    });
  }
});

describe('--allowed-origin accepted values', () => {
  it('keeps origins in the form browsers send them', () => {
    const cmd = addRemoteOptions(new Command()).exitOverride();
    cmd.parse(
      [
        '--allowed-origin',
        'https://App.Example.com:443/',
        '--allowed-origin',
        'http://localhost:3000',
        '--allowed-origin',
        'chrome-extension://AbCdEf',
      ],
      { from: 'user' },
    );
    expect(cmd.opts().allowedOrigin).toEqual([
      'https://app.example.com',
      'http://localhost:3000',
      'chrome-extension://abcdef',
    ]);
  });
});

describe('listener numbers left empty', () => {
  // `--port "$PORT"` with PORT unset: Number('') is 0, a random port (or, for the idle timeout,
  // never ending a session), which must not be taken silently.
  const cases: Array<[string, string[], string]> = [
    [
      '--port <n>',
      [],
      'the port is empty (an unset variable?); give a port number (0-65535; 0 = any free port), or leave out --port for 8787',
    ],
    [
      '--session-idle-timeout <seconds>',
      ['--port', '0'],
      'the timeout is empty (an unset variable?); give a number of seconds from 0 (never) to 604800 (a week), or leave out --session-idle-timeout for 1800',
    ],
  ];
  for (const [option, extra, message] of cases) {
    const flag = option.split(' ')[0]!;
    for (const empty of ['', '  ']) {
      it(`refuses ${flag} ${JSON.stringify(empty)} with exit 2 instead of taking it for 0`, () => {
        const r = tollgate(
          ['-c', policy, '--transport', 'http', ...extra, flag, empty, '--', 'true'],
          10_000,
        );
        expect(r.code).toBe(2);
        expect(r.stderr).toBe(
          `error: option '${option}' argument '${empty}' is invalid. ${message}\n(run with --help for usage)\n`,
        );
      });
    }
  }
});

describe('--auth-token a client cannot send', () => {
  const refusal = (source: string) =>
    `tollgate: ${source} has spaces, line breaks (a trailing newline?) or non-ASCII characters, which clients cannot send alike in "Authorization: Bearer <token>" (the token is not shown)\n`;
  for (const token of [' tok ', 'to k', 'tok\nen', 'tok€', 'tok\u00a0en', 'tök']) {
    it(`refuses ${JSON.stringify(token)} with exit 2, without showing it`, () => {
      const r = tollgate(['-c', policy, '--transport', 'http', '--auth-token', token, '--', 'true']);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(refusal('--auth-token'));
    });
  }
  for (const token of ['sekrit\n', 'two words']) {
    it(`refuses TOLLGATE_AUTH_TOKEN=${JSON.stringify(token)} with exit 2, without showing it`, () => {
      const r = runCli(['-c', policy, '--transport', 'http', '--port', '0', '--', 'true'], {
        env: { TOLLGATE_HOME: join(dir, 'home'), TOLLGATE_AUTH_TOKEN: token },
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(refusal('TOLLGATE_AUTH_TOKEN'));
    });
  }
  it('takes tokens of ASCII letters, digits and punctuation; not Latin-1 letters, which clients send differently', () => {
    expect(bearerCarries('a.b-c_d~e+f/g=')).toBe(true);
    expect(bearerCarries('tök')).toBe(false);
  });
});

describe('counter store flags and TOLLGATE_STATE_DSN', () => {
  it('refuses an empty --state-dsn with exit 2 instead of counting in local SQLite unsaid', () => {
    const r = runCli(['-c', policy, '--state-dsn', '', '--', 'true'], {
      env: { TOLLGATE_HOME: join(dir, 'home'), TOLLGATE_STATE_DSN: UNREACHABLE_REDIS },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'tollgate: --state-dsn is empty (an unset variable?): give the store, or leave it out for SQLite under the state directory',
    );
  });

  it('refuses --state-dsn or --state-prefix with --per-session-counters, which would never use them', () => {
    for (const [flag, value] of [
      ['--state-dsn', 'memory:'],
      ['--state-prefix', 'team:'],
    ] as const) {
      const r = tollgate([
        '-c',
        policy,
        '--transport',
        'http',
        '--per-session-counters',
        flag,
        value,
        '--',
        'true',
      ]);
      expect(r.code, flag).toBe(2);
      expect(r.stderr, flag).toContain(
        `tollgate: --per-session-counters counts each session in its own memory store: ${flag} would not be used (leave one of them out)`,
      );
    }
  });

  it('warns at startup that per-session counters start afresh with every new session', () => {
    // The listener runs until a signal: the time limit ends it. Started from source (tsx), it took
    // over 4 s to print its warnings on a CI machine running two suites at once: 10 s.
    const r = tollgate(
      ['-c', policy, '--transport', 'http', '--port', '0', '--per-session-counters', '--', 'true'],
      10_000,
    );
    expect(r.stderr).toContain(
      '--per-session-counters: every session counts from zero, so a client that opens a new session (a reconnect) gets every limit afresh; use it only where each session is an agent of its own',
    );
  });

  it('refuses a set but blank TOLLGATE_STATE_DSN (an unset variable in a client env block) the same way', () => {
    const r = runCli(['-c', policy, '--', 'true'], {
      env: { TOLLGATE_HOME: join(dir, 'home'), TOLLGATE_STATE_DSN: '  ' },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'tollgate: TOLLGATE_STATE_DSN is set but empty (an unset variable?): give the store, or remove the variable for SQLite under the state directory',
    );
  });

  it('refuses an empty --state-prefix with exit 2 instead of using the default prefix unsaid', () => {
    const r = tollgate(['-c', policy, '--state-dsn', UNREACHABLE_REDIS, '--state-prefix', '', '--', 'true']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'tollgate: --state-prefix is empty: leave it out for the default prefix "tollgate:"\n',
    );
  });

  it('opens the store TOLLGATE_STATE_DSN names, as --state-dsn would', () => {
    const r = runCli(['-c', policy, '--state-prefix', 'team-a:', '--', process.execPath, FAKE_SERVER], {
      env: { TOLLGATE_HOME: join(dir, 'home'), TOLLGATE_STATE_DSN: UNREACHABLE_REDIS },
    });
    // --state-prefix is accepted (a Redis store), and the Redis at the DSN is the one tried.
    expect(r.stderr).not.toContain('--state-prefix applies to a Redis store');
    expect(r.stderr).toContain(`counter store ${UNREACHABLE_REDIS} is not reachable`);
  });

  it('lets --state-dir win over TOLLGATE_STATE_DSN', () => {
    const r = runCli(['-c', policy, '--state-dir', join(dir, 'own'), '--state-prefix', 'x:', '--', 'true'], {
      env: { TOLLGATE_HOME: join(dir, 'home'), TOLLGATE_STATE_DSN: UNREACHABLE_REDIS },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--state-prefix applies to a Redis store');
  });
});

describe('-c - on the proxy', () => {
  it('is refused with exit 2, saying why, instead of "cannot read policy -: ENOENT"', () => {
    const r = tollgate(['-c', '-', '--', process.execPath, FAKE_SERVER]);
    expect(r.code).toBe(2);
    // `tollgate test` has no -c: only the commands that read -c - are named.
    expect(r.stderr).toBe(
      'tollgate: the proxy cannot read its policy from standard input (-c -): stdin carries the MCP messages, and the policy is read again when it changes and on SIGHUP; save it to a file (tollgate validate and tollgate explain read -c -)\n',
    );
  });

  it('is refused under --transport http too, without the stdio reason', () => {
    const r = tollgate([
      '-c',
      '-',
      '--transport',
      'http',
      '--port',
      '0',
      '--',
      process.execPath,
      FAKE_SERVER,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'tollgate: the proxy cannot read its policy from standard input (-c -): the policy is read again when it changes and on SIGHUP',
    );
  });
});

describe('an invalid policy on the proxy', () => {
  it('counts its errors in words that agree with the number', () => {
    const one = join(dir, 'one-error.yaml');
    writeFileSync(one, 'version: "1"\ndefault: maybe\n');
    const two = join(dir, 'two-errors.yaml');
    writeFileSync(two, 'version: "1"\ndefault: maybe\nfoo: 1\n');
    const r1 = tollgate(['-c', one, '--', process.execPath, FAKE_SERVER]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain(`tollgate: policy ${one} is invalid (1 error); not starting\n`);
    const r2 = tollgate(['-c', two, '--', process.execPath, FAKE_SERVER]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain(`tollgate: policy ${two} is invalid (2 errors); not starting\n`);
  });
});

describe('--header without --upstream', () => {
  it('is refused in the stdio proxy with exit 2, not silently ignored', () => {
    const r = tollgate([
      '-c',
      policy,
      '-H',
      'Authorization: Bearer abc',
      '--',
      process.execPath,
      FAKE_SERVER,
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'tollgate: --header only applies to --upstream (the stdio proxy sends no HTTP requests)\n',
    );
  });
});

describe('--header in upstream mode', () => {
  const reserved = [
    'Content-Length: 5',
    'transfer-encoding: chunked',
    'HOST: example.com',
    'Connection: close',
    'Content-Type: text/plain',
    'Accept: */*',
    'mcp-session-id: abc',
    'MCP-Protocol-Version: 2025-06-18',
    'last-event-id: 5',
    'Keep-Alive: 1',
    'Upgrade: h2c',
    'Expect: 100-continue',
  ];
  for (const h of reserved) {
    it(`refuses "${h}" with exit 2: the transport sets it`, () => {
      const r = tollgate(['-c', policy, '--upstream', UNREACHABLE, '-H', h]);
      expect(r.code).toBe(2);
      const name = h.slice(0, h.indexOf(':'));
      expect(r.stderr).toBe(
        `tollgate: --header ${name}: Tollgate sets ${name} itself (it belongs to the HTTP transport); remove it\n`,
      );
    });
  }

  it('still accepts other headers such as Authorization', () => {
    const r = tollgate([
      '-c',
      policy,
      '--log-level',
      'silent',
      '--upstream',
      UNREACHABLE,
      '-H',
      'Authorization: Bearer t',
      '-H',
      'X-Content-Length: 5',
    ]);
    expect(r.stderr).not.toContain('--header');
    expect(r.code).not.toBe(2);
  });
});

describe('--max-message-bytes', () => {
  it('--help names the default that every mode applies when the flag is not given', () => {
    const r = tollgate(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout.replace(/\s+/g, ' ')).toContain(`(default: ${DEFAULT_MAX_MESSAGE_BYTES}, 64 MiB)`);
  });
});

describe('number options', () => {
  it('take decimal digits only, and --shutdown-grace no more than a Node timer keeps', () => {
    // Number() would read 0x10 as 16 and 1e3 as 1000, and a timer over 2^31 - 1 ms fires after
    // 1 ms: a "never kill my server" grace would have killed it at once.
    const cases: Array<[string[], string]> = [
      [['--shutdown-grace', '2147483648'], "option '--shutdown-grace <ms>' argument '2147483648' is invalid"],
      [['--shutdown-grace', '1e3'], "option '--shutdown-grace <ms>' argument '1e3' is invalid"],
      [['--shutdown-grace', '0x7d0'], "option '--shutdown-grace <ms>' argument '0x7d0' is invalid"],
      [['--max-message-bytes', '0x10'], "option '--max-message-bytes <n>' argument '0x10' is invalid"],
      [
        ['--max-message-bytes', '99999999999999999999'],
        "option '--max-message-bytes <n>' argument '99999999999999999999' is invalid",
      ],
      [['--transport', 'http', '--port', '0x50'], "option '--port <n>' argument '0x50' is invalid"],
      [
        ['--transport', 'http', '--session-idle-timeout', '1e3'],
        "option '--session-idle-timeout <seconds>' argument '1e3' is invalid",
      ],
    ];
    for (const [flags, message] of cases) {
      const r = tollgate(['-c', policy, ...flags, '--', 'true']);
      expect(r.code, flags.join(' ')).toBe(2);
      expect(r.stderr, flags.join(' ')).toContain(message);
    }
    expect(tollgate(['-c', policy, '--shutdown-grace', '2147483648', '--', 'true']).stderr).toContain(
      'to 2147483647 (about 24.8 days, the longest timer Node keeps)',
    );
  });
});

describe('a policy path that cannot be read', () => {
  it('says where it looked, and that ~ is not expanded', () => {
    // The built CLI, started in another directory (as a client starts it in its own).
    const from = (args: string[]) => {
      const r = spawnSync(process.execPath, [join(cliRoot, 'dist/bin.js'), ...args], {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1', TOLLGATE_HOME: join(dir, 'home') },
      });
      return { code: r.status, stderr: r.stderr };
    };
    const relative = from(['-c', 'no-such-dir/p.yaml', '--', 'true']);
    expect(relative.code).toBe(2);
    expect(relative.stderr).toContain(
      `cannot read policy no-such-dir/p.yaml: ENOENT (looked for ${join(dir, 'no-such-dir/p.yaml')})`,
    );
    const tilde = from(['-c', '~/.config/tollgate/p.yaml', '--', 'true']);
    expect(tilde.stderr).toContain(
      `cannot read policy ~/.config/tollgate/p.yaml: ENOENT (looked for ${join(dir, '~/.config/tollgate/p.yaml')}); ~ is not expanded here: write the absolute path`,
    );
  });
});

describe('-c after --', () => {
  it('says that it went to the server command', () => {
    const r = tollgate(['--', process.execPath, FAKE_SERVER, '-c', policy]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `missing -c <policy.yaml>: the -c ${policy} after -- goes to the server command; put it before --: tollgate -c ${policy} -- <command> [args...]`,
    );
    // A -c of the server's own (`bash -c "..."`) is not taken for the policy.
    const bash = tollgate(['--', 'bash', '-c', 'node srv.js']);
    expect(bash.code).toBe(2);
    expect(bash.stderr).toContain(
      'missing -c <policy.yaml> for Tollgate (options after -- are passed to the server command): tollgate -c <policy.yaml> -- <command> [args...]',
    );
  });
});

describe('a server command with flags and no --', () => {
  it('says where -- goes when a server flag reads as an unknown option of Tollgate', () => {
    const r = tollgate(['-c', policy, 'npx', '-y', '@modelcontextprotocol/server-memory']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: unknown option '-y'");
    expect(r.stderr).toContain(
      "tollgate: if that option belongs to the server command, put -- before the command, so its flags are not read as Tollgate's: tollgate -c <policy.yaml> -- <command> [args...]",
    );
    // With --upstream there is no server command; a subcommand's unknown option is its own.
    const upstream = tollgate(['-c', policy, '--upstream', 'http://127.0.0.1:9/mcp', '--bogus']);
    expect(upstream.code).toBe(2);
    expect(upstream.stderr).not.toContain('put -- before');
    const sub = tollgate(['validate', '-c', policy, '--bogus']);
    expect(sub.code).toBe(2);
    expect(sub.stderr).not.toContain('put -- before');
  });
});

describe('a misspelt subcommand', () => {
  it('is named, with the command meant, with or without -c', () => {
    const withConfig = tollgate(['valdate', '-c', policy]);
    expect(withConfig.code).toBe(2);
    expect(withConfig.stderr).toContain(
      'tollgate: "valdate" is not a command: did you mean `tollgate validate`? (a server command goes after --)',
    );
    const bare = tollgate(['stauts']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain(
      'missing -c <policy.yaml> (did you mean a subcommand? "stauts" is not one; did you mean `tollgate status`?)',
    );
    // After --, the words are a server command: no subcommand is suggested.
    const plain = tollgate(['--', 'node', 'x.js']);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toContain(
      'missing -c <policy.yaml>: tollgate -c <policy.yaml> -- <command> [args...]',
    );
    expect(plain.stderr).not.toContain('did you mean a subcommand');
  });
});

describe("paths of Tollgate's own files", () => {
  const tilde = (name: string, value: string) =>
    `${name} ${value} starts with ~, which is not expanded here (only a shell expands it; MCP clients pass it as written): write the absolute path`;
  it('refuses a ~ that no shell expanded (a client config passes it as written)', () => {
    const server = ['--', process.execPath, FAKE_SERVER];
    const home = runCli(['-c', policy, ...server], { env: { TOLLGATE_HOME: '~/tgx' } });
    expect(home.code).toBe(2);
    expect(home.stderr).toContain(tilde('TOLLGATE_HOME', '~/tgx'));
    const stateDir = tollgate(['-c', policy, '--state-dir', '~/.tollgate/x', ...server]);
    expect(stateDir.code).toBe(2);
    expect(stateDir.stderr).toContain(tilde('--state-dir', '~/.tollgate/x'));
    const explain = tollgate(['explain', '-c', policy, '--tool', 'x', '--state-dsn', 'sqlite:~/a.sqlite']);
    expect(explain.code).toBe(2);
    expect(explain.stderr).toContain(tilde('--state-dsn', '~/a.sqlite'));
    const status = runCli(['status', '--json'], { env: { TOLLGATE_HOME: '~/tg' } });
    expect(status.code).toBe(2);
    expect(JSON.parse(status.stdout).errors).toEqual([
      { code: 'usage', message: tilde('TOLLGATE_HOME', '~/tg') },
    ]);
    // Nothing was created under a directory named "~".
    expect(existsSync(join(cliRoot, '~'))).toBe(false);
  });

  it('warns that a relative path depends on the working directory, naming where it resolves', () => {
    const state = join(dir, 'relative-state');
    const relativeState = relative(cliRoot, state);
    const r = tollgate(['-c', policy, '--state-dir', relativeState, '--', process.execPath, FAKE_SERVER]);
    expect(r.stderr).toContain(
      `--state-dir ${relativeState} is a relative path: it resolves to ${state}, against the working directory, which each MCP client chooses for itself; write the absolute path`,
    );
    expect(existsSync(join(state, 'tollgate.sqlite'))).toBe(true);
    // Absolute paths (the helper's TOLLGATE_HOME) draw no warning.
    expect(tollgate(['-c', policy, '--', process.execPath, FAKE_SERVER]).stderr).not.toContain(
      'relative path',
    );
  });
});

describe('a policy file given without -c', () => {
  it('is refused with the command line that works, not ignored', () => {
    const bare = tollgate(['validate', policy]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain(`tollgate: give the policy file with -c: tollgate validate -c ${policy}`);
    const explain = tollgate(['explain', policy, '--tool', 'x']);
    expect(explain.code).toBe(2);
    expect(explain.stderr).toContain(
      `tollgate: give the policy file with -c: tollgate explain -c ${policy} --tool x`,
    );
    // A second file after -c is no longer dropped silently.
    const extra = tollgate(['validate', '-c', policy, join(dir, 'other.yaml')]);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain("error: too many arguments for 'validate'");
    expect(extra.stderr).not.toContain('give the policy file with -c');
  });
});

describe('directory options left empty', () => {
  it('are usage errors that say so (an unset variable), not the default or the working directory', () => {
    const empty =
      'the directory is empty (an unset variable?); give a directory, or leave the option out for the default';
    for (const [args, option] of [
      [['validate', '-c', policy, '--server', 'filesystem', '--catalog', ''], '--catalog <dir>'],
      [['-c', policy, '--state-dir', '', '--', process.execPath, FAKE_SERVER], '--state-dir <dir>'],
      [['explain', '-c', policy, '--tool', 'x', '--state-dir', ' '], '--state-dir <dir>'],
      [['catalog', 'stats', '--dir', ''], '--dir <dir>'],
      [['catalog', 'import', '--out', '', 'x.json'], '--out <dir>'],
    ] as const) {
      const r = tollgate([...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(
        `error: option '${option.startsWith('--out') ? '-o, --out <dir>' : option}' argument`,
      );
      expect(r.stderr).toContain(empty);
    }
  });
});

describe('TOLLGATE_LOG_LEVEL', () => {
  it('sets the log level when --log-level is not given, and is checked as the option is', () => {
    const server = ['--', process.execPath, FAKE_SERVER];
    const quiet = runCli(['-c', policy, ...server], {
      env: { TOLLGATE_HOME: join(dir, 'home'), TOLLGATE_LOG_LEVEL: 'warn' },
    });
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).not.toContain('tollgate proxy started');
    const given = runCli(['-c', policy, '--log-level', 'info', ...server], {
      env: { TOLLGATE_HOME: join(dir, 'home'), TOLLGATE_LOG_LEVEL: 'warn' },
    });
    expect(given.stderr).toContain('tollgate proxy started');
    const bad = runCli(['-c', policy, ...server], {
      env: { TOLLGATE_HOME: join(dir, 'home'), TOLLGATE_LOG_LEVEL: 'loud' },
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      "error: option '--log-level <level>' value 'loud' from env 'TOLLGATE_LOG_LEVEL' is invalid. Allowed choices are fatal, error, warn, info, debug, trace, silent.",
    );
  });
});

describe("the proxy's options before a subcommand", () => {
  it('are refused, as typed, instead of dropped (explain would read another store)', () => {
    const explain = tollgate(['--state-dsn=memory:', 'explain', '-c', policy, '--tool', 'x']);
    expect(explain.code).toBe(2);
    expect(explain.stderr).toContain(
      'error: --state-dsn before `explain` is an option of the proxy, not of `explain`: put the options of a command after its name, e.g. tollgate explain --state-dsn ...',
    );
    const validate = tollgate(['-c', policy, '--no-watch', 'validate']);
    expect(validate.code).toBe(2);
    expect(validate.stderr).toContain('error: -c, --no-watch before `validate` are options of the proxy');
    const json = tollgate(['--state-dir', dir, 'status', '--json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout).errors[0]).toMatchObject({
      code: 'usage',
      reason: 'tollgate.optionBeforeCommand',
    });
    // After the subcommand's name they are its own.
    expect(tollgate(['validate', '-c', policy]).code).toBe(0);
    // A server command after -- named like a subcommand is no subcommand: said so, with the way out.
    const named = tollgate(['-c', policy, '--', 'status']);
    expect(named.code).toBe(2);
    expect(named.stderr).toContain(
      'error: the server command `status` after -- has the name of a tollgate command; give its path (./status) or start it through env: tollgate ... -- env status ...',
    );
  });
});

describe('the counter store in force', () => {
  it('is named at start-up, and an env DSN that --state-dir overrides is warned about', () => {
    const server = ['--', process.execPath, FAKE_SERVER];
    const env = { TOLLGATE_HOME: join(dir, 'home'), TOLLGATE_STATE_DSN: 'redis://:pw@127.0.0.1:1/0' };
    const own = join(dir, 'own-state');
    const r = runCli(['-c', policy, '--state-dir', own, ...server], { env, timeoutMs: 30_000 });
    expect(r.stderr).toContain(`"store":"sqlite:${join(own, 'tollgate.sqlite')}","failMode":"closed"`);
    expect(r.stderr).toContain(
      '--state-dir wins over TOLLGATE_STATE_DSN (redis://:***@127.0.0.1:1/0): this proxy counts in its own SQLite file and shares no limit',
    );
    expect(r.stderr).not.toContain(':pw@');
    const memory = tollgate(['-c', policy, '--state-dsn', 'memory:', '--state-fail-mode', 'open', ...server]);
    expect(memory.stderr).toContain('counting in memory: (state fail mode open)');
    expect(memory.stderr).not.toContain('wins over');
  });
});

describe('a policy inside a directory the server is given', () => {
  it('is warned about at startup: an agent could rewrite it', () => {
    const shared = mkdtempSync(join(tmpdir(), 'tollgate-exposed-'));
    const inside = join(shared, 'policy.yaml');
    writeFileSync(inside, 'version: "1"\ndefault: allow\n');
    const r = tollgate(['-c', inside, '--', process.execPath, FAKE_SERVER, `--root=${shared}`]);
    expect(r.stderr).toContain(
      `the policy file is inside ${shared}, a directory the server is given: an agent that can write there can rewrite the policy`,
    );
    // A symlink inside the directory, to a policy outside it: the agent can replace the link.
    const outside = join(mkdtempSync(join(tmpdir(), 'tollgate-outside-')), 'real.yaml');
    writeFileSync(outside, 'version: "1"\ndefault: allow\n');
    symlinkSync(outside, join(shared, 'linked.yaml'));
    const linked = tollgate(['-c', join(shared, 'linked.yaml'), '--', process.execPath, FAKE_SERVER, shared]);
    expect(linked.stderr).toContain(`the policy file is inside ${shared}, a directory the server is given`);
    // A policy elsewhere: no warning.
    const elsewhere = tollgate(['-c', policy, '--', process.execPath, FAKE_SERVER, shared]);
    expect(elsewhere.stderr).not.toContain('a directory the server is given');
    rmSync(shared, { recursive: true, force: true });
  });

  it('so are the counter state and the decision log: an agent could reset every limit', () => {
    const shared = mkdtempSync(join(tmpdir(), 'tollgate-exposed-'));
    const home = join(shared, '.tollgate');
    const server = ['--', process.execPath, FAKE_SERVER, shared];
    const r = runCli(['-c', policy, ...server], { env: { TOLLGATE_HOME: home }, timeoutMs: 30_000 });
    expect(r.stderr).toContain(
      `the counter state (${join(home, 'state', 'tollgate.sqlite')}) is inside ${shared}, a directory the server is given: an agent that can write there can reset every rate limit and counter by emptying or deleting it`,
    );
    expect(r.stderr).toContain(
      `the decision log (${join(home, 'events')}) is inside ${shared}, a directory the server is given: an agent that can write there can rewrite or delete the record of its calls`,
    );
    // Counts elsewhere (--state-dir), or not in a file at all: only the log is warned about.
    const elsewhere = runCli(['-c', policy, '--state-dsn', 'memory:', ...server], {
      env: { TOLLGATE_HOME: home },
      timeoutMs: 30_000,
    });
    expect(elsewhere.stderr).not.toContain('the counter state');
    expect(elsewhere.stderr).toContain('the decision log');
    // Nothing of Tollgate's in the directory: no warning.
    const apart = tollgate(['-c', policy, ...server]);
    expect(apart.stderr).not.toContain('a directory the server is given');
    rmSync(shared, { recursive: true, force: true });
  });

  it("so is /proc, while Tollgate's environment or command line holds a secret the server's lacks", () => {
    const server = ['--', process.execPath, FAKE_SERVER, '/'];
    const dsn = runCli(['-c', policy, '--state-dsn', 'memory:', ...server], {
      env: { TOLLGATE_HOME: join(dir, 'home'), TOLLGATE_AUTH_TOKEN: 'tok' },
      timeoutMs: 30_000,
    });
    expect(dsn.stderr).toMatch(
      /the server is given \/, which holds \/proc: its file tools can read \/proc\/\d+\/environ and cmdline, Tollgate's own environment and command line, with TOLLGATE_AUTH_TOKEN, which Tollgate keeps from the server otherwise/,
    );
    const argv = tollgate(['-c', policy, '--state-dsn', 'redis://:hunter2@127.0.0.1:1/0', ...server]);
    expect(argv.stderr).toContain('with the credentials on its command line');
    expect(argv.stderr).not.toContain('hunter2');
    // Nothing secret to read there, or /proc out of reach: no warning.
    expect(tollgate(['-c', policy, ...server]).stderr).not.toContain('holds /proc');
    expect(ownSecretsReadableIn([dir], { TOLLGATE_AUTH_TOKEN: 't' }, ['node', 'tollgate'])).toBe(undefined);
    // A DSN without credentials is no secret; a server's own credentials after -- are the server's.
    expect(ownSecretsReadableIn(['/proc'], { TOLLGATE_STATE_DSN: 'memory:' }, ['node', 'tollgate'])).toBe(
      undefined,
    );
    expect(
      ownSecretsReadableIn(['/proc'], {}, ['node', 'tollgate', '-c', 'p', '--', 'srv', 'GITHUB_TOKEN=ghp_x']),
    ).toBe(undefined);
    expect(
      ownSecretsReadableIn(['/proc'], { TOLLGATE_STATE_DSN: 'rediss://:pw@h:6380/0' }, ['node', 'tollgate']),
    ).toEqual({ directory: '/proc', secrets: ['TOLLGATE_STATE_DSN'] });
    expect(ownSecretsReadableIn(['/proc'], { TOLLGATE_AUTH_TOKEN: 't' }, ['node', 'tollgate'])).toEqual({
      directory: '/proc',
      secrets: ['TOLLGATE_AUTH_TOKEN'],
    });
  });

  it('is found in file:// URLs, --name=value lists and host:container pairs too', () => {
    const shared = mkdtempSync(join(tmpdir(), 'tollgate-exposed-'));
    const inside = join(shared, 'policy.yaml');
    writeFileSync(inside, 'version: "1"\ndefault: allow\n');
    const other = mkdtempSync(join(tmpdir(), 'tollgate-other-'));
    expect(directoryArgumentHolding(inside, [pathToFileURL(shared).href])).toBe(shared);
    expect(directoryArgumentHolding(inside, [`--dirs=${other},${shared}`])).toBe(shared);
    expect(directoryArgumentHolding(inside, ['-v', `${shared}:/data`])).toBe(shared);
    expect(directoryArgumentHolding(inside, [shared])).toBe(shared);
    // `~/...` as a JSON client config passes it (the server expands it): HOME is the parent here.
    const home = process.env.HOME;
    process.env.HOME = dirname(shared);
    try {
      expect(homedir()).toBe(dirname(shared));
      const tilde = `~/${basename(shared)}`;
      expect(directoryArgumentHolding(inside, [tilde])).toBe(shared);
      expect(directoryArgumentHolding(inside, ['~/elsewhere'])).toBe(undefined);
    } finally {
      process.env.HOME = home;
    }
    expect(
      directoryArgumentHolding(inside, [`--dirs=${other}`, pathToFileURL(other).href, `${other}:/x`]),
    ).toBe(undefined);
    rmSync(shared, { recursive: true, force: true });
    rmSync(other, { recursive: true, force: true });
  });
});
