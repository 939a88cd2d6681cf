import { startParley, type Parley } from '../../../src/app.js';
import { loadConfig } from '../../../src/config/env.js';
import { silentLogger, type Logger } from '../../../src/kernel/logger.js';
import { FakeOpenAI } from '../../fakes/openai-server.js';
import { FakeDiscord } from '../../fakes/discord/index.js';

/** Parley started like an operator would, against a fake Discord and a fake model. */
export interface Harness {
  discord: FakeDiscord;
  openai: FakeOpenAI;
  parley: Parley;
  close(): Promise<void>;
}

export async function startHarness(o: { env?: Record<string, string>; log?: Logger; beforeStart?: (d: FakeDiscord) => void } = {}): Promise<Harness> {
  const openai = await FakeOpenAI.start();
  const discord = await FakeDiscord.start();
  o.beforeStart?.(discord);
  const config = loadConfig({
    ...openai.env(),
    ...discord.env(),
    STORE_URL: 'memory://',
    PORT: '0',
    LOG_LEVEL: 'silent',
    ...o.env,
  });
  const parley = await startParley(config, { log: o.log ?? silentLogger() });
  return {
    discord,
    openai,
    parley,
    async close() {
      await parley.stop();
      await discord.close();
      await openai.close();
    },
  };
}
