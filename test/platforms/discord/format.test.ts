import { describe, expect, it } from 'vitest';
import { neutraliseMentions, stripBotMention, threadName, toDiscordContent } from '../../../src/platforms/discord/format.js';

describe('neutraliseMentions', () => {
  it('makes @everyone, @here, user, nickname and role mentions inert', () => {
    const text = 'Hi @everyone and @here, <@123456789012345678>, <@!123456789012345678>, <@&223456789012345678> and < @123456789012345678>';
    const out = neutraliseMentions(text);
    expect(out).not.toMatch(/@everyone|@here|<\s*@[!&]?\d/);
    expect(out).toContain('＠everyone');
    expect(out).toContain('<＠&223456789012345678>');
  });

  it('keeps the length, so the 2,000-character split stays exact', () => {
    const text = '@everyone <@1> @here <@&2> <@!3> '.repeat(50);
    expect(toDiscordContent(text)).toHaveLength(text.length);
  });

  it('leaves e-mail addresses, code and ordinary text alone', () => {
    const text = 'Write to help@example.com; `x = a @ b`; the everyone rule.';
    expect(toDiscordContent(text)).toBe(text);
  });
});

describe('stripBotMention', () => {
  it('removes both mention forms of the bot only', () => {
    expect(stripBotMention('<@42> what is <@!42> up, <@7>?', '42')).toBe('what is up, <@7>?');
  });
});

describe('threadName', () => {
  it('uses the first line, inert, at most 100 characters', () => {
    expect(threadName('\n@everyone look\nsecond')).toBe('＠everyone look');
    expect(threadName('x'.repeat(300))).toHaveLength(100);
    expect(threadName('   ')).toBe('Parley');
  });
});
