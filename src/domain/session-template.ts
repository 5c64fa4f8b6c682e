import type { parseAllDocuments } from 'yaml';
import { ENV_NAME_RE, isObj, type Body } from './body-fields.js';
import { InvalidRequest } from './errors.js';
import { CREATE_ALIASES, CREATE_CONFIG_ALIASES } from './session-request.js';
import { requirePrintable } from './printable.js';
import { requireFolderName } from './storage-folder.js';

/**
 * Session templates (Backend.AI's `task_template_v1`): a stored set of create-request fields
 * that `POST /session/_/create-from-template` turns into a create body, with the request's own
 * fields over it. Parsing, the conversion and the merge are pure so that schedules can use
 * templates as their bodies too.
 */

type TemplateSessionType = 'batch' | 'interactive';

/** A checked template, keys in one spelling (Backend.AI's canonical one). */
export interface SessionTemplate {
  api_version: string;
  kind: 'taskTemplate' | 'task_template';
  metadata: { name: string; tag: string | null };
  spec: {
    session_type: TemplateSessionType;
    kernel: {
      image: string;
      /** Null when the template names none (the session's default applies). */
      architecture: string | null;
      environ: Record<string, string>;
      run: { bootstrap: string | null; startup_command: string | null } | null;
    };
    scaling_group: string | null;
    /** Folder name → mount path (null or '' for the default path). */
    mounts: Record<string, string | null>;
    resources: Record<string, string | number> | null;
  };
}

/** One template of a payload, with the name it is stored under. */
export interface TemplateItem {
  name: string;
  template: SessionTemplate;
}

type Obj = Body;

const MAX_TEMPLATES = 32;

function bad(field: string, message: string): InvalidRequest {
  return new InvalidRequest(`${field} ${message}`, { data: { field } });
}

function objAt(v: unknown, field: string): Obj {
  if (!isObj(v)) throw bad(field, 'must be a mapping.');
  return v;
}

/** Refuses keys a template may not carry: bai would otherwise ignore them silently. */
function only(o: Obj, field: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o))
    if (!allowed.includes(k)) throw bad(field ? `${field}.${k}` : k, `is not a template field bai knows.`);
}

/** The value of the first alias present; two spellings of one field at once are a 400. */
function aliased(o: Obj, field: string, ...keys: string[]): unknown {
  const present = keys.filter((k) => o[k] !== undefined);
  if (present.length > 1) throw bad(`${field}.${present[1]}`, `repeats ${field}.${present[0]}.`);
  return present.length === 1 ? o[present[0]!] : undefined;
}

function text(v: unknown, field: string, max: number, multiline = false): string {
  if (typeof v !== 'string') throw bad(field, 'must be a string.');
  if (v.length > max) throw bad(field, `is longer than ${max} characters.`);
  return requirePrintable(v, field, multiline);
}

function optText(v: unknown, field: string, max: number, multiline = false): string | null {
  return v === undefined || v === null ? null : text(v, field, max, multiline);
}

function environOf(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(objAt(v, field))) {
    if (!ENV_NAME_RE.test(k)) throw bad(`${field}.${k}`, 'is not a valid variable name.');
    // YAML reads `N: 1` as a number; the environment holds its text.
    const value = typeof x === 'number' || typeof x === 'boolean' ? String(x) : x;
    out[k] = text(value, `${field}.${k}`, 4096, true);
  }
  return out;
}

function mountsOf(v: unknown, field: string): Record<string, string | null> {
  if (v === undefined || v === null) return {};
  const out: Record<string, string | null> = {};
  for (const [k, x] of Object.entries(objAt(v, field))) {
    requireFolderName(k, `${field} key "${k}"`);
    out[k] = x === null || x === '' ? null : text(x, `${field}.${k}`, 1024);
  }
  return out;
}

