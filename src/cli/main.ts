import { Cli, type BaseContext, type CommandClass } from 'clipanion';
import { EXIT } from './base-command.js';
import { watchClosedStdout } from './closed-stdout.js';
import { BUILTINS, COMMAND_TABLE, type CommandEntry } from './command-table.js';
import { stripAnsi } from './output.js';

/** The entry whose words start argv, the longest one if several do (`agent list` over `agent`). */
function chosenEntry(argv: string[]): CommandEntry | undefined {
  let best: { entry: CommandEntry; length: number } | undefined;
  for (const entry of COMMAND_TABLE)
    for (const path of entry.paths)
      if (path.length > (best?.length ?? 0) && path.every((w, i) => argv[i] === w))
        best = { entry, length: path.length };
  return best?.entry;
}

/** Every command's class, in the table's order (what help, completion and a parse error need). */
export async function loadAllCommands(): Promise<CommandClass<BaseContext>[]> {
  return Promise.all(COMMAND_TABLE.map((e) => e.load()));
}

/**
 * The command classes argv needs: the one its words choose; none for `--version`; all of them
 * for anything else (help, an unknown or partial command), so clipanion answers as it always did.
 */
export async function commandsFor(argv: string[]): Promise<CommandClass<BaseContext>[]> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) return [];
  const entry = chosenEntry(argv);
  if (!entry || entry.all) return loadAllCommands();
  return [await entry.load()];
}

/** A clipanion Cli with `commands` (all of them by default) and the built-ins registered. */
export async function buildCli(
  context?: BaseContext,
  commands?: CommandClass<BaseContext>[],
): Promise<Cli<BaseContext>> {
  // Help and usage in colour only on a terminal, like everything else bai prints.
  const enableColors = context
    ? Boolean((context.stdout as { isTTY?: boolean }).isTTY) &&
      !context.env.NO_COLOR &&
      context.env.TERM !== 'dumb'
    : undefined;
  const cli = new Cli({ binaryLabel: 'bai', binaryName: 'bai', binaryVersion: '0.1.0', enableColors });
  for (const c of [...(commands ?? (await loadAllCommands())), ...BUILTINS]) cli.register(c);
  return cli;
}

/** Runs the CLI; a parse error (bad flag, missing argument) exits 2 with the command's usage. */
export async function runCli(argv: string[], context: BaseContext): Promise<number> {
  let cli = await buildCli(context, await commandsFor(argv));
  try {
    cli.process(argv, context);
  } catch {
    // Parsed again with every command known, so that a mistake reads as it always did.
    cli = await buildCli(context);
    try {
      cli.process(argv, context);
    } catch (err) {
      // clipanion's message names the mistake and shows the command's usage line.
      const text = stripAnsi(cli.error(err as Error, { colored: false }));
      context.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
      context.stderr.write(`Run "bai ${commandWords(argv)}--help" for its flags.\n`);
      // A flag's value that fails its check is an invalid argument; anything else is bad usage.
      return /^Invalid value for /.test((err as Error).message) ? EXIT.invalidArgument : EXIT.usage;
    }
  }
  return cli.run(argv, context);
}

/** The command words of argv (up to the first flag or argument that is not a known word). */
function commandWords(argv: string[]): string {
  const known = new Set(COMMAND_TABLE.flatMap((c) => c.paths.flat()));
  const words: string[] = [];
  for (const a of argv) {
    if (!known.has(a)) break;
    words.push(a);
  }
  return words.length > 0 ? `${words.join(' ')} ` : '';
}

const isMain = process.argv[1] && /bai(\.js)?$/.test(process.argv[1]);
if (isMain) {
  watchClosedStdout(process.argv.slice(2), process.stdout, { exit: (code) => process.exit(code) });
  runCli(process.argv.slice(2), Cli.defaultContext).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
