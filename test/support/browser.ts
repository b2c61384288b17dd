/**
 * Real browsers, none downloaded by the tests themselves: a system Chromium (Debian's, or one
 * `npx playwright-core install chromium` fetched) driven by playwright-core, and Debian's Firefox
 * ESR driven by puppeteer-core over WebDriver BiDi (Playwright drives only its own patched Firefox
 * builds). `.ci/run` installs both Debian packages; CHROMIUM_PATH and FIREFOX_PATH point elsewhere.
 * Where none is found, the browser tests are skipped and name the command that gets one.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import puppeteer, { type Browser as BidiBrowser, type ElementHandle, type Page } from 'puppeteer-core';
import { onTestFinished } from 'vitest';
import { ROOT } from './scenes.ts';

const firstPresent = (paths: (string | undefined)[]): string | undefined => paths.find((p) => p && existsSync(p));

export const CHROMIUM = firstPresent([
  process.env.CHROMIUM_PATH,
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  chromium.executablePath(),
]);
export const FIREFOX = firstPresent([process.env.FIREFOX_PATH, '/usr/bin/firefox-esr', '/usr/bin/firefox']);
export const GET_CHROMIUM = 'npx playwright-core install chromium';
export const GET_FIREFOX = 'apt-get install firefox-esr';
/** Screenshots and other artefacts of the browser tests (git-ignored). */
export const TEST_OUTPUT = join(ROOT, 'test-output');

export async function launchChromium(): Promise<Browser> {
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
  return puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, headless: true });
}

/**
 * A Firefox page of 1280×900 signed in at `url` with the token, closed when the test ends, and the
 * page errors it meets (a test expects none).
 */
export async function signedInFirefoxPage(url: string, token: string) {
  const firefox = await launchFirefox();
  onTestFinished(() => firefox.close());
  const page = await firefox.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${url}/#token=${token}`);
  return { page, errors };
}

/**
 * The button labelled `name` once the Firefox page shows one, its label read afresh at each look:
 * puppeteer's text selectors (`::-p-text`) keep a node's text until a mutation observer says it
 * changed, and over BiDi a label Preact changed in place went unseen (the page said Resume; the
 * selector waited on for Pause's old text).
 */
export async function buttonLabelled(page: Page, name: string): Promise<ElementHandle<HTMLButtonElement>> {
  const found = await page.waitForFunction(
    (label) => [...document.querySelectorAll('button')].find((b) => b.textContent?.trim() === label),
    {},
    name,
  );
  return found as ElementHandle<HTMLButtonElement>;
}
