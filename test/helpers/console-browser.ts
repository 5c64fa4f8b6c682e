import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext, TestFn } from 'ava';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { makeKeypair, type TestKeypair } from './api.js';
import { fileFixture } from './file-fixture.js';
import { startTestStack, type TestStack } from './stack.js';

/** Debian's Chromium (or BAI_TEST_CHROMIUM), headless, nothing downloaded. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.BAI_TEST_CHROMIUM ?? '/usr/bin/chromium',
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

/**
 * After a test: a failed one leaves screenshots of the pages it had open in
 * BAI_TEST_SCREENSHOTS (default <tmp>/bai-console-screenshots), named after the test; then the
 * contexts close.
 */
export async function screenshotsAndClose(t: ExecutionContext, contexts: BrowserContext[]): Promise<void> {
  const open = contexts.splice(0).flatMap((c) => c.pages());
  if (!t.passed) {
    const dir = process.env.BAI_TEST_SCREENSHOTS ?? join(tmpdir(), 'bai-console-screenshots');
    mkdirSync(dir, { recursive: true });
    const name = t.title.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 80);
    for (const [i, p] of open.entries()) {
      const file = join(dir, `${name}-${i}.png`);
      try {
        await p.screenshot({ path: file, fullPage: true });
        t.log(`screenshot: ${file} (${p.url()})`);
      } catch (err) {
        // Expected when the page already closed; the other screenshots still matter.
        t.log(`no screenshot of ${p.url()}: ${String(err)}`);
      }
    }
  }
  for (const p of open)
    await p
      .context()
      .close()
      .catch(() => {});
}

/** A fresh browser context (its own cookies) logged in with a keypair, on the sessions page. */
export async function loggedIn(
  browser: Browser,
  baseUrl: string,
  kp: { accessKey: string; secretKey: string },
  contexts: BrowserContext[],
  waitMs: number,
): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext();
  contexts.push(ctx);
  const page = await ctx.newPage();
  page.setDefaultTimeout(waitMs);
  await page.goto(`${baseUrl}/console`);
  await page.waitForURL(/\/console\/login/);
  await page.fill('input[name=access_key]', kp.accessKey);
  await page.fill('input[name=secret_key]', kp.secretKey);
  await Promise.all([page.waitForURL(/\/console\/sessions$/), page.click('button[type=submit]')]);
  return { ctx, page };
}

/** A stack with one agent, two keypairs of its own and a browser, for the console's tests. */
export interface ConsoleFixture {
  readonly stack: TestStack;
  readonly browser: Browser;
  readonly user: TestKeypair;
  readonly other: TestKeypair;
  /** The browser contexts a test opened: screenshot if it failed, closed after it. */
  readonly contexts: BrowserContext[];
  /** The manager's URL of `path`. */
  url(path: string): string;
  /** A fresh browser context logged in with `kp`, on the sessions page (waits up to `waitMs`). */
  login(kp: { accessKey: string; secretKey: string }): Promise<{ ctx: BrowserContext; page: Page }>;
}

/**
 * A ConsoleFixture for the tests of one file: started before them; after each, a failed test's
 * screenshots (screenshotsAndClose); after all, everything closed.
 */
export function consoleFixture(test: TestFn, waitMs: number): ConsoleFixture {
  const contexts: BrowserContext[] = [];
  test.afterEach.always(async (t) => {
    await screenshotsAndClose(t, contexts);
  });
  return fileFixture<ConsoleFixture>(
    test,
    async (into) => {
      into.contexts = contexts;
      const stack = (into.stack = await startTestStack({ agents: 1 }));
      into.user = await makeKeypair(stack);
      into.other = await makeKeypair(stack);
      const browser = (into.browser = await launchChromium());
      into.url = (path) => `${stack.manager.url}${path}`;
      into.login = (kp) => loggedIn(browser, stack.manager.url, kp, contexts, waitMs);
    },
    async (made) => {
      for (const c of contexts) await c.close().catch(() => {});
      await made.browser?.close();
      await made.stack?.close();
    },
  );
}
