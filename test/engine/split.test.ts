import { describe, expect, it } from 'vitest';
import { splitMessage } from '../../src/engine/split.js';

/** Removes the fences added at splits, to compare the chunks' content with the original. */
function rejoin(chunks: string[]): string {
  return chunks.join('\n');
}

describe('splitMessage', () => {
  it('keeps a short text whole', () => {
    expect(splitMessage('hello', 100)).toEqual(['hello']);
  });

  it('splits on paragraph boundaries first', () => {
    const a = 'a'.repeat(60);
    const b = 'b'.repeat(60);
    const chunks = splitMessage(`${a}\n\n${b}`, 100);
    expect(chunks).toEqual([a, b]);
  });

  it('falls back to lines, then words, and every chunk fits', () => {
    const words = Array.from({ length: 400 }, (_, i) => `word${i}`).join(' ');
    const chunks = splitMessage(words, 100);
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(100);
    expect(chunks.join(' ')).toBe(words);
    // No word is cut in two.
    for (const c of chunks) expect(c).toMatch(/^word\d+( word\d+)*$/);
  });

  it('hard-cuts a text with no boundary without splitting a surrogate pair', () => {
    const text = '😀'.repeat(100);
    const chunks = splitMessage(text, 51);
    expect(chunks.join('')).toBe(text);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(51);
    for (const c of chunks) expect(() => encodeURIComponent(c)).not.toThrow();
  });

  it('closes a code fence at the split and reopens it with its language', () => {
    const code = Array.from({ length: 40 }, (_, i) => `const x${i} = ${i};`).join('\n');
    const text = `Here is the code:\n\n\`\`\`ts\n${code}\n\`\`\`\n\nDone.`;
    const chunks = splitMessage(text, 300);
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) {
      expect(c.length).toBeLessThanOrEqual(300);
      // Every chunk has balanced fences, so each renders on its own.
      expect((c.match(/^```/gm) ?? []).length % 2).toBe(0);
    }
    expect(chunks[1]!.startsWith('```ts\n')).toBe(true);
    expect(chunks[0]!.endsWith('\n```')).toBe(true);
    // Stripping the added fences gives back every line of the original.
    const lines = rejoin(chunks)
      .split('\n')
      .filter((l) => l !== '```ts' && l !== '```' && l !== '');
    expect(lines).toEqual(text.split('\n').filter((l) => l !== '```ts' && l !== '```' && l !== ''));
  });

  it('is stable: earlier chunks do not change as the text grows', () => {
    const base = Array.from({ length: 300 }, (_, i) => `line ${i} of the answer`).join('\n');
    const first = splitMessage(base, 500);
    const grown = splitMessage(`${base}\nmore text arrives`, 500);
    expect(grown.slice(0, first.length - 1)).toEqual(first.slice(0, -1));
  });
});
