/**
 * Writes schema/parley.config.schema.json from the zod definitions in src/config/file.ts.
 * Run after changing the config schema:  npx tsx schema/generate.ts
 * (test/config/file.test.ts fails while the committed file is stale).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configJsonSchema } from '../src/config/file.js';

export const SCHEMA_PATH = join(import.meta.dirname, 'parley.config.schema.json');
export const schemaText = () => `${JSON.stringify(configJsonSchema(), null, 2)}\n`;

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  writeFileSync(SCHEMA_PATH, schemaText());
  process.stdout.write(`wrote ${SCHEMA_PATH}\n`);
}
