/**
 * The web dashboard in a real browser (Debian Chromium via playwright-core) against a real farm:
 * Redis, the orchestrator serving the built page, and two worker processes. Also the operator's
 * endpoints: /metrics (scraped and parsed) and bull-board behind the operator token.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIVE_REFUSED } from '../dashboard/src/live.ts';
import { decodeRgba } from '../shared/png.ts';
import {
  buttonLabelled,
  CHROMIUM,
  FIREFOX,
  GET_CHROMIUM,
  GET_FIREFOX,
  launchChromium,
  signedInFirefoxPage,
  TEST_OUTPUT,
} from './support/browser.ts';
import { TestFarm, TOKEN, waitFor } from './support/farm.ts';
import { parsePrometheus, sumOf } from './support/prometheus.ts';
import { ROOT, shippedRaw } from './support/scenes.ts';

/** The Cornell box at 64×48 in 12 tiles, verified by two agreeing workers. */
const SMALL_CORNELL = { scene: shippedRaw('cornell'), width: 64, height: 48, spp: 4, tileSize: 16, verification: 'quorum', replicas: 2 };

let farm: TestFarm;
let browser: Browser;
let jobId: string;

// Without a browser these tests cannot run here: they say so, and how to get one (CI has both).
const ifChromium = describe.skipIf(!CHROMIUM);
const chromiumTitle = CHROMIUM ? 'dashboard' : `dashboard — skipped: no Chromium; \`${GET_CHROMIUM}\``;
const firefoxTitle = FIREFOX
  ? 'works the same in Firefox: submit a sample, watch it verify, exact pixels'
  : `works the same in Firefox — skipped: no Firefox; \`${GET_FIREFOX}\``;
const firefoxControlsTitle = FIREFOX
  ? 'in Firefox too: job controls, the job title, the live view moving to the next frame, a #token link in an open tab, a bad file’s problems cleared, a phone screen'
  : `job controls and the fixed bugs in Firefox — skipped: no Firefox; \`${GET_FIREFOX}\``;

beforeAll(async () => {
  if (!CHROMIUM) return;
  // A market interval of a second, so that the market page has clearings to show.
  farm = await TestFarm.start({ env: { FARM_MARKET_INTERVAL_MS: '1000' } });
  const home = await fetch(`${farm.url}/`);
  if (!home.ok) throw new Error(`the orchestrator does not serve the dashboard (${home.status}): run \`npm run build\``);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await farm?.stop();
});

/**
 * The farm's two workers, started once: by the first test once its job is waiting (to see tiles
 * wait for them), or by a test run alone (\`-t\`) that renders.
 */
let workers: Promise<unknown> | undefined;
const twoWorkers = () => {
  workers ??= Promise.all([farm.startWorker('alpha'), farm.startWorker('beta')]);
  return workers;
};

/**
 * Pauses a two-frame job as soon as its first frame is stitched, so that the live view can be seen
 * on the second while it is still unfinished: a loaded machine may otherwise render both frames
 * before the page hears of either, and a finished job's view opens on its first frame.
 */
async function holdAfterFirstFrame(job: string): Promise<void> {
  await waitFor(async () => (await farm.client.status(job)).frames[0].done, 90_000, 'the first frame', 20);
  expect((await farm.client.call('POST', `/api/jobs/${job}/pause`)).status).toBe(200);
}

interface FrameView {
  /** The frame in the heading, as the page shows it. */
  frame: number;
  /** Tiles painted on its canvas. */
  painted: number;
  /** Tiles verified, by its heading (NaN once stitched: this view is of an unfinished frame). */
  verified: number;
}

