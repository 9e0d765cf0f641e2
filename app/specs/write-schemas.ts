/**
 * Writes the published JSON Schemas (app/specs/schemas.ts SCHEMAS) to `docs/schemas/<stem>.schema.json`
 * under the folder given as the first argument (default: the current folder, the repository root
 * under `npm run schemas`). test/schemas.test.ts checks the checked-in files equal what this writes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SCHEMAS, jsonSchemaText } from './schemas.ts';

const root = process.argv[2] ?? '.';
const dir = path.join(root, 'docs', 'schemas');
fs.mkdirSync(dir, { recursive: true });
for (const stem of Object.keys(SCHEMAS)) {
  const file = path.join(dir, `${stem}.schema.json`);
  fs.writeFileSync(file, jsonSchemaText(stem));
  process.stdout.write(`wrote ${file}\n`);
}
