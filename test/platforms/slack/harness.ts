import { startParley, type Parley } from '../../../src/app.js';
import { loadConfig } from '../../../src/config/env.js';
import type { Logger } from '../../../src/kernel/logger.js';
import { FakeOpenAI } from '../../fakes/openai-server.js';
import { FakeSlack } from '../../fakes/slack/fake-slack.js';

/** Parley started like an operator starts it, against a fake Slack and a fake model. */
export interface SlackWorld {
  slack: FakeSlack;
  openai: FakeOpenAI;
  parley: Parley;
  /** Where the fake Slack delivers events in HTTP mode. */
  eventsUrl: string;
  stop(): Promise<void>;
}

export async function startSlackWorld(
  o: { socketMode?: boolean; env?: Record<string, string> /** Another Parley instance on the same fakes. */; sharing?: SlackWorld; log?: Logger } = {},
): Promise<SlackWorld> {
  const slack = o.sharing?.slack ?? (await FakeSlack.start());
  const openai = o.sharing?.openai ?? (await FakeOpenAI.start());
  slack.ws.users.set('U0ADA00001', { id: 'U0ADA00001', name: 'ada', real_name: 'Ada Lovelace', display_name: 'Ada' });
  slack.ws.users.set('U0BOB00002', { id: 'U0BOB00002', name: 'bob', real_name: 'Bob Babbage' });
  slack.ws.channels.set('C0GENERAL1', { id: 'C0GENERAL1', name: 'general' });
  slack.ws.channels.set('C0SUPPORT2', { id: 'C0SUPPORT2', name: 'support' });
  const config = loadConfig({
    OPENAI_BASE_URL: openai.url,
    OPENAI_API_KEY: 'k',
    OPENAI_MODEL: 'fake-model',
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_SIGNING_SECRET: slack.signingSecret,
    ...(o.socketMode ? { SLACK_APP_TOKEN: slack.appToken } : {}),
    SLACK_API_URL: slack.apiUrl,
    STORE_URL: 'memory://',
    PORT: '0',
    LOG_LEVEL: 'silent',
    ...o.env,
  });
  const parley = await startParley(config, o.log ? { log: o.log } : {});
  return {
    slack,
    openai,
    parley,
    eventsUrl: `http://127.0.0.1:${parley.port}/slack/events`,
    async stop() {
      await parley.stop();
      if (o.sharing) return;
      await slack.close();
      await openai.close();
    },
  };
}

/** Polls `check` until it returns a value (not undefined/false), or fails after `timeoutMs`. */
export async function eventually<T>(check: () => T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until the model has been asked `n` times and the bot's answers in the thread have settled. */
export async function answersIn(w: SlackWorld, channel: string, threadTs: string, expectedText: string, timeoutMs = 15_000) {
  return eventually(
    () => {
      const mine = w.slack.ws.botMessages(channel, threadTs);
      const m = mine.find((x) => x.text === expectedText && !x.streaming);
      return m ? mine : undefined;
    },
    timeoutMs,
    `the answer "${expectedText.slice(0, 40)}" in ${channel}/${threadTs}`,
  );
}

/** Resolves after `ms`: lets a wrongly repeated answer show up before asserting it did not. */
export function quiet(ms = 300): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
