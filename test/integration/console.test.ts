import test from 'ava';
import { call, makeKeypair, type TestKeypair } from '../helpers/api.js';
import { consoleFixture } from '../helpers/console-browser.js';
import { batch, waitForStatus } from '../helpers/stack.js';

/**
 * The web console in a real browser (Debian's Chromium, headless) against a real manager and
 * agent: login, the live session list, the session page, CSRF, isolation between keypairs,
 * drain and undrain. Every wait is on a page condition, with generous deadlines.
 */
const WAIT = 60_000;
const fx = consoleFixture(test, WAIT);

/** A fresh browser context (its own cookies) logged in as `kp`, on the sessions page. */
const loggedIn = (accessKey: string, secretKey: string) => fx.login({ accessKey, secretKey });

async function create(kp: TestKeypair, body: Record<string, unknown>): Promise<string> {
  const r = await call<{ sessionId: string }>(kp.client, 'POST', '/session', body);
  if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.sessionId;
}

test.serial(
  'login: a wrong secret shows an error; the right one sets an HttpOnly, SameSite=Strict cookie',
  async (t) => {
    const ctx = await fx.browser.newContext();
    fx.contexts.push(ctx);
    const page = await ctx.newPage();
    page.setDefaultTimeout(WAIT);
    const first = await page.goto(fx.url('/console/sessions'));
    t.regex(page.url(), /\/console\/login\?next=/);
    t.regex(first?.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    await page.fill('input[name=access_key]', fx.user.accessKey);
    await page.fill('input[name=secret_key]', `${fx.user.secretKey}x`);
    const [refused] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/console/login') && r.request().method() === 'POST'),
      page.click('button[type=submit]'),
    ]);
    t.is(refused.status(), 401);
    await page.locator('#error', { hasText: 'wrong secret key' }).waitFor();
    t.deepEqual(await ctx.cookies(), []);

    await page.fill('input[name=access_key]', fx.user.accessKey);
    await page.fill('input[name=secret_key]', fx.user.secretKey);
    await Promise.all([page.waitForURL(/\/console\/sessions$/), page.click('button[type=submit]')]);
    const cookie = (await ctx.cookies()).find((c) => c.name === 'bai_console');
    t.truthy(cookie);
    t.true(cookie!.httpOnly);
    t.is(cookie!.sameSite, 'Strict');
    t.is(cookie!.path, '/console');
    await page.locator('header .who', { hasText: fx.user.accessKey }).waitFor();
  },
);

test.serial(
  'a token logs in too; revoking it or deactivating the keypair ends the console session',
  async (t) => {
    const kp = await makeKeypair(fx.stack);
    const made = await call<{ id: string; token: string }>(kp.client, 'POST', '/tokens', { name: 'console' });
    t.is(made.status, 201);
    const ctx = await fx.browser.newContext();
    fx.contexts.push(ctx);
    const page = await ctx.newPage();
    page.setDefaultTimeout(WAIT);
    await page.goto(fx.url('/console/login'));
    await page.fill('input[name=token]', made.body.token);
    await Promise.all([page.waitForURL(/\/console\/sessions$/), page.click('button[type=submit]')]);
    await page.locator('header .who', { hasText: kp.accessKey }).waitFor();
    t.is((await call(kp.client, 'DELETE', `/tokens/${made.body.id}`)).status, 200);
    await page.goto(fx.url('/console/sessions'));
    await page.waitForURL(/\/console\/login/);

    const byKey = await loggedIn(kp.accessKey, kp.secretKey);
    t.is(
      (await call(fx.stack.client, 'PATCH', `/keypairs/${kp.accessKey}`, { is_active: false })).status,
      200,
    );
    await byKey.page.goto(fx.url('/console/sessions'));
    await byKey.page.waitForURL(/\/console\/login/);
  },
);

