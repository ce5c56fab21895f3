/**
 * The console in a real browser: Debian's headless Chromium, driven by playwright-core, against a
 * fleet of the test's own (11 regions; replication to the last one fails, so a build there ends
 * FAILED with a reason). It signs in with the token, reads 1,000 builds seeded straight into the
 * list projection, submits a 10-region build through the form and watches its bars fill, reads a
 * failed build's reason, cancels a build held in its sync stage, and follows a service creation
 * against the local GitHub simulator (its steps link to the pull requests it raised). Screenshots
 * go to .reports/console/.
 *
 * The bounds the issue names are asserted here: at most 100 rows in the DOM, a filter change shown
 * within 300 ms, one stream connection per page, and bars that move at least once a second while a
 * 10-region build syncs.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventId, type BuildSummary, type ServiceView } from '@flotilla/events';
import { startGitHubSim, type GitHubSim } from '@flotilla/github-sim';
import { batchPut, listRow, REGIONS, resourceNames } from '@flotilla/platform';
import { eventually, sampleBuildRequest, testAwsClients } from '@flotilla/platform/testing';
import { chromium, type Browser, type Page, type Request } from 'playwright-core';
import { ROOT } from '../../scripts/fleet.ts';
import { apiFetch, startTestFleet, TEST_API_TOKEN, type TestFleet } from '../support/test-fleet.ts';

const aws = testAwsClients();
const STACK_REGIONS = REGIONS.slice(0, 11);
const TEN_REGIONS = STACK_REGIONS.slice(0, 10);
const FAILING_REGION = STACK_REGIONS[10] ?? '';
const SEEDED = 1_000;
/** Enough hosts that the 10-region build syncs for several seconds, so its bars have a cadence to measure. */
const HOSTS_PER_REGION = 2_000;
const SEED_REPO = `seeded-${Date.now().toString(36)}`;
const SHOTS = join(ROOT, '.reports', 'console');

/**
 * The little of the DOM the in-page functions use: this file is typed for Node. (In-page code
 * goes as functions, not strings: the console's CSP refuses eval, which string polling needs.)
 */
interface InPage {
  document: { querySelectorAll(selector: string): ArrayLike<{ textContent: string | null }> & Iterable<{ textContent: string | null }>; body: object };
  sessionStorage: Record<string, string>;
  performance: { now(): number };
  MutationObserver: new (callback: (changes: Array<{ attributeName: string | null }>) => void) => { observe(target: object, options: object): void };
  barUpdates: number[];
  scrollTo(x: number, y: number): void;
}

const GITHUB_TOKEN = 'sim-token-for-the-console-e2e-test';

let running: TestFleet;
let github: GitHubSim;
let browser: Browser;
let page: Page;
let consoleUrl: string;

/** Every live stream the page opened (GET .../stream), and those still open. */
const streams = { opened: [] as string[], open: new Set<Request>() };
/** Every URL the page requested: the token must be in none. */
const requested: string[] = [];

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  // Onboarding talks to the local GitHub simulator only (loopback), polled, without webhooks.
  github = await startGitHubSim({ token: GITHUB_TOKEN, delays: { mergeMs: 300, workflowMs: 300 } });
  running = await startTestFleet(aws, 'console', {
    regions: STACK_REGIONS,
    overrides: {
      replication: { FAIL_REPLICATION_REGIONS: FAILING_REGION },
      orchestrator: { GITHUB_API_URL: github.url, GITHUB_TOKEN, GITHUB_PACE_WRITES: 'false', ONBOARDING_POLL_MS: '500', ONBOARDING_DRIVE_MS: '500' },
    },
  });
  consoleUrl = `${running.fleet.url('build')}/`;
  browser = await chromium.launch({
    executablePath: execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim(),
    // Loopback only: no background fetches, no component updates, no first-run pages.
    args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('request', (request) => {
    requested.push(request.url());
    if (new URL(request.url()).pathname.endsWith('/stream')) {
      streams.opened.push(request.url());
      streams.open.add(request);
    }
  });
  const closed = (request: Request) => streams.open.delete(request);
  page.on('requestfinished', closed);
  page.on('requestfailed', closed);
});

