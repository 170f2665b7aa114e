import { describe, expect, it } from 'vitest';
import { nameTokens, sharedRun, words } from './tokens.js';

describe('nameTokens', () => {
  it('splits snake, kebab, camel, Pascal and dotted names', () => {
    expect(nameTokens('create_pull_request')).toEqual(['create', 'pull', 'request']);
    expect(nameTokens('API-get-user')).toEqual(['api', 'get', 'user']);
    expect(nameTokens('linear_createIssue')).toEqual(['linear', 'create', 'issue']);
    expect(nameTokens('ForwardGeocodeTool')).toEqual(['forward', 'geocode', 'tool']);
    expect(nameTokens('mail.send')).toEqual(['mail', 'send']);
    expect(nameTokens('getHTTPResponse')).toEqual(['get', 'http', 'response']);
  });
});

describe('sharedRun', () => {
  it('finds a run of six identical consecutive words, ignoring case and punctuation', () => {
    expect(
      sharedRun('It will Read the file contents from disk now', 'read the file contents from disk.'),
    ).toBe('read the file contents from disk');
  });
  it('returns null for five shared words', () => {
    expect(sharedRun('read the file contents from memory', 'read the file contents from disk')).toBeNull();
  });
  it('honours n', () => {
    expect(sharedRun('a b c', 'x a b c y', 3)).toBe('a b c');
    expect(words("Don't stop!")).toEqual(['don', 't', 'stop']);
  });
});