test.serial(
  'the list shows a session created through the API, and its status turns TERMINATED live',
  async (t) => {
    const id = await create(fx.user, batch('sleep 600', { name: 'console-live', tag: 'tag<b>' }));
    await waitForStatus(fx.user.client, id, ['RUNNING']);
    const { page } = await loggedIn(fx.user.accessKey, fx.user.secretKey);
    await page.evaluate(() => ((globalThis as unknown as { notReloaded: boolean }).notReloaded = true));
    const status = page.locator(`[data-status-of="${id}"]`);
    await status.filter({ hasText: 'RUNNING' }).waitFor();
    t.is(await page.locator(`tr[data-row-of="${id}"] .session-name`).textContent(), 'console-live');
    // The tag is shown as text, never as markup.
    t.true((await page.locator(`tr[data-row-of="${id}"]`).innerHTML()).includes('tag&lt;b&gt;'));

    t.is((await call(fx.user.client, 'DELETE', `/session/${id}`)).status, 200);
    await status.filter({ hasText: 'TERMINATED' }).waitFor();
    await page.locator(`[data-reason-of="${id}"]`, { hasText: 'user-requested' }).waitFor();
    t.true(
      await page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded === true),
    );

    // Filters are the API's: by status and by exact name.
    await page.goto(fx.url('/console/sessions?status=TERMINATED&name=console-live'));
    await page.locator(`tr[data-row-of="${id}"]`).waitFor();
    await page.goto(fx.url('/console/sessions?status=PENDING&name=console-live'));
    await page.locator('#sessions', { hasText: 'No sessions.' }).waitFor();
    // The time range, as the form's datetime-local fields send it (UTC, no zone).
    const later = new Date(Date.now() + 3_600_000).toISOString().slice(0, 16);
    await page.goto(fx.url(`/console/sessions?name=console-live&created_before=${later}`));
    await page.locator(`tr[data-row-of="${id}"]`).waitFor();
    t.is(await page.locator('input[name=created_before]').inputValue(), later);
    await page.goto(fx.url(`/console/sessions?name=console-live&created_after=${later}`));
    await page.locator('#sessions', { hasText: 'No sessions.' }).waitFor();
    // Pages: one session a page, the older one behind the link.
    const newer = await create(fx.user, batch('echo later', { name: 'console-newer', starts_at: '1h' }));
    await page.goto(fx.url('/console/sessions?limit=1'));
    await page.locator(`tr[data-row-of="${newer}"]`).waitFor();
    await page.locator('.pager a', { hasText: 'older' }).click();
    await page.waitForURL(/offset=1/);
    await page.locator(`tr[data-row-of="${id}"]`).waitFor();
    t.is(await page.locator('#sessions tbody tr').count(), 1);
    t.is((await call(fx.user.client, 'DELETE', `/session/${newer}`)).status, 200);
  },
);

test.serial(
  'the session page shows the exit code, the log and the timeline; the log downloads',
  async (t) => {
    // Markup in the command and its output is shown as text.
    const id = await create(
      fx.user,
      batch("echo '<i>console-log-text</i>'; exit 3", { name: 'console-page' }),
    );
    const done = await waitForStatus(fx.user.client, id);
    t.is(done.exitCode, 3);
    const { ctx, page } = await loggedIn(fx.user.accessKey, fx.user.secretKey);
    await page.click(`tr[data-row-of="${id}"] .session-name`);
    await page.waitForURL(new RegExp(`/console/sessions/${id}$`));
    await page.locator('#exit-code', { hasText: '3' }).waitFor();
    await page.locator('#log', { hasText: 'console-log-text' }).waitFor();
    await page.locator('#status', { hasText: 'TERMINATED' }).waitFor();
    t.regex((await page.locator('#log').textContent()) ?? '', /<i>console-log-text<\/i>/);
    t.is(await page.locator('#log i, #command i').count(), 0);
    t.regex((await page.locator('#command').textContent()) ?? '', /echo '<i>console-log-text<\/i>'/);
    t.true((await page.locator('#timeline rect').count()) >= 2);
    await page.locator('#timeline-legend', { hasText: 'RUNNING' }).waitFor();
    await page.locator('#timeline-legend', { hasText: 'TERMINATED' }).waitFor();
    const href = await page.locator('#log-download').getAttribute('href');
    const dl = await ctx.request.get(fx.url(href!));
    t.is(dl.status(), 200);
    t.regex(dl.headers()['content-disposition'] ?? '', /attachment/);
    t.regex(await dl.text(), /console-log-text/);
  },
);

test.serial(
  'the cancel button ends a running session (TERMINATED) and a pending one (CANCELLED)',
  async (t) => {
    const running = await create(
      fx.user,
      batch('echo live-tail-text; sleep 600', { name: 'console-cancel' }),
    );
    await waitForStatus(fx.user.client, running, ['RUNNING']);
    const { page } = await loggedIn(fx.user.accessKey, fx.user.secretKey);
    await page.goto(fx.url(`/console/sessions/${running}`));
    // The live tail reads what the agent copied so far.
    await page.locator('#log', { hasText: 'live-tail-text' }).waitFor();
    await Promise.all([
      page.waitForURL(new RegExp(`/console/sessions/${running}$`)),
      page.click('button.danger'),
    ]);
    await page.locator('#status', { hasText: 'TERMINATED' }).waitFor();
    const ended = await waitForStatus(fx.user.client, running);
    t.is(ended.status, 'TERMINATED');
    t.is(ended.statusInfo, 'user-requested');

    const pending = await create(fx.user, batch('echo never', { name: 'console-pending', starts_at: '1h' }));
    await page.goto(fx.url(`/console/sessions/${pending}`));
    await page.locator('#status', { hasText: 'PENDING' }).waitFor();
    await Promise.all([
      page.waitForURL(new RegExp(`/console/sessions/${pending}$`)),
      page.click('button.danger'),
    ]);
    await page.locator('#status', { hasText: 'CANCELLED' }).waitFor();
    t.is((await waitForStatus(fx.user.client, pending)).status, 'CANCELLED');
  },
);