afterAll(async () => {
  await browser?.close();
  await running?.stop();
  await github?.close();
  aws.destroy();
});

const api = (path: string, init?: RequestInit) => apiFetch(`${running.fleet.url('build')}${path}`, init);

async function submit(overrides: Record<string, unknown>): Promise<string> {
  const res = await api('/builds', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': `console-${Date.now()}-${Math.random()}` },
    body: JSON.stringify(sampleBuildRequest(overrides)),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { buildId: string }).buildId;
}

/** A full-page screenshot from the top (the header sticks to where the page was scrolled). */
async function shot(name: string): Promise<void> {
  await page.evaluate(() => (globalThis as unknown as InPage).scrollTo(0, 0));
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}
const rows = () => page.locator('table[aria-label="Builds"] tbody tr');
const status = () => page.locator('[data-testid=build-status]');

/** 1,000 finished builds written straight into the list projection, as the projector writes them. */
async function seedBuilds(): Promise<void> {
  const now = Date.now();
  const summaries: BuildSummary[] = Array.from({ length: SEEDED }, (_, i) => {
    const at = new Date(now - (SEEDED - i) * 1_000).toISOString();
    const failed = i % 4 === 0;
    return {
      buildId: createEventId(now - (SEEDED - i) * 1_000),
      repo: SEED_REPO,
      env: (['dev', 'staging', 'prod'] as const)[i % 3] ?? 'prod',
      version: `1.0.${i}`,
      status: failed ? 'FAILED' : 'SUCCESS',
      door: 'http',
      key: `seed-${i}`,
      requestedAt: at,
      startedAt: at,
      finishedAt: at,
      ...(failed ? { reason: 'seeded failure' } : {}),
      regions: ['us-east-1'],
      hostsPerRegion: 10,
    };
  });
  await batchPut(
    aws.dynamodb,
    resourceNames(running.stack.prefix).tables.builds,
    summaries.map((s): Record<string, unknown> => ({ ...listRow(s, 5) })),
  );
}

