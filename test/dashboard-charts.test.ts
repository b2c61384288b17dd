/**
 * The dashboard's throughput pictures in real browsers (Debian's Chromium through playwright-core,
 * Firefox ESR through puppeteer-core) against a real farm of three worker processes: the job
 * page's tiles-per-minute chart fills in live and has a bar per bucket of the job's decisions, its
 * worker shares sum to 100 %; the workers pages chart each worker's last hour.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobStatus, Leaderboard } from '../shared/protocol.ts';
import { bucketTiles } from '../shared/throughput.ts';
import { CHROMIUM, FIREFOX, GET_CHROMIUM, GET_FIREFOX, launchChromium, signedInFirefoxPage, TEST_OUTPUT } from './support/browser.ts';
import { TestFarm, TOKEN, waitFor } from './support/farm.ts';
import { shippedRaw } from './support/scenes.ts';

/** The Cornell box in 48 tiles, two agreeing workers each: long enough for a few buckets. */
const JOB = { scene: shippedRaw('cornell'), width: 128, height: 96, spp: 8, tileSize: 16, verification: 'quorum', replicas: 2 };
const TILES = 48;
const WORKERS = ['alpha', 'beta', 'gamma'];

let farm: TestFarm;
let browser: Browser;
let jobId: string;

const ifChromium = describe.skipIf(!CHROMIUM);
const chromiumTitle = CHROMIUM ? 'throughput charts' : `throughput charts — skipped: no Chromium; \`${GET_CHROMIUM}\``;
const firefoxTitle = FIREFOX
  ? 'shows the same charts in Firefox'
  : `shows the same charts in Firefox — skipped: no Firefox; \`${GET_FIREFOX}\``;

beforeAll(async () => {
  if (!CHROMIUM) return;
  farm = await TestFarm.start();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await farm?.stop();
});

/** The bars the job's chart must have: one per bucket of its verdicts, from submission to its end. */
async function expectedBars(id: string): Promise<number> {
  const status = (await farm.client.status(id)) as JobStatus;
  const tasks = await farm.tasks(id, 0);
  return bucketTiles(
    tasks.map((t) => t.decidedAt as number),
    status.createdAt,
    status.finishedAt as number,
  ).tiles.length;
}

/** Each worker's results accepted in the last hour, as the API counts them. */
async function lastHour(): Promise<Map<string, number>> {
  const board = (await (await fetch(`${farm.url}/api/workers?limit=50`)).json()) as Leaderboard;
  return new Map(board.workers.map((w) => [w.name, w.recent.reduce((a, b) => a + b, 0)]));
}

const tenths = (percents: readonly (string | null)[]) => percents.reduce((a, p) => a + Math.round(Number(p) * 10), 0);

