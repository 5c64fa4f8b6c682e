import test from 'ava';
import { readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMAND_TABLE } from '../../src/cli/command-table.js';
import { buildCli, commandsFor } from '../../src/cli/main.js';

/** The compiled command modules (dist/src/cli/commands/**.js). */
const commandsDir = resolve(fileURLToPath(import.meta.url), '../../../src/cli/commands');
function commandFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? commandFiles(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : [],
  );
}

test('the command table names each command by the paths its class declares', async (t) => {
  for (const entry of COMMAND_TABLE) {
    const cls = await entry.load();
    t.deepEqual(entry.paths, cls.paths, cls.name);
  }
});

test('every command module is in the command table, once', async (t) => {
  const classes = await Promise.all(COMMAND_TABLE.map((e) => e.load()));
  t.is(new Set(classes).size, classes.length);
  const exported = new Set<unknown>();
  for (const file of commandFiles(commandsDir)) {
    const mod = (await import(file)) as Record<string, unknown>;
    const commands = Object.values(mod).filter((v) => typeof v === 'function' && 'paths' in v);
    t.true(commands.length > 0, `${relative(commandsDir, file)} exports a command`);
    for (const c of commands) exported.add(c);
  }
  t.deepEqual(
    [...exported].filter((c) => !classes.includes(c as never)).map((c) => (c as { name: string }).name),
    [],
  );
});

test('a command line loads only the command it names; --version none; help and unknown words all', async (t) => {
  const info = await commandsFor(['session', 'info', 'x', '--json']);
  t.deepEqual(
    info.map((c) => c.name),
    ['SessionInfoCommand'],
  );
  t.deepEqual(
    (await commandsFor(['agent', 'list'])).map((c) => c.name),
    ['AgentListCommand'],
  );
  t.deepEqual(
    (await commandsFor(['agent'])).map((c) => c.name),
    ['AgentCommand'],
  );
  t.deepEqual(await commandsFor(['--version']), []);
  t.is((await commandsFor(['--help'])).length, COMMAND_TABLE.length);
  t.is((await commandsFor(['session'])).length, COMMAND_TABLE.length);
  t.is((await commandsFor(['completion', 'bash'])).length, COMMAND_TABLE.length);
});

test('with one command registered, it parses its command line as with all of them', async (t) => {
  const argv = ['session', 'info', 'abc', '--json'];
  const one = (await buildCli(undefined, await commandsFor(argv))).process(argv);
  const all = (await buildCli()).process(argv);
  t.is(one.constructor, all.constructor);
  t.deepEqual({ ...one, context: null, cli: null }, { ...all, context: null, cli: null });
});