function resourcesOf(v: unknown, field: string): Record<string, string | number> | null {
  if (v === undefined || v === null) return null;
  const out: Record<string, string | number> = {};
  for (const [k, x] of Object.entries(objAt(v, field))) {
    requirePrintable(k, `${field} key`);
    if (typeof x === 'number' && Number.isFinite(x) && x >= 0) out[k] = x;
    else if (typeof x === 'string') out[k] = text(x, `${field}.${k}`, 64);
    else throw bad(`${field}.${k}`, 'must be an amount (a number or a string such as "4g").');
  }
  return out;
}

function runOf(v: unknown, field: string): SessionTemplate['spec']['kernel']['run'] {
  if (v === undefined || v === null) return null;
  const o = objAt(v, field);
  only(o, field, ['bootstrap', 'startup', 'startup_command', 'startupCommand']);
  return {
    bootstrap: optText(o.bootstrap, `${field}.bootstrap`, 65536, true),
    startup_command: optText(
      aliased(o, field, 'startup', 'startup_command', 'startupCommand'),
      `${field}.startup_command`,
      65536,
      true,
    ),
  };
}

/**
 * Checks one template (Backend.AI's `task_template_v1`, its aliases included) into a
 * SessionTemplate. Every refusal is a 400 naming the field, prefixed with `at`.
 */
export function checkTaskTemplate(raw: unknown, at = 'template'): SessionTemplate {
  const t = objAt(raw, at);
  only(t, at, ['api_version', 'apiVersion', 'kind', 'metadata', 'spec']);
  const apiVersionRaw = aliased(t, at, 'api_version', 'apiVersion');
  if (apiVersionRaw === undefined) throw bad(`${at}.api_version`, 'is required.');
  // YAML reads `api_version: 6` as a number; Backend.AI's own fixtures quote it.
  const api_version = text(
    typeof apiVersionRaw === 'number' ? String(apiVersionRaw) : apiVersionRaw,
    `${at}.api_version`,
    32,
  );
  if (t.kind !== 'taskTemplate' && t.kind !== 'task_template')
    throw bad(`${at}.kind`, 'must be "taskTemplate" (or "task_template").');

  const metaAt = `${at}.metadata`;
  const meta = objAt(t.metadata, metaAt);
  only(meta, metaAt, ['name', 'tag']);
  if (meta.name === undefined || meta.name === null) throw bad(`${metaAt}.name`, 'is required.');
  const name = text(meta.name, `${metaAt}.name`, 128);
  if (name.trim() === '') throw bad(`${metaAt}.name`, 'must not be empty.');

  const specAt = `${at}.spec`;
  const spec = objAt(t.spec, specAt);
  only(spec, specAt, [
    'type',
    'session_type',
    'sessionType',
    'kernel',
    'scaling_group',
    'mounts',
    'resources',
    'agent_list',
    'agentList',
  ]);
  const typeRaw = aliased(spec, specAt, 'type', 'session_type', 'sessionType') ?? 'interactive';
  if (typeRaw !== 'batch' && typeRaw !== 'interactive')
    throw bad(`${specAt}.session_type`, 'must be "batch" or "interactive" (bai runs no other kind).');
  const agentList = aliased(spec, specAt, 'agent_list', 'agentList');
  if (agentList !== undefined && agentList !== null && !(Array.isArray(agentList) && agentList.length === 0))
    throw bad(`${specAt}.agent_list`, 'cannot be honoured: bai places sessions itself (leave it empty).');

  const kAt = `${specAt}.kernel`;
  const kernel = objAt(spec.kernel, kAt);
  only(kernel, kAt, ['image', 'architecture', 'environ', 'run', 'git']);
  if (kernel.image === undefined || kernel.image === null) throw bad(`${kAt}.image`, 'is required.');
  const image = text(kernel.image, `${kAt}.image`, 512).trim();
  if (image === '') throw bad(`${kAt}.image`, 'must not be empty.');
  if (kernel.git !== undefined && kernel.git !== null)
    throw bad(`${kAt}.git`, 'cannot be honoured: clone the repository in run.bootstrap instead.');

  return {
    api_version,
    kind: t.kind,
    metadata: { name, tag: optText(meta.tag, `${metaAt}.tag`, 256) },
    spec: {
      session_type: typeRaw,
      kernel: {
        image,
        architecture: optText(kernel.architecture, `${kAt}.architecture`, 32),
        environ: environOf(kernel.environ, `${kAt}.environ`),
        run: runOf(kernel.run, `${kAt}.run`),
      },
      scaling_group: optText(spec.scaling_group, `${specAt}.scaling_group`, 64),
      mounts: mountsOf(spec.mounts, `${specAt}.mounts`),
      resources: resourcesOf(spec.resources, `${specAt}.resources`),
    },
  };
}

