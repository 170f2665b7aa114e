import { describe, expect, it } from 'vitest';
import { redactCommand } from '../src/redact-command.js';

describe('redactCommand: credentials in a server command line are masked where it is shown', () => {
  it('masks the values of options and variables named for a credential, in both spellings', () => {
    expect(
      redactCommand(['npx', '-y', '@stripe/mcp', '--tools=all', '--api-key=sk_live_SUPERSECRET']),
    ).toEqual(['npx', '-y', '@stripe/mcp', '--tools=all', '--api-key=***']);
    expect(
      redactCommand(['npx', '@sentry/mcp-server', '--access-token', 'abc123', '--host', 'x.io']),
    ).toEqual(['npx', '@sentry/mcp-server', '--access-token', '***', '--host', 'x.io']);
    expect(redactCommand(['env', 'GITHUB_TOKEN=abc', 'DEBUG=1', 'server'])).toEqual([
      'env',
      'GITHUB_TOKEN=***',
      'DEBUG=1',
      'server',
    ]);
    expect(redactCommand(['srv', '--client-secret=s', '--password', 'p', '--Auth=x'])).toEqual([
      'srv',
      '--client-secret=***',
      '--password',
      '***',
      '--Auth=***',
    ]);
  });

  it('masks well-known token shapes wherever they stand, and URL credentials', () => {
    expect(
      redactCommand(['npx', '@neondatabase/mcp-server-neon', 'start', 'napi_abcdefghijklmnopqrstuvwxyz0123']),
    ).toEqual(['npx', '@neondatabase/mcp-server-neon', 'start', '***']);
    expect(redactCommand(['srv', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789', 'xoxb-1-2-abc'])).toEqual([
      'srv',
      '***',
      '***',
    ]);
    expect(redactCommand(['srv', 'postgres://user:pw@db:5432/app', 'https://x.io/mcp?token=abc'])).toEqual([
      'srv',
      'postgres://***:***@db:5432/app',
      'https://x.io/mcp?token=***',
    ]);
  });

  it('keeps everything else as it is, the executable and paths included', () => {
    const argv = ['/usr/bin/node', 'server.js', '--port', '8080', '--tools=all', '/srv/key', 'keyword', '-t'];
    expect(redactCommand(argv)).toEqual(argv);
  });
});

describe('redactCommand: the spellings a fresh tester tried', () => {
  const shown = (...args: string[]) => redactCommand(['srv', ...args]).slice(1);

  it('masks URLs with credentials inside values, Go-style options, headers, JSON and shell strings', () => {
    expect(shown('DATABASE_URL=postgres://user:FFF1@db/x', '--dsn=postgres://u:FFF3@h/db')).toEqual([
      'DATABASE_URL=postgres://***:***@db/x',
      '--dsn=postgres://***:***@h/db',
    ]);
    // Redis URLs often carry a password and no user name.
    expect(shown('redis://:FFF4@cache:6379/0', 'REDIS_URL=rediss://:FFF5@h', 'http://h/@x')).toEqual([
      'redis://:***@cache:6379/0',
      'REDIS_URL=rediss://:***@h',
      'http://h/@x',
    ]);
    expect(shown('-token', 'GGG1', '-api-key=GGG2', '-password', 'GGG3')).toEqual([
      '-token',
      '***',
      '-api-key=***',
      '-password',
      '***',
    ]);
    expect(
      shown('--header', 'Authorization: Bearer CCC1', '-H', 'X-Api-Key: CCC2', '--header=Authorization=CCC3'),
    ).toEqual(['--header', 'Authorization: ***', '-H', 'X-Api-Key: ***', '--header=Authorization=***']);
    expect(shown('--config', '{"apiKey":"DDD1","token":"DDD2","region":"eu"}')).toEqual([
      '--config',
      '{"apiKey":"***","token":"***","region":"eu"}',
    ]);
    expect(redactCommand(['sh', '-c', 'server --api-key=III1 --port 80'])).toEqual([
      'sh',
      '-c',
      'server --api-key=*** --port 80',
    ]);
    expect(
      shown(
        'https://hooks.slack.com/services/T000/B000/EEE1secret',
        'https://api.telegram.org/botEEE2:tok/send',
      ),
    ).toEqual(['https://hooks.slack.com/services/***', 'https://api.telegram.org/bot***/send']);
    expect(
      shown('--bearer', 'x1', '--pat', 'x2', '--pass', 'x3', '--passphrase', 'x4', '-eSECRET=BBB3'),
    ).toEqual(['--bearer', '***', '--pat', '***', '--pass', '***', '--passphrase', '***', '-eSECRET=***']);
    expect(
      shown(
        'AIzaSyA1234567890abcdefghijklmnopqrstuv',
        'hf_abcdefghijklmnopqrstuvwxyzABCDEF',
        'Bearer ghp_abcdefghijklmnopqrstuvwxyz0123456789',
      ),
    ).toEqual(['***', '***', 'Bearer ***']);
  });

  it('keeps boolean options, the options after them, paths and keys that are no credentials', () => {
    expect(shown('--no-auth', '--port', '3000', '--disable-auth', '--read-only')).toEqual([
      '--no-auth',
      '--port',
      '3000',
      '--disable-auth',
      '--read-only',
    ]);
    expect(
      shown('--use-cookie', '--storage-state', '/x', '--oauth', '/srv/data', '--private-key', '/etc/k.pem'),
    ).toEqual([
      '--use-cookie',
      '--storage-state',
      '/x',
      '--oauth',
      '/srv/data',
      '--private-key',
      '/etc/k.pem',
    ]);
    expect(
      shown('--sort-key', 'name', '--primary-key', 'id', '--partition-key', 'tenant', 'MONKEY=1', 'TURKEY=2'),
    ).toEqual([
      '--sort-key',
      'name',
      '--primary-key',
      'id',
      '--partition-key',
      'tenant',
      'MONKEY=1',
      'TURKEY=2',
    ]);
  });
});
