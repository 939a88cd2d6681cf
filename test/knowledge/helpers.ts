import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { silentLogger } from '../../src/kernel/logger.js';
import { KnowledgeBase, type KnowledgeSource } from '../../src/knowledge/base.js';
import type { CachedEmbedder } from '../../src/knowledge/embeddings.js';

export const EXAMPLE_DIR = resolve(import.meta.dirname, '../../examples/knowledge');

export function exampleSource(dir = EXAMPLE_DIR): KnowledgeSource {
  return { name: 'tallyho', dir, displayPath: 'examples/knowledge' };
}

/** A private copy of the example knowledge, for tests that edit files. */
export function copyOfExample(): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-kb-'));
  cpSync(EXAMPLE_DIR, dir, { recursive: true });
  return dir;
}

export async function exampleKnowledge(o: { dir?: string; embedder?: CachedEmbedder } = {}): Promise<KnowledgeBase> {
  const kb = new KnowledgeBase([exampleSource(o.dir)], { log: silentLogger(), embedder: o.embedder });
  await kb.load();
  return kb;
}
