import fs from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** The Chromium the dashboard tests drive (Debian's package; CI installs it). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A reason to skip the browser tests, or false when Chromium is there. */
export const chromiumSkip: string | false = fs.existsSync(CHROMIUM)
  ? false
  : `no Chromium at ${CHROMIUM} (Debian: apt-get install chromium; .ci/run installs it)`;

/** Headless Chromium as root in a sandboxed machine with no outside network: no sandbox, no background traffic. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