describe('the console', () => {
  it('asks for the token once, keeps it in sessionStorage, and refuses a wrong one', async () => {
    await page.goto(consoleUrl);
    const signIn = page.locator('form[aria-label="Sign in"]');
    await signIn.locator('input[name=token]').fill('not-the-token');
    await signIn.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByText('The token was refused').count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await signIn.locator('input[name=token]').fill(TEST_API_TOKEN);
    await signIn.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('table[aria-label="Builds"], [data-testid=empty]').first().waitFor({ timeout: 15_000 });
    expect(await page.evaluate(() => Object.values((globalThis as unknown as InPage).sessionStorage))).toContain(TEST_API_TOKEN);
    // A reload keeps the session: no second prompt.
    await page.reload();
    await page.locator('table[aria-label="Builds"], [data-testid=empty]').first().waitFor({ timeout: 15_000 });
    expect(await page.locator('form[aria-label="Sign in"]').count()).toBe(0);
  });

  it('lists 1,000 builds with at most 100 rows in the DOM, applies a filter within 300 ms, and holds one stream', async () => {
    await seedBuilds();
    await page.goto(`${consoleUrl}#/builds?repo=${SEED_REPO}`);
    await rows().first().waitFor({ timeout: 15_000 });
    const shown = await rows().count();
    expect(shown).toBeGreaterThan(0);
    expect(shown).toBeLessThanOrEqual(100);
    expect(await page.locator(`td[data-col=status]`).allTextContents()).toEqual(expect.arrayContaining(['SUCCESS', 'FAILED']));
    // Pages on through the cursor: the next page holds other builds, still at most 100 rows.
    const first = await rows().first().getAttribute('data-build-id');
    await page.getByRole('button', { name: 'Next page' }).click();
    await expect.poll(async () => rows().first().getAttribute('data-build-id'), { timeout: 10_000 }).not.toBe(first);
    expect(await rows().count()).toBeLessThanOrEqual(100);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await expect.poll(async () => rows().first().getAttribute('data-build-id'), { timeout: 10_000 }).toBe(first);
    await shot('builds-list');

    const streamsBefore = streams.opened.length;
    const started = performance.now();
    await page.selectOption('select[name=status]', 'FAILED');
    await page.waitForFunction(
      () => {
        const cells = [...(globalThis as unknown as InPage).document.querySelectorAll('table[aria-label="Builds"] tbody tr td[data-col=status]')];
        return cells.length > 0 && cells.every((cell) => cell.textContent === 'FAILED');
      },
      undefined,
      { polling: 'raf', timeout: 5_000 },
    );
    const filterMs = performance.now() - started;
    console.info(`console: filter change shown in ${filterMs.toFixed(0)} ms over ${SEEDED} seeded builds`);
    expect(filterMs).toBeLessThanOrEqual(300);
    expect(page.url()).toContain('status=FAILED');
    expect(await rows().count()).toBeLessThanOrEqual(100);
    // Filtering and paging reuse the page's one live stream.
    expect(streams.opened.length).toBe(streamsBefore);
    expect(streams.open.size).toBe(1);
  });

  it('shows a 400 field error beside its field, then submits a 10-region build whose bars fill to 100, moving at least once a second', async () => {
    await page.goto(`${consoleUrl}#/builds/new`);
    const form = page.locator('form[aria-label="New build"]');
    await form.waitFor();
    await form.locator('input[name=repo]').fill('console-app');
    await form.locator('input[name=env]').fill('prod');
    await form.locator('input[name=version]').fill('not a version');
    await form.locator('input[name=branch]').fill('main');
    await form.locator('input[name=commit]').fill('abc1234');
    for (const region of await form.locator('input[name=regions]').all()) {
      const value = (await region.getAttribute('value')) ?? '';
      if (TEN_REGIONS.includes(value)) await region.check();
      else await region.uncheck();
    }
    await form.locator('input[name=hostsPerRegion]').fill(String(HOSTS_PER_REGION));
    await form.getByRole('button', { name: 'Request build' }).click();
    await expect.poll(() => form.locator('[data-field-error=version]').textContent(), { timeout: 10_000 }).toMatch(/\S/);
    await shot('build-form-errors');

    // Every change of a bar's value, as the page renders it.
    await page.evaluate(() => {
      const window = globalThis as unknown as InPage;
      window.barUpdates = [];
      new window.MutationObserver((changes) => {
        if (changes.some((c) => c.attributeName === 'aria-valuenow')) window.barUpdates.push(window.performance.now());
      }).observe(window.document.body, { subtree: true, attributes: true, attributeFilter: ['aria-valuenow'] });
    });
    await form.locator('input[name=version]').fill('2.4.0');
    await form.getByRole('button', { name: 'Request build' }).click();
    await page.waitForURL(/#\/builds\/[0-9A-HJKMNP-TV-Z]{26}$/, { timeout: 15_000 });
    const buildId = /#\/builds\/([0-9A-Z]{26})$/.exec(page.url())?.[1] ?? '';
    // While it runs, the build page's one stream (the build's events and view) is the only one open.
    await expect.poll(() => [...streams.open].map((r) => r.url()), { timeout: 10_000 }).toEqual([expect.stringContaining(`/builds/${buildId}/stream?view=true`)]);
    for (const region of TEN_REGIONS) await page.locator(`[role=progressbar][aria-label="${region} synced"]`).waitFor({ timeout: 30_000 });
    await expect.poll(() => status().textContent(), { timeout: 110_000, interval: 250 }).toBe('SUCCESS');
    for (const region of TEN_REGIONS) {
      await expect.poll(() => page.locator(`[role=progressbar][aria-label="${region} synced"]`).getAttribute('aria-valuenow'), { timeout: 30_000 }).toBe('100');
      expect(await page.locator(`[role=progressbar][aria-label="${region} failed"]`).getAttribute('aria-valuenow')).toBe('0');
    }
    await shot('build-success');
    expect(await page.locator('ol[aria-label="Timeline"] > li').count()).toBeGreaterThanOrEqual(4);

    // Renders a few milliseconds apart are one update; between the first and the last, no gap over a second.
    const updates = await page.evaluate(() => (globalThis as unknown as InPage).barUpdates);
    const instants = updates.filter((t, i) => i === 0 || t - (updates[i - 1] ?? 0) > 50);
    const gaps = instants.slice(1).map((t, i) => t - (instants[i] ?? t));
    const spanMs = (instants.at(-1) ?? 0) - (instants[0] ?? 0);
    console.info(
      `console: ${instants.length} bar updates over ${(spanMs / 1000).toFixed(1)} s of a ${TEN_REGIONS.length}-region build; longest gap ${Math.max(0, ...gaps).toFixed(0)} ms`,
    );
    expect(instants.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1_000);
  });

  it("opens a failed build and reads its reason and failed regions", async () => {
    const buildId = await submit({ regions: ['us-east-1', FAILING_REGION], hostsPerRegion: 10 });
    await page.goto(`${consoleUrl}#/builds/${buildId}`);
    await expect.poll(() => status().textContent(), { timeout: 60_000, interval: 250 }).toBe('FAILED');
    const failure = page.locator('[data-testid=failure]');
    await failure.waitFor();
    expect(await failure.textContent()).toMatch(/replicat/i);
    expect(await failure.locator('li').allTextContents()).toEqual([expect.stringContaining(`${FAILING_REGION}:`)]);
    await shot('build-failed');
  });

  it('says what a running build waits on, and cancels it', async () => {
    // With region-sync stopped, the build waits in its sync stage until it is cancelled.
    await running.fleet.stopService('region-sync', 5_000);
    const buildId = await submit({ regions: ['us-east-1'], hostsPerRegion: 10 });
    await page.goto(`${consoleUrl}#/builds/${buildId}`);
    await expect.poll(() => page.locator('[data-testid=why]').textContent(), { timeout: 60_000, interval: 500 }).toContain('region sync of us-east-1');
    expect(await status().textContent()).toBe('IN_PROGRESS');
    await page.getByRole('button', { name: 'Cancel build' }).click();
    await expect.poll(() => status().textContent(), { timeout: 30_000, interval: 250 }).toBe('FAILED');
    expect(await page.locator('[data-testid=failure]').textContent()).toContain('cancelled');
    await shot('build-cancelled');
    const view = await eventually(async () => {
      const res = await api(`/builds/${buildId}`);
      const body = (await res.json()) as { status: string; failure?: { reason: string } };
      return body.status === 'FAILED' ? body : undefined;
    });
    expect(view.failure?.reason).toBe('cancelled');
  });

  it("follows a service creation: its status, and each step's link to the pull request it raised", async () => {
    const name = `console-${Date.now().toString(36)}`;
    const created = await api('/services', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, team: 'payments', template: 'node-service' }) });
    expect(created.status).toBe(202);
    await page.goto(`${consoleUrl}#/services/${name}`);
    await expect.poll(() => page.locator('[data-testid=service-status]').textContent(), { timeout: 30_000 }).toMatch(/^(IN_PROGRESS|CREATED)$/);
    const service = await eventually(async () => {
      const view = (await (await api(`/services/${name}`)).json()) as ServiceView;
      return view.steps[0]?.pullRequest ? view : undefined;
    });
    const url = service.steps[0]?.pullRequest?.url ?? '';
    expect(url.startsWith(github.url)).toBe(true);
    await page.locator(`ol[aria-label="Steps"] > li a[href="${url}"]`).waitFor({ timeout: 15_000 });
    expect(await page.locator('ol[aria-label="Steps"] > li').count()).toBe(service.steps.length);
    await shot('service');
  });

  it('never put the token in a URL', () => {
    expect(requested.length).toBeGreaterThan(0);
    expect(requested.filter((url) => url.includes(TEST_API_TOKEN))).toEqual([]);
  });
});