ifChromium(chromiumTitle, () => {
  it('draws the job’s tiles per minute live, a bar per bucket once done, and worker shares summing to 100 %', async () => {
    const page: Page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    ({ id: jobId } = await farm.client.submit({ ...JOB, name: 'charts' }));
    await page.goto(`${farm.url}/#token=${TOKEN}`);
    await page.locator('.who button').waitFor();
    await page.goto(`${farm.url}/#/jobs/${jobId}`);
    await page.getByTestId('throughput').filter({ hasText: 'No tile verified yet' }).waitFor();

    // Workers join (one at a time: the first calibrates the class) while the job is paused, so
    // that none is still starting when the others have rendered every tile; the chart fills in
    // from the page's live events alone (it never reloads).
    await farm.client.call('POST', `/api/jobs/${jobId}/pause`);
    const ids: string[] = [];
    for (const name of WORKERS) ids.push((await farm.startWorker(name)).id);
    await waitFor(async () => (await Promise.all(ids.map((id) => farm.worker(id)))).every((w) => w?.online), 30_000, 'the workers');
    await farm.client.call('POST', `/api/jobs/${jobId}/resume`);
    const chart = page.getByTestId('throughput-chart');
    await expect.poll(() => chart.getAttribute('data-tiles'), { timeout: 120_000 }).toBe(String(TILES));
    await expect.poll(() => page.getByTestId('job-state').textContent()).toBe('done');
    await chart.locator('canvas').first().waitFor();
    await expect.poll(async () => Number(await chart.getAttribute('data-points'))).toBe(await expectedBars(jobId));

    // Every worker that rendered has its share, and the shares add up to 100 %.
    const shares = page.getByTestId('shares').locator('li');
    await expect.poll(() => shares.count()).toBe(WORKERS.length);
    expect(tenths(await shares.evaluateAll((els) => els.map((e) => e.getAttribute('data-percent'))))).toBe(1000);
    expect((await shares.locator('a').allTextContents()).sort()).toEqual(WORKERS);

    await page.screenshot({ path: join(TEST_OUTPUT, 'charts-job.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('charts each worker’s results of the last hour on the workers page and its own page', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${farm.url}/#/workers`);
    await page.locator('[data-testid=recent-chart] canvas').first().waitFor();
    expect(await page.getByTestId('recent-chart').getAttribute('data-series')).toBe(String(WORKERS.length));
    const counts = await lastHour();
    expect(WORKERS.reduce((a, name) => a + (counts.get(name) ?? 0), 0)).toBe(2 * TILES);
    for (const name of WORKERS) {
      const row = page.locator(`[data-testid=leaderboard] tr[data-name=${name}]`);
      expect(await row.locator('[data-field=recent]').textContent()).toBe(String(counts.get(name)));
    }
    await page.screenshot({ path: join(TEST_OUTPUT, 'charts-workers.png'), fullPage: true });

    await page.locator('[data-testid=leaderboard] tr[data-name=alpha] a').click();
    await page.waitForURL(/#\/workers\/w/);
    await page.locator('[data-testid=recent-chart] canvas').first().waitFor();
    expect(await page.getByTestId('recent-chart').getAttribute('data-series')).toBe('1');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('fits the charts on a 390 px phone screen', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await page.goto(`${farm.url}/#token=${TOKEN}`);
    await page.locator('.who button').waitFor();
    for (const [route, chart] of [
      [`#/jobs/${jobId}`, 'throughput-chart'],
      ['#/workers', 'recent-chart'],
    ]) {
      await page.evaluate((hash) => {
        location.hash = hash;
      }, route);
      await page.locator(`[data-testid=${chart}] canvas`).first().waitFor();
      const box = await page.getByTestId(chart).boundingBox();
      expect(box && box.x + box.width).toBeLessThanOrEqual(390);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBe(390);
    }
    await page.close();
  });

  it.skipIf(!FIREFOX)(firefoxTitle, async () => {
    const { page, errors } = await signedInFirefoxPage(farm.url, TOKEN);
    await page.waitForSelector('.who button');
    await page.evaluate((id) => {
      location.hash = `#/jobs/${id}`;
    }, jobId);
    await page.waitForSelector('[data-testid=throughput-chart] canvas');
    const chart = await page.$eval('[data-testid=throughput-chart]', (e) => [e.getAttribute('data-tiles'), e.getAttribute('data-points')]);
    expect(chart).toEqual([String(TILES), String(await expectedBars(jobId))]);
    expect(tenths(await page.$$eval('[data-testid=shares] li', (els) => els.map((e) => e.getAttribute('data-percent'))))).toBe(1000);

    await page.evaluate(() => {
      location.hash = '#/workers';
    });
    await page.waitForSelector('[data-testid=recent-chart] canvas');
    expect(await page.$eval('[data-testid=recent-chart]', (e) => e.getAttribute('data-series'))).toBe(String(WORKERS.length));
    const counts = await lastHour();
    const shown = await page.$$eval('[data-testid=leaderboard] tr[data-name]', (rows) =>
      rows.map((r) => [r.getAttribute('data-name'), r.querySelector('[data-field=recent]')?.textContent]),
    );
    for (const [name, value] of shown) expect(value).toBe(String(counts.get(name as string)));
    expect(errors).toEqual([]);
  });
});
