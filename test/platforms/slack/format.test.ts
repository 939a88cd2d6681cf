import { describe, expect, it } from 'vitest';
import { neutraliseMarkdown, slackToReadable, toMrkdwn, type NameLookups } from '../../../src/platforms/slack/format.js';
import { parseAskText, skipReason, triggerOf, type SlackMessageEvent } from '../../../src/platforms/slack/parse.js';

const ZWSP = '\u200B';

describe('Markdown → mrkdwn', () => {
  it('converts bold, italics, strikethrough and keeps inline code untouched', () => {
    expect(toMrkdwn('**bold** and *italic* and _it_ and ~~gone~~ and `co*de*` and __b2__')).toBe(
      '*bold* and _italic_ and _it_ and ~gone~ and `co*de*` and *b2*',
    );
  });

  it('leaves asterisks and underscores inside words alone', () => {
    expect(toMrkdwn('snake_case_word and 2*3*4')).toBe('snake_case_word and 2*3*4');
  });

  it('renders headings bold and lists with bullets, keeping nesting and numbers', () => {
    expect(toMrkdwn('# Title\n## Sub **x**\n\n- one\n  - nested\n* two\n1. first\n2) second\n- [x] done\n- [ ] todo')).toBe(
      '*Title*\n*Sub x*\n\n• one\n  • nested\n• two\n1. first\n2. second\n☑ done\n☐ todo',
    );
  });

  it('turns links into Slack links, escaping & and keeping underscores in URLs', () => {
    expect(toMrkdwn('See [the docs](https://example.com/a_b?x=1&y=2) and <https://x.y>')).toBe(
      'See <https://example.com/a_b?x=1&amp;y=2|the docs> and <https://x.y>',
    );
  });

  it('keeps code blocks verbatim (escaped, no emphasis, language tag dropped)', () => {
    expect(toMrkdwn('```ts\nconst a = b < c && d; // **no**\n```\nafter')).toBe('```\nconst a = b &lt; c &amp;&amp; d; // **no**\n```\nafter');
  });

  it('degrades tables to an aligned monospace block', () => {
    expect(toMrkdwn('| Name | Qty |\n|---|:--:|\n| apple | 3 |\n| kiwi | 10 |\n\ntext')).toBe('```\nName  | Qty\napple | 3\nkiwi  | 10\n```\n\ntext');
  });

  it('keeps quotes, draws rules, escapes Slack control characters', () => {
    expect(toMrkdwn('> quoted *x*\n---\nA & B < C')).toBe('> quoted _x_\n───────────\nA &amp; B &lt; C');
  });

  it('makes every mention the model writes inert', () => {
    const out = toMrkdwn('Hi <@U123> <!channel> <!here> @everyone @here <!subteam^S1|@devs> email@here.com');
    expect(out).not.toMatch(/<[@!#]/); // no Slack mention token survives
    expect(out).not.toMatch(/(^|\s)@(here|channel|everyone)\b/);
    expect(out).toContain(`@${ZWSP}everyone`);
    expect(out).toContain('email@here.com');
  });
});

describe('neutraliseMarkdown (native streams)', () => {
  it('breaks mention tokens and broadcast words but keeps Markdown', () => {
    expect(neutraliseMarkdown('**Hi** <!channel> <@U1> @here a@b.c `x`')).toBe(`**Hi** <${ZWSP}!channel> <${ZWSP}@U1> @${ZWSP}here a@b.c \`x\``);
  });

  it('is prefix-stable, so a stream can send only the difference', () => {
    const text = 'Tell <!channel> and @here, then @everyone <@U1> ok';
    const whole = neutraliseMarkdown(text);
    for (let i = 0; i <= text.length; i++) expect(whole.startsWith(neutraliseMarkdown(text.slice(0, i)))).toBe(true);
  });
});

describe('Slack markup in questions → readable text', () => {
  const calls: string[] = [];
  const lookups: NameLookups = {
    user: async (id) => (calls.push(id), id === 'U1' ? 'Ada' : undefined),
    channel: async (id) => (id === 'C9' ? 'support' : undefined),
  };

  it('resolves users and channels, strips the bot mention and decodes entities', async () => {
    const text = await slackToReadable('<@UBOT> ask <@U1> in <#C9> or <#C8|random> &lt;now&gt; &amp; <!here> <!subteam^S1|@devs>', lookups, 'UBOT');
    expect(text).toBe('ask @Ada in #support or #random <now> & @here @devs');
  });

  it('keeps ids it cannot resolve and shows links with their labels', async () => {
    expect(await slackToReadable('<@U404> see <https://a.example/x|the page> and <https://b.example> <mailto:a@b.c|a@b.c>', lookups)).toBe(
      '@U404 see the page (https://a.example/x) and https://b.example a@b.c',
    );
  });
});

describe('which events are questions', () => {
  const bot = { userId: 'UBOT', botId: 'BBOT' };
  const base: SlackMessageEvent = { type: 'message', channel: 'C1', channel_type: 'channel', user: 'U1', text: 'hi', ts: '2.0', thread_ts: '1.0' };

  it('ignores the bot itself, edits, deletions and other bots unless allowed', () => {
    expect(skipReason({ ...base, user: 'UBOT' }, bot, { allowBots: true })).toBe('own_message');
    expect(skipReason({ ...base, bot_id: 'BBOT', subtype: 'bot_message' }, bot, { allowBots: true })).toBe('own_message');
    expect(skipReason({ ...base, subtype: 'message_changed' }, bot, { allowBots: false })).toBe('subtype_message_changed');
    expect(skipReason({ ...base, subtype: 'message_deleted' }, bot, { allowBots: false })).toBe('subtype_message_deleted');
    expect(skipReason({ ...base, bot_id: 'B2', subtype: 'bot_message' }, bot, { allowBots: false })).toBe('other_bot');
    expect(skipReason({ ...base, bot_id: 'B2', subtype: 'bot_message' }, bot, { allowBots: true })).toBeUndefined();
    expect(skipReason({ ...base, subtype: 'file_share' }, bot, { allowBots: false })).toBeUndefined();
  });

  it('classifies mentions, DMs and follow-ups in active threads only', () => {
    expect(triggerOf({ ...base, type: 'app_mention' }, bot, false)).toBe('mention');
    expect(triggerOf({ ...base, channel: 'D1', channel_type: 'im' }, bot, false)).toBe('direct_message');
    expect(triggerOf(base, bot, true)).toBe('thread_follow_up');
    expect(triggerOf(base, bot, false)).toBeUndefined();
    // A mention inside an active thread is answered through its app_mention event, not twice.
    expect(triggerOf({ ...base, text: 'hey <@UBOT>' }, bot, true)).toBeUndefined();
    expect(triggerOf({ ...base, thread_ts: undefined }, bot, true)).toBeUndefined();
  });

  it('reads `private` / `-p` in /ask as a request for a private answer', () => {
    expect(parseAskText('private how much?', false)).toEqual({ question: 'how much?', private: true });
    expect(parseAskText('-p how much?', false)).toEqual({ question: 'how much?', private: true });
    expect(parseAskText('privateer ships?', false)).toEqual({ question: 'privateer ships?', private: false });
    expect(parseAskText('how much?', true)).toEqual({ question: 'how much?', private: true });
  });
});
