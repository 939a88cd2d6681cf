import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './harness.js';
import { MESSAGE_MAX_CHARS } from '../../fakes/discord/model.js';

/** Discord's 2,000-character limit, rate limits and mention safety. */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const SAFE_MENTIONS = { parse: [], replied_user: false };

/** A ~5,000-character answer whose TypeScript code block crosses the 2,000-character split. */
function longAnswer(): string {
  const intro = Array.from({ length: 12 }, (_, i) => `Paragraph ${i}: some explanation of the approach, long enough to fill space.`).join('\n\n');
  const code = Array.from({ length: 70 }, (_, i) => `const value${i} = compute(${i}); // line ${i} of the example`).join('\n');
  const outro = Array.from({ length: 10 }, (_, i) => `Closing note ${i}: the code above shows every step.`).join('\n\n');
  return `${intro}\n\n\`\`\`ts\n${code}\n\`\`\`\n\n${outro}`;
}

/** Removes what the split adds (fence lines, whitespace at cuts), to compare the text itself. */
const essence = (s: string) => s.replace(/^```(ts)?$/gm, '').replace(/\s+/g, '');

describe('Discord limits', () => {
  it('splits a 5,000-character answer into messages under 2,000, closing and reopening the code fence', async () => {
    h = await startHarness();
    const answer = longAnswer();
    expect(answer.length).toBeGreaterThan(4800);
    h.openai.script({ text: answer });
    h.discord.userSays({ content: 'show me the long example', mentionBot: true });

    const done = () => {
      const msgs = h!.discord.botMessages();
      return msgs.length >= 3 && essence(msgs.map((m) => m.content).join('\n')) === essence(answer) ? msgs : undefined;
    };
    const msgs = await h.discord.waitFor(done, 20_000, 'the whole answer');
    for (const m of msgs) {
      expect(m.content.length).toBeLessThanOrEqual(MESSAGE_MAX_CHARS);
      // Every message renders on its own: fences are balanced in each.
      expect((m.content.match(/^```/gm) ?? []).length % 2).toBe(0);
    }
    const crossing = msgs.findIndex((m, i) => i > 0 && m.content.startsWith('```ts\n'));
    expect(crossing).toBeGreaterThan(0);
    expect(msgs[crossing - 1]!.content.endsWith('\n```')).toBe(true);
    // No request was refused for length (the fake answers 50035 past 2,000 characters).
    expect(h.discord.requests.filter((r) => r.status === 400)).toHaveLength(0);
  });

  it('never lets model output ping anyone: allowed_mentions on every send, mention syntax made inert', async () => {
    h = await startHarness();
    const d = h.discord;
    const answer = `Hey @everyone and @here! Pinging <@${d.defaultUser.id}>, <@!${d.defaultUser.id}> and role <@&${d.guildId}>.`;
    h.openai.script({ text: answer, chunkDelayMs: 20 });
    d.userSays({ content: 'mass mention please', mentionBot: true });
    // Ends with the final '.'; the text is neutralised (here, and also by the engine's output guardrails).
    const reply = await d.waitFor(() => d.botMessages().find((m) => m.content.startsWith('Hey') && m.content.endsWith('.')), 10_000, 'answer');

    expect(reply.content).not.toMatch(/@everyone|@here|<@/);
    expect(reply.content).toContain('everyone');
    expect(reply.mentions).toHaveLength(0);
    const sends = d.requests.filter((r) => (r.method === 'POST' || r.method === 'PATCH') && /\/messages(\/\d+)?$/.test(r.path));
    expect(sends.length).toBeGreaterThan(0);
    for (const r of sends) expect(r.body.allowed_mentions).toEqual(SAFE_MENTIONS);
  });

  it('rides out 429s with retry_after and still ends on the exact final text', async () => {
    h = await startHarness();
    const d = h.discord;
    const answer = 'Rate limits slow this answer down, but every word still arrives in the right order, ending exactly here.';
    h.openai.script({ text: answer, chunkDelayMs: 30 });
    d.rateLimitChannel(d.channelId, 4, 300);
    d.userSays({ content: 'are you rate limited?', mentionBot: true });

    await d.waitFor(() => d.botMessages().find((m) => m.content === answer), 20_000, 'exact final text');
    const limited = d.requests.filter((r) => r.status === 429);
    expect(limited).toHaveLength(4);
    expect(d.botMessages()).toHaveLength(1);
  });
});
