import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('Discord: an answer cut at the length limit', () => {
  it('ends with a note that it was cut and how to get the rest (finish_reason "length")', async () => {
    h = await startHarness();
    h.openai.script({ text: 'The first steps are to open the settings and', finishReason: 'length' });
    h.discord.userSays({ content: 'explain the whole setup', mentionBot: true });
    const reply = await h.discord.waitFor(() => h!.discord.botMessages().find((m) => m.content.includes('length limit')), 15_000, 'the cut answer');
    expect(reply.content.startsWith('The first steps are to open the settings and')).toBe(true);
    expect(reply.content).toMatch(/The answer was cut at the length limit\. Ask me to continue/);
  });
});
