import test from 'ava';
import type { ScheduleWire } from '../../src/domain/schedule-wire.js';
import { call } from '../helpers/api.js';
import { consoleFixture } from '../helpers/console-browser.js';

/**
 * The console's schedules pages in a real browser (Debian's Chromium) against a real manager
 * and agent: the list, the page with its next instants, Run now creating a run whose session
 * links back, suspend/resume, CSRF and isolation. The schedule fires at 03:00 Berlin time, so
 * only the page's trigger starts runs; every wait is on a page condition.
 */
const WAIT = 60_000;
const fx = consoleFixture(test, WAIT);
test.before(async () => {
  const r = await call<ScheduleWire>(fx.user.client, 'POST', '/schedules', {
    name: 'web-nightly',
    cron: '0 3 * * *',
    timezone: 'Europe/Berlin',
    concurrencyPolicy: 'Forbid',
    session: { image: 'python', type: 'batch', startupCommand: 'echo from-the-console' },
  });
  if (r.status !== 201) throw new Error(`schedule create: ${r.status} ${JSON.stringify(r.body)}`);
});

test.serial('the list shows the schedule with its cron, zone, policy, next instant and state', async (t) => {
  const { page } = await fx.login(fx.user);
  await Promise.all([
    page.waitForURL(/\/console\/schedules$/),
    page.click('nav a[href="/console/schedules"]'),
  ]);
  const row = page.locator('#schedules tr[data-schedule="web-nightly"]');
  await row.waitFor();
  const cells = await row.locator('td').allInnerTexts();
  t.deepEqual(cells.slice(0, 4), ['web-nightly', '0 3 * * *', 'Europe/Berlin', 'Forbid']);
  t.regex(cells[4]!, /^\d{4}-\d\d-\d\dT0[12]:00:00Z$/);
  t.is(cells[5], 'none yet');
  t.is(cells[6], 'active');
});

test.serial('Run now creates a run; its session page names the schedule of origin', async (t) => {
  const { page } = await fx.login(fx.user);
  await page.goto(fx.url('/console/schedules/web-nightly'));
  t.is(await page.locator('#next-instants li').count(), 5);
  for (const text of await page.locator('#next-instants li').allInnerTexts())
    t.regex(text, /^\d{4}-\d\d-\d\d 03:00:00 \+0[12]:00$/);
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/trigger') && r.request().method() === 'POST'),
    page.click('button.trigger'),
  ]);
  const run = page.locator('#runs tr.outcome-triggered');
  await run.waitFor();
  t.is(await page.locator('#runs tbody tr').count(), 1);
  // The run's result turns SUCCESS live (the page follows its session's events).
  await run.locator('.run-result .res-SUCCESS').waitFor();
  const sessionId = (await run.locator('a.run-session').innerText()).trim();
  const r = await call<{ scheduleName: string; sessionName: string }>(
    fx.user.client,
    'GET',
    `/session/${sessionId}`,
  );
  t.is(r.body.scheduleName, 'web-nightly');
  await Promise.all([
    page.waitForURL(new RegExp(`/console/sessions/${sessionId}$`)),
    run.locator('a.run-session').click(),
  ]);
  const origin = page.locator('#schedule-origin a');
  t.is(await origin.innerText(), 'web-nightly');
  await Promise.all([page.waitForURL(/\/console\/schedules\/web-nightly$/), origin.click()]);
  t.is(await page.locator('#runs tbody tr').count(), 1);
});

test.serial('Suspend and Resume toggle the schedule', async (t) => {
  const { page } = await fx.login(fx.user);
  await page.goto(fx.url('/console/schedules/web-nightly'));
  await Promise.all([page.waitForURL(/\/console\/schedules\/web-nightly$/), page.click('button.suspend')]);
  await page.locator('#schedule-state', { hasText: 'suspended' }).waitFor();
  t.is(await page.locator('#next-instants').innerText(), 'None while suspended.');
  const suspended = await call<ScheduleWire>(fx.user.client, 'GET', '/schedules/web-nightly');
  t.like(suspended.body, { suspend: true, nextRunAt: null });
  await page.goto(fx.url('/console/schedules'));
  t.is(await page.locator('tr[data-schedule="web-nightly"] td.state').innerText(), 'suspended');

  await page.goto(fx.url('/console/schedules/web-nightly'));
  await Promise.all([page.waitForURL(/\/console\/schedules\/web-nightly$/), page.click('button.resume')]);
  await page.locator('#schedule-state', { hasText: 'active' }).waitFor();
  t.is(await page.locator('#next-instants li').count(), 5);
  const resumed = await call<ScheduleWire>(fx.user.client, 'GET', '/schedules/web-nightly');
  t.is(resumed.body.suspend, false);
  t.truthy(resumed.body.nextRunAt);
});

test.serial('a forged form is refused; another keypair sees neither the schedule nor its page', async (t) => {
  const { ctx, page } = await fx.login(fx.user);
  const suspend = fx.url('/console/schedules/web-nightly/suspend');
  const none = await ctx.request.post(suspend, { form: {}, maxRedirects: 0 });
  t.is(none.status(), 403);
  const trigger = await ctx.request.post(fx.url('/console/schedules/web-nightly/trigger'), {
    form: { _csrf: 'x'.repeat(43) },
    maxRedirects: 0,
  });
  t.is(trigger.status(), 403);
  const s = await call<ScheduleWire>(fx.user.client, 'GET', '/schedules/web-nightly');
  t.is(s.body.suspend, false);
  t.is(s.body.runs?.length, 1);
  await page.close();

  const theirs = await fx.login(fx.other);
  await theirs.page.goto(fx.url('/console/schedules'));
  t.is(await theirs.page.locator('#schedules tr[data-schedule]').count(), 0);
  const res = await theirs.page.goto(fx.url('/console/schedules/web-nightly'));
  t.is(res?.status(), 404);
  const token = await theirs.page.locator('form input[name=_csrf]').first().getAttribute('value');
  const post = await theirs.ctx.request.post(suspend, { form: { _csrf: token! }, maxRedirects: 0 });
  t.is(post.status(), 404);
  t.is((await call<ScheduleWire>(fx.user.client, 'GET', '/schedules/web-nightly')).body.suspend, false);
});
