/**
 * Debian's chromium for browser tests, driven by playwright-core (`npx playwright install` does not
 * work on the project machines). Shared by the listener's CORS test and the site's browser tests.
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { describe, it } from 'vitest';

/** Where Debian installs chromium (`apt-get install -y chromium`). */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * `describe(name, body)` when chromium is installed. Without it the block is skipped with a
 * warning, except with `CI=true`, where a failing test says it is missing.
 */
export function describeWithChromium(name: string, body: () => void): void {
  if (existsSync(CHROMIUM)) {
    describe(name, body);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs chromium in CI', () => {
        throw new Error(`${CHROMIUM} is missing; CI must install it (apt-get install -y chromium)`);
      });
    });
  } else {
    console.warn(`${name}: skipped, ${CHROMIUM} not found (apt-get install -y chromium)`);
    describe.skip(`${name} (chromium missing)`, () => {
      it('skipped', () => {});
    });
  }
}

/** Launches headless chromium with the flags that work on these machines, plus `extraArgs`. */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
}
