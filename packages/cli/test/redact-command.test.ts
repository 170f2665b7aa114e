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
