// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.bai/', 'bin/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // SQL is written in src/persistence only: a store method, never a query built elsewhere
    // (test/unit/structure.test.ts also catches a db(...) call reached without importing knex).
    files: ['src/**/*.ts'],
    ignores: ['src/persistence/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'knex', message: 'Query builders live in src/persistence: add a store method there.' },
          ],
        },
      ],
    },
  },
  {
    // Pure domain code decides (it also may not import knex: this block replaces the one above); it never does I/O. Keep the direction of imports one way.
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'bullmq',
                'ioredis',
                'koa',
                '@koa/*',
                'knex',
                'pg',
                'dockerode',
                'clipanion',
                'node:fs*',
                'node:net',
                'node:http',
                'node:child_process',
                '../*/**',
                '!./*',
              ],
              message: 'src/domain is pure: no I/O libraries and no imports from outer layers.',
            },
          ],
        },
      ],
    },
  },
);
