import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/store.js';
import { HistoryStore } from '../../src/store/history.js';
import { silentLogger } from '../../src/kernel/logger.js';
import type { TurnContext } from '../../src/engine/pipeline.js';
import type { Profile } from '../../src/config/profile.js';
import type { FinalReply } from '../../src/kernel/adapter.js';
import { HandoffService } from '../../src/handoff/service.js';
import { LOW_CONFIDENCE_OFFER, isResume, offerHandoffWhenUnsure, quietAfterHandoff } from '../../src/handoff/middleware.js';
import type { HandoffSettings } from '../../src/config/handoff.js';
import { isThanks } from '../../src/support/index.js';
import { attachAnswerActions, DiscordFeedback } from '../../src/platforms/discord/feedback.js';

const DESTINATION: HandoffSettings = { destination: { platform: 'discord', channel: '1' }, lowConfidenceOffer: true };

async function rig(handoff?: HandoffSettings) {
  const store = await openStore('memory://');
  const service = new HandoffService({
    store,
    history: new HistoryStore(store, { maxTurns: 10 }),
    adapters: () => [],
    log: silentLogger(),
    profile: () => undefined,
    defaults: handoff,
  });
  const ctx = (o: { text?: string; answerMode?: Profile['answerMode']; trigger?: TurnContext['message']['trigger'] } = {}): TurnContext =>
    ({
      message: {
        platform: 'discord',
        workspace: 'G',
        channel: 'C',
        thread: 'T',
        id: 'M',
        user: { id: 'U' },
        text: o.text ?? 'question',
        attachments: [],
        trigger: o.trigger ?? 'mention',
        receivedAt: 0,
      },
      conversation: 'discord:G:C:T',
      log: silentLogger(),
      profile: { name: 'docs', answerMode: o.answerMode ?? 'grounded' },
      state: {},
      notices: [],
      remember: true,
    }) as unknown as TurnContext;
  return { store, service, ctx };
}

describe('handoff middleware', () => {
  it('grounded profiles offer a human instead of a bare "I don\'t know" when knowledge had nothing relevant', async () => {
    const { service, ctx } = await rig(DESTINATION);
    const offer = offerHandoffWhenUnsure(service);
    const unsure = ctx();
    await offer(unsure, async () => {
      unsure.state.knowledge = { relevant: 0 };
      unsure.answer = { text: "I don't know.", source: 'declined' };
    });
    expect(unsure.answer).toEqual({ text: `I don't know.\n\n${LOW_CONFIDENCE_OFFER}`, source: 'declined', offerHandoff: true });

    // A general profile, a real answer, or no destination: unchanged.
    const general = ctx({ answerMode: 'general' });
    await offer(general, async () => {
      general.state.knowledge = { relevant: 0 };
      general.answer = { text: 'x', source: 'declined' };
    });
    expect(general.answer?.offerHandoff).toBeUndefined();
    const { service: nowhere, ctx: ctx2 } = await rig(undefined);
    const c = ctx2();
    await offerHandoffWhenUnsure(nowhere)(c, async () => {
      c.state.knowledge = { relevant: 0 };
      c.answer = { text: 'x', source: 'declined' };
    });
    expect(c.answer?.offerHandoff).toBeUndefined();
  });

  it('is quiet in a handed-off thread (silent turn, model never reached) until someone says resume', async () => {
    const { service, ctx } = await rig(DESTINATION);
    const quiet = quietAfterHandoff(service);
    let reachedModel = 0;
    const next = async () => void reachedModel++;
    await quiet(ctx(), next);
    expect(reachedModel).toBe(1);

    await service['state'].set('discord:G:C:T', { at: 0, by: 'U', answerId: 'M' });
    const muted = ctx({ text: 'hello?' });
    await quiet(muted, next);
    expect(reachedModel).toBe(1);
    expect(muted.answer).toEqual({ text: '', source: 'silent', silent: true });
    expect(muted.remember).toBe(false);
    const slash = ctx({ trigger: 'slash_command' });
    await quiet(slash, next);
    expect(slash.answer?.text).toContain('Say `resume`');

    // The engine's gate skips such turns before a reply opens (no typing); resume and slash commands pass.
    expect(await service.isQuiet(muted.message, 'discord:G:C:T')).toBe(true);
    expect(await service.isQuiet(slash.message, 'discord:G:C:T')).toBe(false);
    expect(await service.isQuiet(ctx({ text: 'resume' }).message, 'discord:G:C:T')).toBe(false);
    expect(await service.isQuiet(muted.message, 'discord:G:C:OTHER')).toBe(false);

    const back = ctx({ text: 'Resume please!' });
    await quiet(back, next);
    expect(back.answer?.text).toBe("I'm back. Ask me anything.");
    expect(await service.stateOf('discord:G:C:T')).toBeUndefined();
    await quiet(ctx(), next);
    expect(reachedModel).toBe(2);
  });

  it('recognises resume and thanks, and nothing longer', () => {
    for (const t of ['resume', 'Resume.', '/resume', 'bot resume', 'resume please']) expect(isResume(t), t).toBe(true);
    for (const t of ['resume my subscription', 'how do I resume a download?']) expect(isResume(t), t).toBe(false);
    for (const t of ['thanks', 'Thank you!', 'thx', 'great, thanks!', 'ok thanks 🙏', 'cheers', 'thanks, that worked']) expect(isThanks(t), t).toBe(true);
    for (const t of ['thanks but it still fails', 'no thanks to you, how do I export?', 'thank you for the link. what about pdf?'])
      expect(isThanks(t), t).toBe(false);
  });
});

describe('Discord answer actions', () => {
  const feedback = { enabled: true, rememberAnswerMessages: async () => undefined } as unknown as DiscordFeedback;
  const run = async (final: FinalReply) => {
    const set: { id: string; components: any[] }[] = [];
    await attachAnswerActions(
      { answerId: 'Q', feedback, log: silentLogger() },
      final,
      [{ id: 'A1' }, { id: 'A2' }],
      async (ref, components) => void set.push({ id: ref.id, components }),
    );
    return set;
  };

  it('rates real answers, offers only a human on low confidence, and leaves other replies alone', async () => {
    const rated = await run({ text: 'x', source: 'model' });
    expect(rated).toHaveLength(1);
    expect(rated[0]!.id).toBe('A2'); // the last message of the answer
    expect(rated[0]!.components[0].components.map((c: any) => c.custom_id)).toEqual(['parley:fb:up:Q', 'parley:fb:down:Q', 'parley:fb:handoff:Q']);
    const offered = await run({ text: 'x', source: 'declined', offerHandoff: true });
    expect(offered[0]!.components[0].components.map((c: any) => c.custom_id)).toEqual(['parley:fb:handoff:Q']);
    expect(await run({ text: 'x', source: 'declined' })).toEqual([]);
    expect(await run({ text: 'x', source: 'command' })).toEqual([]);
  });
});
