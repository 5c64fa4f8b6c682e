/** Writes docs/openapi.json from src/api/openapi.ts (the test fails when the two differ). */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openApiDocument } from '../src/api/openapi.js';
import { BAI_VERSION } from '../src/api/routes/root.js';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
writeFileSync(
  resolve(root, 'docs/openapi.json'),
  `${JSON.stringify(openApiDocument(BAI_VERSION), null, 2)}\n`,
);
