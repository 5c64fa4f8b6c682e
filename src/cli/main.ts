import { Builtins, Cli, type BaseContext } from 'clipanion';
import { AgentCommand } from './commands/agent.js';
import { CompletionCommand } from './commands/completion.js';
import { ConfigCommand } from './commands/config.js';
import { AgentDrainCommand } from './commands/admin/agent/drain.js';
import { AgentListCommand } from './commands/admin/agent/list.js';
import { AgentUserCreateCommand } from './commands/admin/agent-user/create.js';
import { AgentUserRmCommand } from './commands/admin/agent-user/rm.js';
import { DomainAllowedRegistriesCommand } from './commands/admin/domain/allowed-registries.js';
import { ImageAliasListCommand } from './commands/admin/image/alias-list.js';
import { ImageAliasSetCommand } from './commands/admin/image/alias-set.js';
import { KeypairCreateCommand } from './commands/admin/keypair/create.js';
import { KeypairDeactivateCommand } from './commands/admin/keypair/deactivate.js';
import { KeypairListCommand } from './commands/admin/keypair/list.js';
import { KeypairUpdateCommand } from './commands/admin/keypair/update.js';
import { RegistryAddCommand } from './commands/admin/registry/add.js';
import { RegistryListCommand } from './commands/admin/registry/list.js';
import { ScalingGroupCreateCommand } from './commands/admin/scaling-group/create.js';
import { ScalingGroupListCommand } from './commands/admin/scaling-group/list.js';
import { TokenCreateCommand } from './commands/admin/token/create.js';
import { TokenListCommand } from './commands/admin/token/list.js';
import { TokenRevokeCommand } from './commands/admin/token/revoke.js';
import { DbMigrateCommand } from './commands/db/migrate.js';
import { DbSeedCommand } from './commands/db/seed.js';
import { FolderCreateCommand } from './commands/folder/create.js';
import { FolderListCommand } from './commands/folder/list.js';
import { FolderDeleteCommand } from './commands/folder/rm.js';
import { FolderShareCommand } from './commands/folder/share.js';
import { ManagerCommand } from './commands/manager.js';
import { PsCommand } from './commands/ps.js';
import { RunCommand } from './commands/run.js';
import { ScheduleCreateCommand } from './commands/schedule/create.js';
import { ScheduleInfoCommand } from './commands/schedule/info.js';
import { ScheduleListCommand } from './commands/schedule/list.js';
import { ScheduleResumeCommand } from './commands/schedule/resume.js';
import { ScheduleDeleteCommand } from './commands/schedule/rm.js';
import { ScheduleSuspendCommand } from './commands/schedule/suspend.js';
import { ScheduleTriggerCommand } from './commands/schedule/trigger.js';
import { SessionCreateCommand } from './commands/session/create.js';
import { SessionCreateFromTemplateCommand } from './commands/session/create-from-template.js';
import { SessionEventsCommand } from './commands/session/events.js';
import { SessionInfoCommand } from './commands/session/info.js';
import { SessionLogsCommand } from './commands/session/logs.js';
import { SessionDestroyCommand } from './commands/session/rm.js';
import { SessionStatusHistoryCommand } from './commands/session/status-history.js';
import { SessionWatchCommand } from './commands/session/watch.js';
import { SessionTemplateCreateCommand } from './commands/session-template/create.js';
import { SessionTemplateGetCommand } from './commands/session-template/get.js';
import { SessionTemplateListCommand } from './commands/session-template/list.js';
import { SessionTemplateDeleteCommand } from './commands/session-template/rm.js';
import { SessionTemplateUpdateCommand } from './commands/session-template/update.js';
import { DownCommand } from './commands/down.js';
import { ResetCommand } from './commands/reset.js';
import { StackLogsCommand } from './commands/stack-logs.js';
import { StatusCommand } from './commands/status.js';
import { UpCommand } from './commands/up.js';
import { EXIT } from './base-command.js';
import { stripAnsi } from './output.js';

export const COMMANDS = [
  RunCommand,
  SessionCreateCommand,
  SessionCreateFromTemplateCommand,
  SessionInfoCommand,
  SessionLogsCommand,
  SessionDestroyCommand,
  SessionStatusHistoryCommand,
  SessionEventsCommand,
  SessionWatchCommand,
  PsCommand,
  SessionTemplateCreateCommand,
  SessionTemplateListCommand,
  SessionTemplateGetCommand,
  SessionTemplateUpdateCommand,
  SessionTemplateDeleteCommand,
  ScheduleCreateCommand,
  ScheduleListCommand,
  ScheduleInfoCommand,
  ScheduleSuspendCommand,
  ScheduleResumeCommand,
  ScheduleTriggerCommand,
  ScheduleDeleteCommand,
  FolderCreateCommand,
  FolderListCommand,
  FolderShareCommand,
  FolderDeleteCommand,
  ManagerCommand,
  AgentCommand,
  UpCommand,
  DownCommand,
  StatusCommand,
  StackLogsCommand,
  ResetCommand,
  DbMigrateCommand,
  DbSeedCommand,
  ConfigCommand,
  CompletionCommand,
  KeypairCreateCommand,
  KeypairListCommand,
  KeypairDeactivateCommand,
  KeypairUpdateCommand,
  TokenCreateCommand,
  TokenListCommand,
  TokenRevokeCommand,
  ImageAliasSetCommand,
  ImageAliasListCommand,
  RegistryAddCommand,
  RegistryListCommand,
  DomainAllowedRegistriesCommand,
  ScalingGroupCreateCommand,
  ScalingGroupListCommand,
  AgentListCommand,
  AgentDrainCommand,
  AgentUserCreateCommand,
  AgentUserRmCommand,
  Builtins.HelpCommand,
  Builtins.VersionCommand,
  Builtins.DefinitionsCommand,
];

export function buildCli(context?: BaseContext): Cli<BaseContext> {
  // Help and usage in colour only on a terminal, like everything else bai prints.
  const enableColors = context
    ? Boolean((context.stdout as { isTTY?: boolean }).isTTY) &&
      !context.env.NO_COLOR &&
      context.env.TERM !== 'dumb'
    : undefined;
  const cli = new Cli({ binaryLabel: 'bai', binaryName: 'bai', binaryVersion: '0.1.0', enableColors });
  for (const c of COMMANDS) cli.register(c);
  CompletionCommand.commandPaths = COMMANDS.map((c) => c.paths ?? []);
  return cli;
}

/** Runs the CLI; a parse error (bad flag, missing argument) exits 2 with the command's usage. */
export async function runCli(argv: string[], context: BaseContext): Promise<number> {
  const cli = buildCli(context);
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
  return cli.run(argv, context);
}

/** The command words of argv (up to the first flag or argument that is not a known word). */
function commandWords(argv: string[]): string {
  const known = new Set(COMMANDS.flatMap((c) => (c.paths ?? []).flat()));
  const words: string[] = [];
  for (const a of argv) {
    if (!known.has(a)) break;
    words.push(a);
  }
  return words.length > 0 ? `${words.join(' ')} ` : '';
}

const isMain = process.argv[1] && /bai(\.js)?$/.test(process.argv[1]);
if (isMain) {
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
