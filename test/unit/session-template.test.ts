import test from 'ava';
import * as yaml from 'yaml';
import { InvalidRequest } from '../../src/domain/errors.js';
import { parseCreateSessionBody } from '../../src/domain/session-request.js';
import {
  checkTaskTemplate,
  mergeCreateOverrides,
  parseTemplatePayload,
  templateToCreateBody,
} from '../../src/domain/session-template.js';

/** The payload's templates, YAML read by the library the manager's route passes in. */
const parsePayload = (payload: string) => parseTemplatePayload(payload, yaml);

// The sample of Backend.AI's docs (client/cli/session-templates.rst), without git.
const DOC_SAMPLE = `---
api_version: v1
kind: taskTemplate
metadata:
  name: template1234
  tag: example-tag
spec:
  kernel:
    environ:
      MYCONFIG: XXX
    image: python:3.6-ubuntu18.04
  resources:
    cpu: '2'
    mem: 4g
  mounts:
    hostpath-test: /home/work/hostDesktop
    test-vfolder:
  sessionType: interactive
`;

const minimal = (spec: Record<string, unknown> = {}) => ({
  api_version: '6',
  kind: 'taskTemplate',
  metadata: { name: 'job' },
  spec: {
    session_type: 'batch',
    kernel: { image: 'python:3.12', run: { startup_command: 'echo hi' } },
    ...spec,
  },
});

/** The field a refusal names. */
function refusedField(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    if (err instanceof InvalidRequest) return (err.data as { field?: string } | undefined)?.field;
    throw err;
  }
  throw new Error('not refused');
}

test("Backend.AI's documented YAML sample is a template, aliases folded", (t) => {
  const [item, ...rest] = parsePayload(DOC_SAMPLE);
  t.is(rest.length, 0);
  t.is(item!.name, 'template1234');
  t.deepEqual(item!.template, {
    api_version: 'v1',
    kind: 'taskTemplate',
    metadata: { name: 'template1234', tag: 'example-tag' },
    spec: {
      session_type: 'interactive',
      kernel: {
        image: 'python:3.6-ubuntu18.04',
        architecture: null,
        environ: { MYCONFIG: 'XXX' },
        run: null,
      },
      scaling_group: null,
      mounts: { 'hostpath-test': '/home/work/hostDesktop', 'test-vfolder': null },
      resources: { cpu: '2', mem: '4g' },
    },
  });
});

test("the manager's wrapper, a list of entries, JSON and YAML documents all parse", (t) => {
  const wrapped = JSON.stringify({ session_templates: [{ template: minimal(), name: 'named' }] });
  t.deepEqual(
    parsePayload(wrapped).map((i) => i.name),
    ['named'],
  );
  t.deepEqual(
    parsePayload(JSON.stringify([{ template: minimal() }, { template: minimal(), name: 'b' }])).map(
      (i) => i.name,
    ),
    ['job', 'b'],
  );
  const two = `${DOC_SAMPLE}---\napiVersion: v1\nkind: task_template\nmetadata: {name: second}\nspec: {kernel: {image: alpine}}\n`;
  t.deepEqual(
    parsePayload(two).map((i) => i.name),
    ['template1234', 'second'],
  );
  const startup = checkTaskTemplate(minimal({ kernel: { image: 'x', run: { startupCommand: 'ls' } } }));
  t.is(startup.spec.kernel.run?.startup_command, 'ls');
  t.is(checkTaskTemplate(minimal()).spec.session_type, 'batch');
});

