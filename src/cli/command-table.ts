import { Builtins, type BaseContext, type CommandClass } from 'clipanion';

/**
 * Every command of the binary, by the words that choose it, in the order `bai --help` lists
 * them. A command's module is imported only when its words are on the command line, so `bai
 * --version` and `bai session info X` load neither the manager's nor the agent's libraries
 * (docs/benchmarks.md, "Round two: CLI start and footprint"). `paths` repeats each command's
 * `static paths` (a unit test keeps the two equal); `all` marks a command that reads every
 * other command's definition (completion), which therefore loads them all.
 */
export interface CommandEntry {
  paths: string[][];
  load: () => Promise<CommandClass<BaseContext>>;
  all?: boolean;
}

export const COMMAND_TABLE: readonly CommandEntry[] = [
  { paths: [['run']], load: async () => (await import('./commands/run.js')).RunCommand },
  {
    paths: [['session', 'create'], ['create'], ['start'], ['session', 'start']],
    load: async () => (await import('./commands/session/create.js')).SessionCreateCommand,
  },
  {
    paths: [['session', 'create-from-template'], ['session', 'start-template'], ['start-template']],
    load: async () =>
      (await import('./commands/session/create-from-template.js')).SessionCreateFromTemplateCommand,
  },
  {
    paths: [['session', 'info']],
    load: async () => (await import('./commands/session/info.js')).SessionInfoCommand,
  },
  {
    paths: [['session', 'logs'], ['logs']],
    load: async () => (await import('./commands/session/logs.js')).SessionLogsCommand,
  },
  {
    paths: [['session', 'rm'], ['session', 'destroy'], ['session', 'kill'], ['rm'], ['destroy'], ['kill']],
    load: async () => (await import('./commands/session/rm.js')).SessionDestroyCommand,
  },
  {
    paths: [['session', 'status-history']],
    load: async () => (await import('./commands/session/status-history.js')).SessionStatusHistoryCommand,
  },
  {
    paths: [['session', 'events'], ['events']],
    load: async () => (await import('./commands/session/events.js')).SessionEventsCommand,
  },
  {
    paths: [['session', 'watch'], ['watch']],
    load: async () => (await import('./commands/session/watch.js')).SessionWatchCommand,
  },
  {
    paths: [['ps'], ['session', 'list'], ['session', 'ls']],
    load: async () => (await import('./commands/ps.js')).PsCommand,
  },
  {
    paths: [
      ['session-template', 'create'],
      ['sesstpl', 'create'],
    ],
    load: async () => (await import('./commands/session-template/create.js')).SessionTemplateCreateCommand,
  },
  {
    paths: [
      ['session-template', 'list'],
      ['sesstpl', 'list'],
    ],
    load: async () => (await import('./commands/session-template/list.js')).SessionTemplateListCommand,
  },
  {
    paths: [
      ['session-template', 'get'],
      ['sesstpl', 'get'],
    ],
    load: async () => (await import('./commands/session-template/get.js')).SessionTemplateGetCommand,
  },
  {
    paths: [
      ['session-template', 'update'],
      ['sesstpl', 'update'],
    ],
    load: async () => (await import('./commands/session-template/update.js')).SessionTemplateUpdateCommand,
  },
  {
    paths: [
      ['session-template', 'delete'],
      ['session-template', 'rm'],
      ['sesstpl', 'delete'],
    ],
    load: async () => (await import('./commands/session-template/rm.js')).SessionTemplateDeleteCommand,
  },
  {
    paths: [['schedule', 'create']],
    load: async () => (await import('./commands/schedule/create.js')).ScheduleCreateCommand,
  },
  {
    paths: [
      ['schedule', 'list'],
      ['schedule', 'ls'],
    ],
    load: async () => (await import('./commands/schedule/list.js')).ScheduleListCommand,
  },
  {
    paths: [['schedule', 'info']],
    load: async () => (await import('./commands/schedule/info.js')).ScheduleInfoCommand,
  },
  {
    paths: [['schedule', 'suspend']],
    load: async () => (await import('./commands/schedule/suspend.js')).ScheduleSuspendCommand,
  },
  {
    paths: [['schedule', 'resume']],
    load: async () => (await import('./commands/schedule/resume.js')).ScheduleResumeCommand,
  },
  {
    paths: [['schedule', 'trigger']],
    load: async () => (await import('./commands/schedule/trigger.js')).ScheduleTriggerCommand,
  },
  {
    paths: [
      ['schedule', 'rm'],
      ['schedule', 'delete'],
    ],
    load: async () => (await import('./commands/schedule/rm.js')).ScheduleDeleteCommand,
  },
  {
    paths: [
      ['folder', 'create'],
      ['vfolder', 'create'],
    ],
    load: async () => (await import('./commands/folder/create.js')).FolderCreateCommand,
  },
  {
    paths: [
      ['folder', 'list'],
      ['vfolder', 'list'],
    ],
    load: async () => (await import('./commands/folder/list.js')).FolderListCommand,
  },
  {
    paths: [
      ['folder', 'share'],
      ['vfolder', 'invite'],
    ],
    load: async () => (await import('./commands/folder/share.js')).FolderShareCommand,
  },
  {
    paths: [
      ['folder', 'rm'],
      ['vfolder', 'delete'],
    ],
    load: async () => (await import('./commands/folder/rm.js')).FolderDeleteCommand,
  },
  { paths: [['manager']], load: async () => (await import('./commands/manager.js')).ManagerCommand },
  { paths: [['agent']], load: async () => (await import('./commands/agent.js')).AgentCommand },
  { paths: [['up']], load: async () => (await import('./commands/up.js')).UpCommand },
  { paths: [['down']], load: async () => (await import('./commands/down.js')).DownCommand },
  { paths: [['status']], load: async () => (await import('./commands/status.js')).StatusCommand },
  {
    paths: [['stack', 'logs']],
    load: async () => (await import('./commands/stack-logs.js')).StackLogsCommand,
  },
  { paths: [['reset']], load: async () => (await import('./commands/reset.js')).ResetCommand },
  {
    paths: [['db', 'migrate']],
    load: async () => (await import('./commands/db/migrate.js')).DbMigrateCommand,
  },
  { paths: [['db', 'seed']], load: async () => (await import('./commands/db/seed.js')).DbSeedCommand },
  { paths: [['config']], load: async () => (await import('./commands/config.js')).ConfigCommand },
  {
    paths: [['completion']],
    load: async () => (await import('./commands/completion.js')).CompletionCommand,
    all: true,
  },
  {
    paths: [
      ['admin', 'keypair', 'create'],
      ['keypair', 'create'],
    ],
    load: async () => (await import('./commands/admin/keypair/create.js')).KeypairCreateCommand,
  },
  {
    paths: [
      ['admin', 'keypair', 'list'],
      ['keypair', 'list'],
    ],
    load: async () => (await import('./commands/admin/keypair/list.js')).KeypairListCommand,
  },
  {
    paths: [
      ['admin', 'keypair', 'deactivate'],
      ['keypair', 'deactivate'],
    ],
    load: async () => (await import('./commands/admin/keypair/deactivate.js')).KeypairDeactivateCommand,
  },
  {
    paths: [
      ['admin', 'keypair', 'update'],
      ['keypair', 'update'],
    ],
    load: async () => (await import('./commands/admin/keypair/update.js')).KeypairUpdateCommand,
  },
  {
    paths: [
      ['admin', 'token', 'create'],
      ['token', 'create'],
    ],
    load: async () => (await import('./commands/admin/token/create.js')).TokenCreateCommand,
  },
  {
    paths: [
      ['admin', 'token', 'list'],
      ['token', 'list'],
    ],
    load: async () => (await import('./commands/admin/token/list.js')).TokenListCommand,
  },
  {
    paths: [
      ['admin', 'token', 'revoke'],
      ['token', 'revoke'],
    ],
    load: async () => (await import('./commands/admin/token/revoke.js')).TokenRevokeCommand,
  },
  {
    paths: [
      ['admin', 'image', 'alias', 'set'],
      ['image', 'alias', 'set'],
    ],
    load: async () => (await import('./commands/admin/image/alias-set.js')).ImageAliasSetCommand,
  },
  {
    paths: [
      ['admin', 'image', 'alias', 'list'],
      ['image', 'alias', 'list'],
      ['image', 'list'],
    ],
    load: async () => (await import('./commands/admin/image/alias-list.js')).ImageAliasListCommand,
  },
  {
    paths: [
      ['admin', 'registry', 'add'],
      ['registry', 'add'],
    ],
    load: async () => (await import('./commands/admin/registry/add.js')).RegistryAddCommand,
  },
  {
    paths: [
      ['admin', 'registry', 'list'],
      ['registry', 'list'],
    ],
    load: async () => (await import('./commands/admin/registry/list.js')).RegistryListCommand,
  },
  {
    paths: [
      ['admin', 'domain', 'allowed-registries'],
      ['domain', 'allowed-registries'],
    ],
    load: async () =>
      (await import('./commands/admin/domain/allowed-registries.js')).DomainAllowedRegistriesCommand,
  },
  {
    paths: [
      ['admin', 'scaling-group', 'create'],
      ['scaling-group', 'create'],
    ],
    load: async () => (await import('./commands/admin/scaling-group/create.js')).ScalingGroupCreateCommand,
  },
  {
    paths: [
      ['admin', 'scaling-group', 'list'],
      ['scaling-group', 'list'],
    ],
    load: async () => (await import('./commands/admin/scaling-group/list.js')).ScalingGroupListCommand,
  },
  {
    paths: [
      ['admin', 'agent', 'list'],
      ['agent', 'list'],
    ],
    load: async () => (await import('./commands/admin/agent/list.js')).AgentListCommand,
  },
  {
    paths: [
      ['admin', 'agent', 'drain'],
      ['agent', 'drain'],
    ],
    load: async () => (await import('./commands/admin/agent/drain.js')).AgentDrainCommand,
  },
  {
    paths: [
      ['admin', 'agent-user', 'create'],
      ['agent-user', 'create'],
    ],
    load: async () => (await import('./commands/admin/agent-user/create.js')).AgentUserCreateCommand,
  },
  {
    paths: [
      ['admin', 'agent-user', 'rm'],
      ['agent-user', 'rm'],
    ],
    load: async () => (await import('./commands/admin/agent-user/rm.js')).AgentUserRmCommand,
  },
];

/** clipanion's own commands (`--help`, `--version`, definitions), registered in every run. */
export const BUILTINS: readonly CommandClass<BaseContext>[] = [
  Builtins.HelpCommand,
  Builtins.VersionCommand,
  Builtins.DefinitionsCommand,
];
