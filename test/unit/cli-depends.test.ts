import test from 'ava';
import { InvalidArgument } from '../../src/cli/base-command.js';
import { buildCli } from '../../src/cli/main.js';
import { dependsArgs } from '../../src/cli/depends-arg.js';
import { parseCreateSessionBody } from '../../src/domain/session-request.js';

const cli = await buildCli();

/** The create body a command line builds (what `session create` and `run` send). */
function bodyOf(argv: string[]): Record<string, unknown> {
  const cmd = cli.process(argv) as unknown as {
    createBody(image: string, command: string, type: 'batch'): Record<string, unknown>;
  };
  return cmd.createBody('python', 'true', 'batch');
}

test('--depends afterany:x and --start-deadline 10m reach the create body and the parser', (t) => {
  for (const cmd of [['session', 'create'], ['run']]) {
    const body = bodyOf([
      ...cmd,
      '--depends',
      'afterany:x',
      '--depends',
      'build-1',
      '--depends',
      'afternotok:test-1',
      '--start-deadline',
      '10m',
      ...(cmd[0] === 'run' ? ['-c', 'print(1)'] : []),
      'python',
    ]);
    t.deepEqual(body.dependencies, [
      { session: 'x', condition: 'afterany' },
      'build-1',
      { session: 'test-1', condition: 'afternotok' },
    ]);
    t.is(body.start_deadline, '10m');
    const req = parseCreateSessionBody(body, new Date());
    t.deepEqual(req.dependencies, [
      { ref: 'x', condition: 'afterany' },
      { ref: 'build-1', condition: 'afterok' },
      { ref: 'test-1', condition: 'afternotok' },
    ]);
    t.is(req.startDeadlineSeconds, 600);
  }
});

test('--depends with an unknown condition is an invalid argument naming it', (t) => {
  t.throws(() => dependsArgs(['afterall:x']), {
    instanceOf: InvalidArgument,
    message: /--depends afterall:x: unknown condition "afterall"; use afterok, afterany, afternotok/,
  });
  t.is(dependsArgs(undefined), undefined);
});