/** The live view's frame (runs in the page). */
function frameView(): FrameView {
  const state = document.querySelector('[data-testid=frame-state]');
  return {
    frame: Number(/^Frame (\d+)/.exec(state?.parentElement?.textContent ?? '')?.[1]),
    painted: Number(document.querySelector('.frame-view canvas')?.getAttribute('data-painted')),
    verified: Number(/^(\d+) \//.exec(state?.textContent ?? '')?.[1]),
  };
}

/**
 * Once the live view of a job held by holdAfterFirstFrame has moved on to `frame`, its canvas
 * shows that frame's verified tiles and nothing of the frame before (a bug once kept the last
 * frame's pixels under the new heading). Then the job resumes.
 */
async function followsToNextFrame(view: () => Promise<FrameView>, job: string, frame: number) {
  await expect.poll(async () => (await view()).frame, { timeout: 30_000 }).toBe(frame);
  const { painted, verified } = await view();
  expect(painted).toBeLessThanOrEqual(verified);
  expect((await farm.client.call('POST', `/api/jobs/${job}/resume`)).status).toBe(200);
}

/** Every byte of the frame canvas, as the page shows it (runs in the page). */
function canvasBytes(): number[] {
  const canvas = document.querySelector('.frame-view canvas') as HTMLCanvasElement;
  return Array.from(canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data ?? []);
}
const canvasPixels = (page: Page) => page.evaluate(canvasBytes);

ifChromium(chromiumTitle, () => {
  it('uploads cornell.json, fills the tile grid live and shows the stitched frame exactly', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));

    await page.goto(`${farm.url}/#token=${TOKEN}`);
    await page.locator('input[name=scene-file]').setInputFiles(join(ROOT, 'scenes/cornell.json'));
    await page.fill('input[name=width]', '64');
    await page.fill('input[name=height]', '48');
    await page.fill('input[name=spp]', '4');
    await page.fill('input[name=tileSize]', '16');
    await page.locator('select[name=verification]').selectOption('quorum');
    await page.fill('input[name=replicas]', '2');
    await expect.poll(() => page.getByTestId('estimate').getAttribute('data-tasks')).toBe('12');
    // The most work the job can take: 64×48 pixels × 4 samples × 13 rays (5 bounces), in RU.
    expect(Number(await page.getByTestId('estimate').getAttribute('data-max-ru'))).toBeCloseTo((64 * 48 * 4 * 13) / 1e9, 12);
    await page.getByRole('button', { name: 'Render' }).click();
    await page.waitForURL(/#\/jobs\/j[0-9a-f]+$/);
    jobId = page.url().split('/').pop() as string;

    // No worker yet: the grid shows all 12 tiles waiting.
    const tiles = page.locator('.tile-grid .tile');
    await expect.poll(() => tiles.count()).toBe(12);
    expect(await tiles.evaluateAll((els) => els.map((e) => e.getAttribute('data-state')))).toEqual(Array(12).fill('pending'));

    // Workers join; the page fills in from server-sent events alone (it never reloads).
    await twoWorkers();
    await page.getByTestId('frame-state').filter({ hasText: 'verified and stitched' }).waitFor({ timeout: 90_000 });
    await expect.poll(() => page.locator('.frame-view canvas').getAttribute('data-painted')).toBe('12');
    expect(await tiles.evaluateAll((els) => els.map((e) => e.getAttribute('data-state')))).toEqual(Array(12).fill('verified'));
    await expect.poll(() => page.locator('.legend [data-state=verified]').getAttribute('data-count')).toBe('12');
    await expect.poll(() => page.getByTestId('job-state').textContent()).toBe('done');
    // A finished job says how long it took.
    expect(await page.getByTestId('took').textContent()).toMatch(/^ · took [\d.]+ (ms|s)|^ · took \d+ min \d+ s$/);
    // The metered work of the verified tiles (render units, shared/render-units.ts).
    expect(await page.locator('.stats').first().textContent()).toMatch(/ · [\d.e+-]+ RU of work verified/);

    const frame = await decodeRgba(await farm.client.download(`/api/jobs/${jobId}/frames/0`));
    expect([frame.width, frame.height]).toEqual([64, 48]);
    expect(Buffer.from(await canvasPixels(page)).equals(Buffer.from(frame.rgba))).toBe(true);

    // A tile's replicas: two distinct workers, named, hashes shown, both agreeing.
    await tiles.first().click();
    const rows = page.getByTestId('inspector').locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(2);
    const workers = await rows.locator('td:nth-child(2) a').allTextContents();
    expect(workers.sort()).toEqual(['alpha', 'beta']);
    expect(await rows.locator('.verdict').allTextContents()).toEqual(['agreed', 'agreed']);
    expect(await rows.locator('td:nth-child(3)').allTextContents()).toEqual(expect.arrayContaining([expect.stringMatching(/^bafkrei/)]));

    await page.screenshot({ path: join(TEST_OUTPUT, 'dashboard-job.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('signs in from a #token link in a tab already open, and clears a bad file’s problems when the next is chosen', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${farm.url}/#token=${TOKEN}`);
    await expect.poll(() => page.locator('.who').textContent()).toMatch(/\(operator\)/);
    const mint = async (name: string) =>
      ((await (await farm.client.call('POST', '/api/tokens', { name })).json()) as { token: string }).token;
    const openLink = (token: string) =>
      page.evaluate((t) => {
        location.hash = `#token=${t}`;
      }, token);
    /** The next dialog's question, answered yes or no. */
    const asked = (yes: boolean) =>
      new Promise<string>((resolve) =>
        page.once('dialog', (d) => {
          resolve(d.message());
          void (yes ? d.accept() : d.dismiss());
        }),
      );
    // Only the hash changes: no reload, the page must notice. A link that would replace the session
    // with another account asks first (any site may open one: what the victim submitted then went
    // to the link maker's account).
    const question = asked(true);
    await openLink(await mint('artist'));
    expect(await question).toMatch(/in place of operator \(operator\)/);
    await expect.poll(() => page.locator('.who').textContent()).toMatch(/^artist \(requester\)/);
    expect(page.url()).not.toContain('token=');
    const declined = asked(false);
    await openLink(await mint('link-maker'));
    expect(await declined).toMatch(/in place of artist \(requester\)/);
    await expect.poll(() => page.url()).not.toContain('token=');
    expect(await page.evaluate(() => fetch('/api/session').then((r) => r.json()))).toMatchObject({ name: 'artist' });
    expect(await page.locator('.who').textContent()).toMatch(/^artist \(requester\)/);

    const dir = mkdtempSync(join(tmpdir(), 'farm-form-'));
    const bad = { ...shippedRaw('cornell'), materials: [{ name: 'x', type: 'dielectric', ior: 0.5 }] };
    writeFileSync(join(dir, 'bad.json'), JSON.stringify(bad));
    writeFileSync(join(dir, 'garbled.json'), '{ not json');
    await page.locator('input[name=scene-file]').setInputFiles(join(dir, 'bad.json'));
    await expect.poll(() => page.locator('form.submit ul.issues li').count()).toBeGreaterThan(0);
    await page.locator('input[name=scene-file]').setInputFiles(join(dir, 'garbled.json'));
    await expect.poll(() => page.locator('form.submit p.error').textContent()).toMatch(/^garbled\.json is not JSON/);
    expect(await page.locator('form.submit ul.issues li').count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('offers the room as a manifest, imports a .glb through the orchestrator and renders two of its frames', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${farm.url}/#token=${TOKEN}`);
    // The room's texels and sky stay on the farm: the form gets its summary, not a megabyte.
    await page.locator('select[name=sample] option[value="room.json"]').waitFor({ state: 'attached' });
    await page.locator('select[name=sample]').selectOption('room.json');
    await expect.poll(() => page.locator('p.muted strong').textContent()).toBe('Room with a window');
    await page.locator('input[name=scene-file]').setInputFiles(join(ROOT, 'scenes/orbit.glb'));
    await expect
      .poll(() => page.locator('p.muted').first().textContent())
      .toMatch(/^orbit from orbit\.glb: 640×480, 64 spp, 49 frame\(s\)$/);
    await page.fill('input[name=frames]', '0,48');
    await page.fill('input[name=width]', '32');
    await page.fill('input[name=height]', '24');
    await page.fill('input[name=spp]', '2');
    // Tiles of 8 pixels: a dozen per frame, so that the second is still unfinished when the first is.
    await page.fill('input[name=tileSize]', '8');
    await page.locator('select[name=verification]').selectOption('quorum');
    await page.fill('input[name=replicas]', '2');
    await expect.poll(() => page.getByTestId('estimate').getAttribute('data-tasks')).toBe('24');
    await page.getByRole('button', { name: 'Render' }).click();
    await page.waitForURL(/#\/jobs\/j[0-9a-f]+$/);
    const id = page.url().split('/').pop() as string;
    await holdAfterFirstFrame(id);
    await followsToNextFrame(() => page.evaluate(frameView), id, 48);
    await expect.poll(() => page.getByTestId('job-state').textContent(), { timeout: 90_000 }).toBe('done');
    // The camera orbits: the first and last frames differ.
    const [first, last] = await Promise.all(
      [0, 48].map(async (f) => (await decodeRgba(await farm.client.download(`/api/jobs/${id}/frames/${f}`))).rgba),
    );
    expect(Buffer.from(first).equals(Buffer.from(last))).toBe(false);
    expect(errors).toEqual([]);
  });

  it('pauses, prioritises, funds, resumes, re-runs and deletes a job from its page', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // Big enough tiles to still be running when the button is pressed.
    const { id } = await farm.client.submit({ ...SMALL_CORNELL, width: 256, height: 192, spp: 64, tileSize: 64, name: 'to pause' });
    await page.goto(`${farm.url}/#token=${TOKEN}`);
    await page.evaluate((job) => {
      location.hash = `#/jobs/${job}`;
    }, id);
    await page.getByRole('button', { name: 'Pause' }).click();
    await page.getByRole('button', { name: 'Resume' }).waitFor();
    expect(await page.locator('.stats').first().textContent()).toMatch(/held up: paused/);
    expect((await farm.client.status(id)).paused).toBe(true);
    await page.fill('input[name=priority]', '20');
    await page.getByRole('button', { name: 'Set' }).click();
    await expect.poll(async () => (await farm.client.status(id)).priority).toBe(20);
    await page.locator('.job-head').filter({ hasText: 'priority 20' }).waitFor();
    // Its budget is raised from its owner's balance; one lower than it has is refused, and the page says why.
    const { owner } = await farm.client.status(id);
    expect((await farm.client.call('POST', '/api/credits', { account: owner, amount: 5 })).status).toBe(201);
    await page.fill('input[name=budget]', '2');
    await page.getByRole('button', { name: 'Raise' }).click();
    await expect.poll(async () => (await farm.client.status(id)).cost.budget).toBe(2);
    await page.getByTestId('cost').filter({ hasText: 'budget 2,' }).waitFor();
    await page.fill('input[name=budget]', '1');
    await page.getByRole('button', { name: 'Raise' }).click();
    expect(await page.getByTestId('control-error').textContent()).toMatch(/has 2 credits in it already/);
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.getByRole('button', { name: 'Pause' }).waitFor();
    await expect.poll(() => page.getByTestId('job-state').textContent(), { timeout: 120_000 }).toBe('done');
    // Its tiles are backed by trusted workers: a re-run is refused, and the page says why.
    await page.getByRole('button', { name: 'Re-run frame' }).click();
    expect(await page.getByTestId('rerun-outcome').textContent()).toMatch(/a trusted worker’s result already backs it/);
    // Ended: it can be deleted with its data, after a confirmation.
    page.once('dialog', (d) => d.accept());
    await page.getByRole('button', { name: 'Delete job and its data' }).click();
    await page.waitForURL(/#\/$/);
    expect((await fetch(`${farm.url}/api/jobs/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    expect(errors).toEqual([]);
  });

  it('filters the job list by state and by requester, with thumbnails and how long each finished job took', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${farm.url}/#token=${TOKEN}`);
    const rows = page.locator('table.jobs tbody tr');
    await expect.poll(() => rows.count()).toBeGreaterThan(1);
    const all = await rows.count();
    await page.locator('select[name=state-filter]').selectOption('done');
    const done = await rows.count();
    expect(done).toBeGreaterThan(0);
    expect(await rows.locator('.badge').allTextContents()).toEqual(Array(done).fill('done'));
    for (const took of await rows.locator('td[data-took]').allTextContents()) expect(took).toMatch(/^\d/);
    // Each finished job shows its first frame, small.
    const thumbs = rows.locator('img[data-testid=thumbnail]');
    await expect.poll(() => thumbs.evaluateAll((imgs) => imgs.every((i) => (i as HTMLImageElement).naturalWidth > 0))).toBe(true);
    expect(await thumbs.count()).toBe(done);
    await page.locator('select[name=state-filter]').selectOption('');
    expect(await rows.count()).toBe(all);
    // Every job here is the operator's; a requester's filter shows none of them.
    const minted = await fetch(`${farm.url}/api/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'filtered' }),
    });
    const { owner } = (await minted.json()) as { owner: string };
    await page.reload();
    await page.locator(`select[name=owner-filter] option[value="${owner}"]`).waitFor({ state: 'attached' });
    await page.locator('select[name=owner-filter]').selectOption(owner);
    await expect.poll(() => rows.count()).toBe(0);
    await page.locator('select[name=owner-filter]').selectOption('');
    await expect.poll(() => rows.count()).toBe(all);
  });

  it('fits a 390 px phone screen: no page scrolls sideways', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await page.goto(`${farm.url}/#token=${TOKEN}`);
    await page.locator('.who').filter({ hasText: 'operator' }).waitFor();
    const widths: Record<string, number> = {};
    for (const route of ['#/', '#/workers', '#/market', `#/jobs/${jobId}`]) {
      await page.evaluate((hash) => {
        location.hash = hash;
      }, route);
      await page.waitForTimeout(500);
      // The throughput charts too, once drawn (uPlot loads with the first one).
      const chart = { '#/workers': 'recent-chart', [`#/jobs/${jobId}`]: 'throughput-chart' }[route];
      if (chart) await page.locator(`[data-testid=${chart}] canvas`).first().waitFor();
      widths[route] = await page.evaluate(() => document.documentElement.scrollWidth);
    }
    // The job page, last: the README's phone view, with its frame painted.
    await expect.poll(() => page.locator('.frame-view canvas').getAttribute('data-painted')).toBe('12');
    await page.screenshot({ path: join(TEST_OUTPUT, 'dashboard-phone.png'), fullPage: true });
    expect(widths).toEqual(Object.fromEntries(Object.keys(widths).map((r) => [r, 390])));
  });

  it('lists both workers with their counts, and each worker links to its evidence', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${farm.url}/#/workers`);
    for (const name of ['alpha', 'beta']) {
      const handle = farm.workers.get(name);
      const view = await farm.worker(handle?.id as string);
      expect(view?.valid).toBeGreaterThan(0);
      const row = page.locator(`[data-testid=leaderboard] tr[data-name=${name}]`);
      await row.waitFor();
      expect(await row.locator('[data-field=valid]').textContent()).toBe(String(view?.valid));
      expect(await row.locator('[data-field=invalid]').textContent()).toBe('0');
    }
    await page.screenshot({ path: join(TEST_OUTPUT, 'dashboard-workers.png'), fullPage: true });

    await page.locator('[data-testid=leaderboard] tr[data-name=alpha] a').click();
    await page.waitForURL(/#\/workers\/w/);
    const alpha = await farm.worker(farm.workers.get('alpha')?.id as string);
    await expect.poll(() => page.locator('[data-testid=worker-facts] [data-field=valid] dd').textContent()).toBe(String(alpha?.valid));
    await page.close();
  });

  it('keeps the job list live: a job submitted elsewhere appears and finishes in place', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${farm.url}/#token=${TOKEN}`);
    await page.locator('table.jobs').waitFor();
    const { id } = await farm.client.submit({ ...SMALL_CORNELL, name: 'submitted elsewhere' });
    const row = page.locator(`tr[data-job=${id}]`);
    await row.waitFor();
    expect(await row.locator('a').textContent()).toBe('submitted elsewhere');
    await expect.poll(() => row.locator('.badge').textContent()).toBe('done');
    expect(await row.locator('[role=progressbar]').getAttribute('aria-valuenow')).toBe('12');
    await page.close();
  });

  it('says so when its live job list is refused (a requester’s live views all open elsewhere)', async () => {
    const { token } = (await (await farm.client.call('POST', '/api/tokens', { name: 'crowded' })).json()) as { token: string };
    const views = await Promise.all(
      Array.from({ length: 16 }, () => fetch(`${farm.url}/api/jobs/events`, { headers: { authorization: `Bearer ${token}` } })),
    );
    expect(views.map((v) => v.status)).toEqual(Array(16).fill(200));
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${farm.url}/#token=${token}`);
    await page.getByText(LIVE_REFUSED).waitFor();
    await page.close();
    await Promise.all(views.map((v) => v.body?.cancel()));
  });

  it.skipIf(!FIREFOX)(firefoxTitle, async () => {
    await twoWorkers();
    const { page, errors } = await signedInFirefoxPage(farm.url, TOKEN);
    await page.waitForSelector('select[name=sample] option[value="cornell.json"]');
    await page.select('select[name=sample]', 'cornell.json');
    for (const [field, value] of [
      ['width', '48'],
      ['height', '32'],
      ['spp', '2'],
      ['tileSize', '16'],
    ])
      await page.locator(`input[name=${field}]`).fill(value);
    await page.select('select[name=verification]', 'quorum');
    await page.waitForFunction(() => document.querySelector('[data-testid=estimate]')?.getAttribute('data-tasks') === '6');
    await page.click('button[type=submit]');
    await page.waitForFunction(() => /#\/jobs\/j[0-9a-f]+$/.test(location.hash));
    const id = (await page.evaluate(() => location.hash)).split('/').pop() as string;
    await page.waitForFunction(() => document.querySelector('.frame-view canvas')?.getAttribute('data-painted') === '6', {
      timeout: 60_000,
    });
    const states = await page.$$eval('.tile-grid .tile', (els) => els.map((e) => e.getAttribute('data-state')));
    expect(states).toEqual(Array(6).fill('verified'));
    const frame = await decodeRgba(await farm.client.download(`/api/jobs/${id}/frames/0`));
    expect(Buffer.from(await page.evaluate(canvasBytes)).equals(Buffer.from(frame.rgba))).toBe(true);
    await page.screenshot({ path: join(TEST_OUTPUT, 'dashboard-firefox.png'), fullPage: true });
    expect(errors).toEqual([]);
  });

  it.skipIf(!FIREFOX)(firefoxControlsTitle, async () => {
    await twoWorkers();
    const { page, errors } = await signedInFirefoxPage(farm.url, TOKEN);
    const who = () => page.$eval('.who', (e) => e.textContent ?? '');
    await page.waitForFunction(() => /\(operator\)/.test(document.querySelector('.who')?.textContent ?? ''));

    // Job controls: pause, priority, resume — on a job that idle workers cannot finish before the
    // page has paused it (12 tiles at 64 spp they had, now and then, and it stayed 'done' at its old
    // priority), in tiles short enough that what they hold when it is deleted keeps them only a moment
    // from the next job (12 tiles at 1,024 spp kept them past its 90 s).
    const { id } = await farm.client.submit({
      ...SMALL_CORNELL,
      width: 256,
      height: 192,
      spp: 64,
      tileSize: 16,
      name: 'firefox controls',
    });
    await page.evaluate((job) => {
      location.hash = `#/jobs/${job}`;
    }, id);
    await (await buttonLabelled(page, 'Pause')).click();
    await buttonLabelled(page, 'Resume');
    expect((await farm.client.status(id)).paused).toBe(true);
    // Once in CI, under load, the form sent the old 50: it sent the field's value as the last render
    // had copied it, which the typing over WebDriver BiDi had not reached by the click. It now reads
    // the field itself; set again while it has not taken, all the same.
    await expect
      .poll(
        async () => {
          if ((await farm.client.status(id)).priority === 15) return 15;
          await page.locator('input[name=priority]').fill('15');
          await (await buttonLabelled(page, 'Set')).click();
          return (await farm.client.status(id)).priority;
        },
        { interval: 2000 },
      )
      .toBe(15);
    await (await buttonLabelled(page, 'Resume')).click();
    await buttonLabelled(page, 'Pause');
    expect((await farm.client.status(id)).paused).toBe(false);
    // Its rendering is not what follows: the workers go on to the next job.
    expect((await farm.client.call('DELETE', `/api/jobs/${id}`)).status).toBe(200);

    // A two-frame job of the bouncing balls: its title is the scene's, and the live view moves to
    // frame 1 without frame 0's pixels.
    const { id: bounce } = await farm.client.submit({
      scene: shippedRaw('bounce'),
      frames: '0-1',
      width: 32,
      height: 24,
      spp: 2,
      tileSize: 8,
      verification: 'quorum',
      replicas: 2,
    });
    await page.evaluate((job) => {
      location.hash = `#/jobs/${job}`;
    }, bounce);
    await page.waitForFunction(() => /^Bouncing balls /.test(document.querySelector('h1')?.textContent ?? ''));
    expect(await page.$eval('h1', (e) => e.textContent)).not.toMatch(/frames/);
    await holdAfterFirstFrame(bounce);
    await followsToNextFrame(() => page.evaluate(frameView), bounce, 1);

    // A #token link in the open tab signs in as its requester; a bad file's problems go with the next file.
    const minted = (await (await farm.client.call('POST', '/api/tokens', { name: 'fox' })).json()) as { token: string };
    page.once('dialog', (d) => void d.accept());
    await page.evaluate((token) => {
      location.hash = `#token=${token}`;
    }, minted.token);
    await expect.poll(who).toMatch(/^fox \(requester\)/);
    const dir = mkdtempSync(join(tmpdir(), 'farm-form-'));
    writeFileSync(
      join(dir, 'bad.json'),
      JSON.stringify({ ...shippedRaw('cornell'), materials: [{ name: 'x', type: 'dielectric', ior: 0.5 }] }),
    );
    writeFileSync(join(dir, 'garbled.json'), '{ not json');
    const file = await page.waitForSelector('input[name=scene-file]');
    await file?.uploadFile(join(dir, 'bad.json'));
    await page.waitForSelector('form.submit ul.issues li');
    await file?.uploadFile(join(dir, 'garbled.json'));
    await page.waitForFunction(() => /^garbled\.json is not JSON/.test(document.querySelector('form.submit p.error')?.textContent ?? ''));
    expect(await page.$$eval('form.submit ul.issues li', (els) => els.length)).toBe(0);

    // A 390 px phone: nothing scrolls sideways.
    await page.setViewport({ width: 390, height: 844 });
    for (const route of ['#/', '#/workers', '#/market']) {
      await page.evaluate((hash) => {
        location.hash = hash;
      }, route);
      await new Promise((r) => setTimeout(r, 500));
      // Firefox's scroll bar takes its width from the viewport: nothing may be wider than what is left.
      expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBe(0);
    }
    expect(errors).toEqual([]);
    // Its tiles would hold up the tests after this one (if it has not finished already).
    await farm.client.call('DELETE', `/api/jobs/${id}?purge`);
  });

  it('exports Prometheus metrics for the job it rendered', async () => {
    expect((await fetch(`${farm.url}/metrics`)).status).toBe(401);
    const res = await fetch(`${farm.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const metrics = parsePrometheus(await res.text());
    // 12 tiles × 2 replicas, each handed out, rendered, and agreed on.
    expect(sumOf(metrics, 'farm_replicas_issued_total', { kind: 'replica' })).toBeGreaterThanOrEqual(24);
    expect(sumOf(metrics, 'farm_render_seconds_count')).toBeGreaterThanOrEqual(24);
    expect(sumOf(metrics, 'farm_verdicts_total', { verdict: 'agreed' })).toBeGreaterThanOrEqual(12);
    expect(sumOf(metrics, 'farm_verdicts_total', { verdict: 'disputed' })).toBe(0);
    expect(sumOf(metrics, 'farm_workers_connected')).toBe(2);
    expect(metrics.has('farm_tasks{state="pending"}')).toBe(true);
    expect(sumOf(metrics, 'farm_queue_depth', { queue: 'slots', state: 'waiting' })).toBe(0);
    expect(sumOf(metrics, 'farm_queue_depth', { queue: 'frames', state: 'completed' })).toBeGreaterThanOrEqual(1);
  });

  it('serves bull-board to the operator only', async () => {
    expect((await fetch(`${farm.url}/admin/queues`)).status).toBe(401);
    const requester = (await (await farm.client.call('POST', '/api/tokens', { name: 'a requester' })).json()) as { token: string };
    expect((await fetch(`${farm.url}/admin/queues`, { headers: { authorization: `Bearer ${requester.token}` } })).status).toBe(403);
    const board = await fetch(`${farm.url}/admin/queues`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(board.status).toBe(200);
    const api = await fetch(`${farm.url}/admin/queues/api/queues?page=1&jobsPerPage=5`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const names = ((await api.json()) as { queues: { name: string }[] }).queues.map((q) => q.name);
    expect(names).toEqual(expect.arrayContaining(['plans', 'frames', 'slots']));
  });

  it('marks tiles whose replicas disagreed and shows who lied', async () => {
    // alpha (one of the operator's own) and a rogue disagree: with both results in, the trusted
    // one is the verdict, and the rogue is caught — its whole stake gone, it gets no more work,
    // and another of the operator's workers finishes the job.
    await farm.killWorker('beta');
    const rogue = await farm.startWorker('rogue', 'rogue');
    const { id } = await farm.client.submit(SMALL_CORNELL);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${farm.url}/#token=${TOKEN}`);
    await page.getByRole('button', { name: 'sign out' }).waitFor();
    await page.goto(`${farm.url}/#/jobs/${id}`);
    await expect.poll(async () => (await farm.worker(rogue.id))?.faults, { timeout: 60_000 }).toBeGreaterThan(0);
    await farm.startWorker('gamma');
    await page.getByTestId('frame-state').filter({ hasText: 'verified and stitched' }).waitFor({ timeout: 90_000 });
    const marked = page.locator('.tile.disputed');
    await expect.poll(() => marked.count()).toBeGreaterThan(0);
    expect(await page.locator('.legend [data-state=marked]').getAttribute('data-count')).toBe(String(await marked.count()));
    expect(new Set(await marked.evaluateAll((els) => els.map((e) => e.getAttribute('data-state'))))).toEqual(new Set(['verified']));

    await marked.first().click();
    const liar = page.getByTestId('inspector').locator(`tr[data-worker=${rogue.id}]`);
    expect(await liar.locator('.verdict').textContent()).toBe('disagreed with ground truth');
    await page.screenshot({ path: join(TEST_OUTPUT, 'dashboard-dispute.png'), fullPage: true });

    await liar.locator('a').click();
    await page.waitForURL(new RegExp(`#/workers/${rogue.id}$`));
    await expect.poll(() => page.locator('tr.bad').count()).toBeGreaterThan(0);
    expect(await page.locator('tr.bad td:nth-child(2)').first().textContent()).toBe('caught: its result differed from ground truth');
    await page.close();
  });

  it('shows the market: spot price, candles, the supply and demand curves, the forward curve; what a job costs; a requester’s reservations', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // A provider asking 0.5 credits per RU and a job of 300 tiles paying at most 2: once the
    // provider is measured, and while the job runs, the market clears at a price.
    const { account } = (await (await farm.client.call('GET', '/api/account')).json()) as { account: string };
    await farm.client.call('POST', '/api/credits', { account, amount: 100 });
    await farm.startWorker('seller', 'honest', { ask: 0.5 });
    const job = {
      ...SMALL_CORNELL,
      verification: 'credibility',
      width: 320,
      height: 240,
      spp: 16,
      frames: '0',
      maxPrice: 2,
      name: 'priced',
    };
    const { id } = await farm.client.submit(job);
    await expect
      .poll(async () => ((await (await fetch(`${farm.url}/api/market`)).json()) as { price: number | null }).price, { timeout: 30_000 })
      .not.toBeNull();
    // A reservation in the next window: the forward curve has a row.
    const curve = (await (await fetch(`${farm.url}/api/market/forwards`)).json()) as { gateMs: number; windows: { start: number }[] };
    const next = curve.windows.find((w) => w.start - curve.gateMs > Date.now() + 1000) as { start: number };
    expect((await farm.client.call('POST', '/api/reservations', { start: next.start, ru: 0.5, maxPrice: 1 })).status).toBe(201);

    // The market is public: no session needed to see it.
    await page.goto(`${farm.url}/#/market`);
    await expect
      .poll(() => page.locator('[data-testid=market-facts] [data-field=spot] dd').textContent(), { timeout: 10_000 })
      .toMatch(/^\d+\.\d{3}$/);
    // The charts are the libraries' canvases.
    for (const chart of ['candles', 'curves', 'forward-curve']) await page.locator(`[data-testid=${chart}] canvas`).first().waitFor();
    await expect.poll(() => page.locator('[data-testid=forwards] tbody tr').count()).toBeGreaterThan(0);
    // The page keeps its height (a chart's box that grew with its chart had grown without end).
    const height = () => page.evaluate(() => document.body.scrollHeight);
    const before = await height();
    await new Promise((r) => setTimeout(r, 1500));
    expect(await height()).toBe(before);
    await page.screenshot({ path: join(TEST_OUTPUT, 'dashboard-market.png'), fullPage: true });

    // The job's page (signed in, in a fresh page) says what it has cost so far.
    const signedIn = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    signedIn.on('pageerror', (e) => errors.push(e.message));
    await signedIn.goto(`${farm.url}/#token=${TOKEN}`);
    await signedIn.locator('.who button').waitFor();
    await signedIn.goto(`${farm.url}/#/jobs/${id}`);
    await expect
      .poll(() => signedIn.getByTestId('cost').textContent())
      .toMatch(/Cost so far: [\d.]+ credits for [\d.e-]+ RU \(on average [\d.]+ credits\/RU\)/);
    // Signed in, the market page lists the requester's reservations (newest first): the one placed
    // through the API, and one through its form; a refusal names its field; a withdrawal comes back.
    await signedIn.goto(`${farm.url}/#/market`);
    const rows = signedIn.locator('[data-testid=reservations] tbody tr');
    await expect.poll(() => rows.count()).toBe(1);
    const reserve = async (ru: string) => {
      await signedIn.locator('[data-testid=reserve] input[name=ru]').fill(ru);
      await signedIn.locator('[data-testid=reserve] input[name=maxPrice]').fill('1');
      await signedIn.locator('[data-testid=reserve] button[type=submit]').click();
    };
    await reserve('100000');
    await expect.poll(() => signedIn.getByTestId('reservation-error').textContent()).toMatch(/credits.*\(ru\)$/);
    await reserve('0.25');
    await expect.poll(() => rows.count()).toBe(2);
    expect(await signedIn.getByTestId('reservation-error').count()).toBe(0);
    await rows.first().locator('button').click();
    await expect.poll(() => rows.first().locator('td:nth-child(5)').textContent()).toBe('withdrawn');
    expect(await rows.nth(1).locator('td:nth-child(5)').textContent()).toBe('open');
    await signedIn.screenshot({ path: join(TEST_OUTPUT, 'dashboard-reservations.png'), fullPage: true });
    expect(errors).toEqual([]);
    // Cancelled if it still runs, deleted either way: with batched workers it may have finished.
    await farm.client.call('DELETE', `/api/jobs/${id}?purge`);
    await Promise.all([page.close(), signedIn.close()]);
  });
});
