import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENV_VARIABLES } from '../../src/config/env.js';

describe('.env.example', () => {
  it('documents every variable Parley reads, and no other', () => {
    const text = readFileSync(join(import.meta.dirname, '../../.env.example'), 'utf8');
    const documented = new Set([...text.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!));
    expect([...ENV_VARIABLES].filter((v) => !documented.has(v))).toEqual([]);
    expect([...documented].filter((v) => !(ENV_VARIABLES as string[]).includes(v))).toEqual([]);
  });
});
