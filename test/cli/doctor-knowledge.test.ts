import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { diagnoseKnowledge } from '../../src/cli/doctor.js';
import { loadConfig } from '../../src/config/env.js';
import { silentLogger } from '../../src/kernel/logger.js';
import { copyOfExample } from '../knowledge/helpers.js';

/** `parley doctor`'s knowledge checks: what would be indexed, and a broken FAQ file named before `start` trips on it. */
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const log = silentLogger();

describe('parley doctor: knowledge', () => {
  it('reports what each folder indexes', async () => {
    const dir = copyOfExample();
    dirs.push(dir);
    const [check, ...rest] = await diagnoseKnowledge(loadConfig({ KNOWLEDGE_DIR: dir }), log);
    expect(check).toMatchObject({ check: 'knowledge default', ok: true });
    expect(check!.detail).toMatch(/^\d+ files, \d+ passages, \d+ FAQ entries in /);
    expect(Number(/(\d+) FAQ entries/.exec(check!.detail!)![1])).toBeGreaterThan(5);
    // Running as the folder's owner: corrections can be saved, so no warning.
    expect(rest).toEqual([]);
  });

  it('fails on a broken FAQ file, naming the file and line', async () => {
    const dir = copyOfExample();
    dirs.push(dir);
    writeFileSync(join(dir, 'broken.yaml'), '- questions: [How do I start?]\n  answer: [unclosed\n');
    const [check] = await diagnoseKnowledge(loadConfig({ KNOWLEDGE_DIR: dir }), log);
    expect(check).toMatchObject({ check: 'knowledge default', ok: false, fix: expect.stringContaining('FAQ') });
    expect(check!.detail).toMatch(/broken\.yaml.*line \d+/);
  });

  it('warns, without failing, when there is no knowledge folder', async () => {
    expect(await diagnoseKnowledge(loadConfig({}), log)).toEqual([
      expect.objectContaining({ check: 'knowledge', ok: true, warning: true, fix: expect.stringContaining('KNOWLEDGE_DIR') }),
    ]);
  });
});