test.serial('a POST without or with a wrong CSRF token is refused (403) and changes nothing', async (t) => {
  const id = await create(fx.user, batch('echo later', { name: 'console-csrf', starts_at: '1h' }));
  const { ctx, page } = await loggedIn(fx.user.accessKey, fx.user.secretKey);
  const cancel = fx.url(`/console/sessions/${id}/cancel`);
  const none = await ctx.request.post(cancel, { form: {}, maxRedirects: 0 });
  t.is(none.status(), 403);
  const wrong = await ctx.request.post(cancel, { form: { _csrf: 'x'.repeat(43) }, maxRedirects: 0 });
  t.is(wrong.status(), 403);
  const logout = await ctx.request.post(fx.url('/console/logout'), {
    form: { _csrf: 'nope' },
    maxRedirects: 0,
  });
  t.is(logout.status(), 403);
  const s = await call<{ status: string }>(fx.user.client, 'GET', `/session/${id}`);
  t.is(s.body.status, 'PENDING');
  // The page's own token is accepted.
  const token = await page.locator('form input[name=_csrf]').first().getAttribute('value');
  const ok = await ctx.request.post(cancel, { form: { _csrf: token! }, maxRedirects: 0 });
  t.is(ok.status(), 303);
  t.is((await waitForStatus(fx.user.client, id)).status, 'CANCELLED');
});

test.serial('logout ends access: the console asks to log in again, also with the old cookie', async (t) => {
  const { ctx, page } = await loggedIn(fx.user.accessKey, fx.user.secretKey);
  const before = (await ctx.cookies()).find((c) => c.name === 'bai_console');
  t.truthy(before, 'a session cookie while logged in');
  await Promise.all([page.waitForURL(/\/console\/login/), page.click('button.logout')]);
  t.falsy((await ctx.cookies()).find((c) => c.name === 'bai_console' && c.value !== ''));
  await page.goto(fx.url('/console/sessions'));
  t.regex(page.url(), /\/console\/login\?next=/);
  // The old cookie, sent again by hand, no longer opens anything: the server forgot it.
  const replay = await fx.browser.newContext();
  fx.contexts.push(replay);
  await replay.addCookies([{ name: 'bai_console', value: before!.value, url: fx.url('/console') }]);
  const res = await replay.request.get(fx.url('/console/sessions'), { maxRedirects: 0 });
  t.is(res.status(), 302);
  t.regex(res.headers()['location'] ?? '', /\/console\/login/);
});

test.serial("another keypair's session is neither listed nor reachable (404 page)", async (t) => {
  const theirs = await create(fx.other, batch('echo theirs', { name: 'console-theirs' }));
  const mine = await create(fx.user, batch('echo mine', { name: 'console-mine' }));
  const { page } = await loggedIn(fx.user.accessKey, fx.user.secretKey);
  await page.locator(`tr[data-row-of="${mine}"]`).waitFor();
  t.is(await page.locator(`tr[data-row-of="${theirs}"]`).count(), 0);
  t.false((await page.content()).includes('console-theirs'));
  const direct = await page.goto(fx.url(`/console/sessions/${theirs}`));
  t.is(direct?.status(), 404);
  await page.locator('#error').waitFor();
  t.false((await page.content()).includes('console-theirs'));
});

test.serial('a user sees no drain button; a superadmin drains and undrains an agent', async (t) => {
  const agentId = fx.stack.agentConfig(1).id;
  const asUser = await loggedIn(fx.user.accessKey, fx.user.secretKey);
  const refused = await asUser.page.goto(fx.url('/console/agents'));
  t.is(refused?.status(), 403);
  t.is(await asUser.page.locator('button.drain, button.undrain').count(), 0);
  t.is(await asUser.page.locator('nav a[href="/console/agents"]').count(), 0);

  const admin = fx.stack.database.admin;
  const { page } = await loggedIn(admin.accessKey, admin.secretKey);
  await page.goto(fx.url('/console/agents'));
  const row = page.locator(`tr[data-agent="${agentId}"]`);
  await row.locator('.agent-status', { hasText: 'ALIVE' }).waitFor();
  t.true((await row.locator('meter').count()) >= 2);
  await row.locator('button.drain').click();
  await row.locator('.schedulable', { hasText: 'drained' }).waitFor();
  const drained = await call<{ items: { id: string; schedulable: boolean }[] }>(
    fx.stack.client,
    'GET',
    '/agents',
  );
  t.false(drained.body.items.find((a) => a.id === agentId)!.schedulable);
  await row.locator('button.undrain').click();
  await row.locator('.schedulable', { hasText: 'schedulable' }).waitFor();
  const back = await call<{ items: { id: string; schedulable: boolean }[] }>(
    fx.stack.client,
    'GET',
    '/agents',
  );
  t.true(back.body.items.find((a) => a.id === agentId)!.schedulable);
});
