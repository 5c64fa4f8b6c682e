import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { SessionSubmitCommand } from '../../session-options.js';

type Body = Record<string, unknown>;

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && Object.keys(v).length === 0;
}

/** Config fields that travel together: mounts with their map and options. */
const MOUNT_FIELDS = ['mounts', 'mount_map', 'mount_options'];

/**
 * The overrides a create-from-template request carries: only what the flags gave, so the
 * template keeps the rest; --no-mount, --no-env and --no-resource send explicit empty values,
 * which the server takes as "drop the template's", as Backend.AI's CLI does.
 */
function templateOverrides(body: Body, drop: { mount: boolean; env: boolean; resource: boolean }): Body {
  const config = { ...((body.config as Body | undefined) ?? {}) };
  if (MOUNT_FIELDS.every((k) => isEmpty(config[k]))) {
    for (const k of MOUNT_FIELDS) delete config[k];
    if (drop.mount) Object.assign(config, { mounts: [], mount_map: {} });
  }
  if (isEmpty(config.environ)) {
    delete config.environ;
    if (drop.env) config.environ = {};
  }
  for (const k of ['resources', 'resource_opts']) {
    if (isEmpty(config[k])) {
      delete config[k];
      if (drop.resource) config[k] = {};
    }
  }
  const out: Body = {};
  for (const [k, v] of Object.entries(body)) if (v !== undefined && k !== 'config') out[k] = v;
  if (Object.values(config).some((v) => v !== undefined)) out.config = config;
  return out;
}

export class SessionCreateFromTemplateCommand extends SessionSubmitCommand {
  static override paths = [
    ['session', 'create-from-template'],
    ['session', 'start-template'],
    ['start-template'],
  ];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'Create a session from a session template, flags over its fields',
    details: `Every flag given replaces the template's field (mounts, environment and resources whole, not merged); --no-mount, --no-env and --no-resource drop the template's. With --wait, waits until the session ends and exits with its exit code.`,
    examples: [
      ['As stored', '$0 session create-from-template 6f1c…'],
      ['Another command and no mounts', `$0 session create-from-template 6f1c… -c 'make test' --no-mount`],
    ],
  });

  templateId = Option.String({ name: 'TEMPLATE_ID' });
  image = Option.String('-i,--image', { description: "Replace the template's image" });
  type = Option.String('--type', {
    validator: t.isEnum(['batch', 'interactive']),
    description: 'batch or interactive',
  });
  startupCommand = Option.String('-c,--startup-command', { description: "Replace the template's command" });
  noMount = Option.Boolean('--no-mount', false, { description: "Drop the template's mounts" });
  noEnv = Option.Boolean('--no-env', false, { description: "Drop the template's environment" });
  noResource = Option.Boolean('--no-resource', false, { description: "Drop the template's resources" });

  async run(): Promise<number> {
    const body = templateOverrides(
      this.createBody(this.image, this.startupCommand, this.type as 'batch' | 'interactive' | undefined),
      { mount: this.noMount, env: this.noEnv, resource: this.noResource },
    );
    body.template_id = this.templateId;
    return this.submit('/session/_/create-from-template', body);
  }
}