/**
 * The YAML library's reader, passed in by the caller (`await import('yaml')`): only a process
 * that parses templates loads it (docs/benchmarks.md, "Round three: footprint").
 */
export interface YamlReader {
  parseAllDocuments: typeof parseAllDocuments;
}

/** The documents of a payload: JSON first (as Backend.AI tries it), else YAML (several documents). */
function documentsOf(payload: string, yaml: YamlReader): unknown[] {
  try {
    return [JSON.parse(payload) as unknown];
  } catch {
    // Not JSON: YAML, as Backend.AI falls back to.
  }
  const docs = yaml.parseAllDocuments(payload);
  const list = Array.isArray(docs) ? docs : [docs];
  const out: unknown[] = [];
  for (const d of list) {
    if (d.errors.length > 0) throw bad('payload', `is neither JSON nor YAML: ${d.errors[0]!.message}`);
    const v = d.toJS({ maxAliasCount: 100 }) as unknown;
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}

/** An entry `{template, name?}` of Backend.AI's `session_templates` list. */
function itemOf(raw: unknown, at: string): TemplateItem {
  const o = objAt(raw, at);
  if (o.group_id !== undefined || o.user_uuid !== undefined)
    throw bad(
      `${at}.${o.group_id !== undefined ? 'group_id' : 'user_uuid'}`,
      'is not used by bai: send group / owner_access_key in the request.',
    );
  only(o, at, ['template', 'name']);
  const template = checkTaskTemplate(o.template, `${at}.template`);
  const name =
    o.name === undefined || o.name === null ? template.metadata.name : text(o.name, `${at}.name`, 128);
  return { name, template };
}

/**
 * The templates a `payload` text holds, in the forms Backend.AI's managers and docs use: a
 * bare template (`kind: taskTemplate`), `{"session_templates": [{"template": …, "name": …}]}`,
 * a list of such entries, or YAML documents of either.
 */
export function parseTemplatePayload(payload: string, yaml: YamlReader): TemplateItem[] {
  if (payload.trim() === '') throw bad('payload', 'is empty.');
  const out: TemplateItem[] = [];
  const docs = documentsOf(payload, yaml);
  docs.forEach((doc, d) => {
    const at = docs.length > 1 ? `payload[${d}]` : 'payload';
    if (Array.isArray(doc)) doc.forEach((x, i) => out.push(itemOf(x, `${at}[${i}]`)));
    else if (isObj(doc) && doc.session_templates !== undefined) {
      only(doc, at, ['session_templates']);
      if (!Array.isArray(doc.session_templates)) throw bad(`${at}.session_templates`, 'must be a list.');
      doc.session_templates.forEach((x, i) => out.push(itemOf(x, `${at}.session_templates[${i}]`)));
    } else if (isObj(doc) && doc.template !== undefined) out.push(itemOf(doc, at));
    else {
      const template = checkTaskTemplate(doc, at);
      out.push({ name: template.metadata.name, template });
    }
  });
  if (out.length === 0) throw bad('payload', 'holds no template.');
  if (out.length > MAX_TEMPLATES) throw bad('payload', `holds more than ${MAX_TEMPLATES} templates.`);
  return out;
}

/** Where a template was stored: its domain and group become the session's by default. */
interface TemplateOrigin {
  domain: string;
  group: string | null;
}

/**
 * The create body (`POST /session` field names) a template stands for. Pure, so that a
 * schedule can use a template as its body.
 */
export function templateToCreateBody(t: SessionTemplate, origin: TemplateOrigin): Obj {
  const { kernel } = t.spec;
  const config: Obj = {};
  if (t.spec.scaling_group) config.scaling_group = t.spec.scaling_group;
  const mounts = Object.keys(t.spec.mounts);
  if (mounts.length > 0) {
    config.mounts = mounts;
    const map = Object.entries(t.spec.mounts).filter((e): e is [string, string] => !!e[1]);
    if (map.length > 0) config.mount_map = Object.fromEntries(map);
  }
  if (Object.keys(kernel.environ).length > 0) config.environ = { ...kernel.environ };
  if (t.spec.resources && Object.keys(t.spec.resources).length > 0)
    config.resources = { ...t.spec.resources };
  return {
    image: kernel.image,
    type: t.spec.session_type,
    domain: origin.domain,
    ...(origin.group ? { group: origin.group } : {}),
    ...(kernel.architecture ? { architecture: kernel.architecture } : {}),
    ...(t.metadata.tag ? { tag: t.metadata.tag } : {}),
    ...(kernel.run?.bootstrap ? { bootstrap_script: kernel.run.bootstrap } : {}),
    ...(kernel.run?.startup_command ? { startup_command: kernel.run.startup_command } : {}),
    config,
  };
}

/** Spellings of one create field (the parser's table): a request's spelling replaces every spelling of the template's. */
const TOP_ALIASES: readonly (readonly string[])[] = Object.values(CREATE_ALIASES).filter(
  (f) => f !== CREATE_ALIASES.scalingGroup,
);
const { mounts, mountMap, mountIds, mountIdMap, mountOptions, ...otherConfig } = CREATE_CONFIG_ALIASES;
/** Config fields replaced together: `mounts` without a map drops the template's map too. */
const CONFIG_ALIASES: readonly (readonly string[])[] = [
  [...mounts, ...mountMap, ...mountIds, ...mountIdMap, ...mountOptions],
  ...Object.values(otherConfig),
];

function familyOf(key: string, families: readonly (readonly string[])[]): readonly string[] {
  return families.find((f) => f.includes(key)) ?? [key];
}

/**
 * A create body: the template's fields, with the request's over them as Backend.AI's
 * create-from-template does. A top-level field the request gives (not null) replaces the
 * template's; a config field the request names replaces the template's whole, and an explicit
 * null or empty value (the CLI's --no-mount, --no-env, --no-resource) drops it. `template_id`
 * is not passed on.
 */
export function mergeCreateOverrides(base: Obj, request: Obj): Obj {
  const out: Obj = { ...base };
  const config: Obj = isObj(base.config) ? { ...base.config } : {};
  const reqConfig =
    request.config === undefined || request.config === null ? {} : objAt(request.config, 'config');
  for (const [k, v] of Object.entries(request)) {
    if (k === 'config' || k === 'template_id' || k === 'templateId' || v === undefined || v === null)
      continue;
    if ((CREATE_ALIASES.scalingGroup as readonly string[]).includes(k)) {
      // A top-level scaling group is the config's one: it must not lose to the template's.
      for (const a of CREATE_CONFIG_ALIASES.scalingGroup) delete config[a];
      config.scaling_group = v;
      continue;
    }
    for (const a of familyOf(k, TOP_ALIASES)) delete out[a];
    out[k] = v;
  }
  const touched = new Set<readonly string[]>();
  for (const k of Object.keys(reqConfig)) {
    const family = familyOf(k, CONFIG_ALIASES);
    if (touched.has(family)) continue;
    touched.add(family);
    for (const a of family) delete config[a];
  }
  for (const [k, v] of Object.entries(reqConfig)) if (v !== undefined) config[k] = v;
  out.config = config;
  return out;
}
