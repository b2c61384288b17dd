/**
 * Real browsers, none downloaded: Debian's Chromium driven by playwright-core, and Debian's
 * Firefox ESR driven by puppeteer-core over WebDriver BiDi (Playwright drives only its own
 * patched Firefox builds). `.ci/run` installs both packages; CHROMIUM_PATH and FIREFOX_PATH
 * point elsewhere if needed.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import puppeteer, { type Browser as BidiBrowser } from 'puppeteer-core';
import { ROOT } from './scenes.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const FIREFOX = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';
/** Screenshots and other artefacts of the browser tests (git-ignored). */
export const TEST_OUTPUT = join(ROOT, 'test-output');

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  mkdirSync(TEST_OUTPUT, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in CI needs --no-sandbox; the rest keeps Chromium off the (closed) network.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

export async function launchFirefox(): Promise<BidiBrowser> {
  if (!existsSync(FIREFOX)) throw new Error(`no Firefox at ${FIREFOX}: apt-get install firefox-esr (or set FIREFOX_PATH)`);
  return puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, headless: true });
}