test('every refusal is a 400 naming the field', (t) => {
  const cases: [unknown, string][] = [
    [{ ...minimal(), kind: 'clusterTemplate' }, 'template.kind'],
    [{ ...minimal(), api_version: undefined }, 'template.api_version'],
    [{ ...minimal(), metadata: {} }, 'template.metadata.name'],
    [{ ...minimal(), extra: 1 }, 'template.extra'],
    [minimal({ session_type: 'inference' }), 'template.spec.session_type'],
    [minimal({ kernel: {} }), 'template.spec.kernel.image'],
    [minimal({ kernel: { image: 'x', git: { repository: 'https://x' } } }), 'template.spec.kernel.git'],
    [minimal({ kernel: { image: 'x', environ: { 'A-B': 'x' } } }), 'template.spec.kernel.environ.A-B'],
    [minimal({ kernel: { image: 'x', environ: { A: ['x'] } } }), 'template.spec.kernel.environ.A'],
    [minimal({ kernel: { image: 'x', cpu: 1 } }), 'template.spec.kernel.cpu'],
    [minimal({ kernel: { image: 'x', run: { shell: 'sh' } } }), 'template.spec.kernel.run.shell'],
    [minimal({ resources: { cpu: true } }), 'template.spec.resources.cpu'],
    [minimal({ mounts: ['data'] }), 'template.spec.mounts'],
    [minimal({ agent_list: ['i-1'] }), 'template.spec.agent_list'],
    [minimal({ type: 'batch' }), 'template.spec.session_type'],
  ];
  for (const [raw, field] of cases)
    t.is(
      refusedField(() => checkTaskTemplate(raw)),
      field,
      field,
    );
  t.is(
    refusedField(() => parsePayload('{"session_templates": [{"template": {}, "group_id": "x"}]}')),
    'payload.session_templates[0].group_id',
  );
  t.is(
    refusedField(() => parsePayload('a: [b')),
    'payload',
  );
  t.is(
    refusedField(() => parsePayload('  ')),
    'payload',
  );
  // Mount keys are folder names (Backend.AI refuses reserved paths too).
  t.throws(() => checkTaskTemplate(minimal({ mounts: { '../etc': null } })), { instanceOf: InvalidRequest });
  // Null and empty values of the optional fields are accepted.
  t.notThrows(() =>
    checkTaskTemplate(
      minimal({
        agent_list: [],
        scaling_group: null,
        mounts: null,
        resources: null,
        kernel: { image: 'x', git: null, run: null },
      }),
    ),
  );
});

test('a template becomes a create body POST /session accepts', (t) => {
  const [item] = parsePayload(DOC_SAMPLE);
  const body = templateToCreateBody(item!.template, { domain: 'default', group: 'research' });
  t.deepEqual(body, {
    image: 'python:3.6-ubuntu18.04',
    type: 'interactive',
    domain: 'default',
    group: 'research',
    tag: 'example-tag',
    config: {
      mounts: ['hostpath-test', 'test-vfolder'],
      mount_map: { 'hostpath-test': '/home/work/hostDesktop' },
      environ: { MYCONFIG: 'XXX' },
      resources: { cpu: '2', mem: '4g' },
    },
  });
  const req = parseCreateSessionBody(body, new Date());
  t.is(req.image, 'python:3.6-ubuntu18.04');
  t.is(req.group, 'research');
  t.deepEqual(req.environ, { MYCONFIG: 'XXX' });
  const batch = templateToCreateBody(checkTaskTemplate(minimal({ scaling_group: 'gpu' })), {
    domain: 'd',
    group: null,
  });
  t.like(batch, { type: 'batch', startup_command: 'echo hi', config: { scaling_group: 'gpu' } });
});

test('request fields replace the template: top-level by any spelling, config fields whole', (t) => {
  const [item] = parsePayload(DOC_SAMPLE);
  const base = templateToCreateBody(item!.template, { domain: 'default', group: 'research' });
  const merged = mergeCreateOverrides(base, {
    template_id: 'ignored',
    sessionType: 'batch',
    startupCommand: 'make',
    image: null, // null: the template's stays
    name: 'job-1',
    config: { environ: { A: '1' }, mounts: ['other'] },
  });
  t.false('template_id' in merged);
  t.false('type' in merged);
  t.is(merged.sessionType, 'batch');
  t.is(merged.image, 'python:3.6-ubuntu18.04');
  t.deepEqual(merged.config, { mounts: ['other'], environ: { A: '1' }, resources: { cpu: '2', mem: '4g' } });
  const req = parseCreateSessionBody(merged, new Date());
  t.is(req.type, 'batch');
  t.deepEqual(req.mounts, ['other']);

  // --no-mount, --no-env, --no-resource: explicit empty values drop the template's.
  const dropped = mergeCreateOverrides(base, {
    config: { mounts: [], mount_map: {}, environ: {}, resources: {}, resource_opts: {} },
  });
  const r2 = parseCreateSessionBody(dropped, new Date());
  t.deepEqual(r2.mounts, []);
  t.deepEqual(r2.environ, {});
  t.deepEqual(r2.resources, {});
  const nulls = parseCreateSessionBody(
    mergeCreateOverrides(base, { config: { environ: null, mounts: null } }),
    new Date(),
  );
  t.deepEqual(nulls.environ, {});
  t.deepEqual(nulls.mounts, []);
  // Untouched config fields stay; a top-level scaling group beats the template's config one.
  const sg = mergeCreateOverrides(
    templateToCreateBody(checkTaskTemplate(minimal({ scaling_group: 'gpu' })), { domain: 'd', group: null }),
    { scalingGroup: 'cpu' },
  );
  t.deepEqual(sg.config, { scaling_group: 'cpu' });
  t.is(parseCreateSessionBody(sg, new Date()).scalingGroup, 'cpu');
});
