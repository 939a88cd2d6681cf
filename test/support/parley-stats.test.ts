import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../platforms/discord/harness.js';

/**
 * `/parley stats` on Discord (admins only, ephemeral), and a handoff whose destination comes
 * from the profile's `handoff` block in the config file.
 */
let h: Harness | undefined;
let dir: string | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const ESCALATION_CHANNEL = '777777777777777777';
const TEAM_ROLE = '888888888888888888';
const EPHEMERAL = 1 << 6;

async function start(o: { grounded?: boolean } = {}): Promise<Harness> {
  dir = mkdtempSync(join(tmpdir(), 'parley-stats-'));
  mkdirSync(join(dir, 'kb'));
  writeFileSync(join(dir, 'kb', 'billing.md'), '# Invoices\n\nInvoices are sent on the first day of each month to the billing email address.\n');
  const env: Record<string, string> = {};
  return startHarness({
    env,
    beforeStart: (d) => {
      d.channels.set(ESCALATION_CHANNEL, { id: ESCALATION_CHANNEL, type: 0, name: 'escalations', guild_id: d.guildId });
      const file = join(dir!, 'parley.config.yaml');
      writeFileSync(
        file,
        [
          'guardrails:',
          '  access:',
          `    admins: ["${d.defaultUser.id}"]`,
          'knowledge:',
          '  sources:',
          '    kb: { path: kb }',
          'profiles:',
          '  default:',
          `    answerMode: ${o.grounded ? 'grounded' : 'general'}`,
          '    handoff:',
          `      destination: "discord:${ESCALATION_CHANNEL}"`,
          `      ping: "${TEAM_ROLE}"`,
          '',
        ].join('\n'),
      );
      env.PARLEY_CONFIG = file;
    },
  });
}

describe('/parley stats on Discord', () => {
  it('answers an admin privately with the figures, and refuses everyone else', { timeout: 60_000 }, async () => {
    h = await start();
    const d = h.discord;
    d.userSays({ content: 'how do I rotate my API key?', mentionBot: true });
    await d.waitFor(() => d.botMessages().find((m) => (m.components?.length ?? 0) > 0), 20_000, 'answer with buttons');
    await h.parley.support.desk.idle();

    const mine = d.runCommand({ name: 'parley', options: { command: 'stats 7d' } });
    const reply = await d.waitFor(
      () => {
        const m = mine.original_message_id ? d.messages.get(mine.original_message_id) : undefined;
        return m?.content.startsWith('Support stats') ? m : undefined;
      },
      20_000,
      'stats reply',
    );
    expect(mine.callback?.flags).toBe(EPHEMERAL); // deferred as ephemeral: only the admin sees it
    expect(reply.content).toContain('Questions: 1 (model 1)');
    expect(reply.content).toContain('Handed to a human: 0');
    // Latency and tokens of the real turn were recorded (the fake model reports usage).
    expect(reply.content).toMatch(/First visible text: p50 [\d.]+ m?s, p95 [\d.]+ m?s/);
    expect(reply.content).toMatch(/Tokens: [1-9][\d,]* · estimated cost \$0\.0000/);
    expect(reply.components ?? []).toEqual([]); // command replies get no feedback buttons

    const bob = { ...d.defaultUser, id: '999999999999999999', username: 'bob', global_name: 'bob' };
    d.users.set(bob.id, bob);
    const theirs = d.runCommand({ name: 'parley', options: { command: 'stats' }, author: bob });
    const refused = await d.waitFor(
      () => {
        const m = theirs.original_message_id ? d.messages.get(theirs.original_message_id) : undefined;
        return m?.content ? m : undefined;
      },
      20_000,
      'refusal',
    );
    expect(refused.content).toBe('Only Parley administrators can see support stats.');
    expect(h.openai.chatRequests).toHaveLength(1);
  });

  it('hands off to the destination of the profile in the config file, pinging its role', { timeout: 60_000 }, async () => {
    h = await start();
    const d = h.discord;
    const q = d.userSays({ content: 'I need a refund', mentionBot: true });
    const answer = await d.waitFor(() => d.botMessages().find((m) => (m.components?.length ?? 0) > 0), 20_000, 'answer with buttons');
    d.clickButton({ message: answer, customId: `parley:fb:handoff:${q.id}` });
    const posted = await d.waitFor(() => d.botMessages(ESCALATION_CHANNEL)[0], 20_000, 'handoff message');
    expect(posted.pinged_roles).toEqual([TEAM_ROLE]);
    expect(posted.content).toContain('Handoff requested (profile default)');
  });

  it('in a grounded profile, a question the knowledge base has nothing for gets the offer of a human, not a guess', { timeout: 60_000 }, async () => {
    h = await start({ grounded: true });
    const d = h.discord;
    const q = d.userSays({ content: 'how do I configure kubernetes ingress?', mentionBot: true });
    const reply = await d.waitFor(() => d.botMessages().find((m) => (m.components?.length ?? 0) > 0), 20_000, 'reply with a button');
    expect(reply.content).toContain('Talk to a human');
    expect(reply.components![0].components.map((c: any) => c.custom_id)).toEqual([`parley:fb:handoff:${q.id}`]);
    expect(h.openai.chatRequests).toHaveLength(0);
    d.clickButton({ message: reply, customId: `parley:fb:handoff:${q.id}` });
    const posted = await d.waitFor(() => d.botMessages(ESCALATION_CHANNEL)[0], 20_000, 'handoff message');
    expect(posted.content).toContain('kubernetes ingress');
  });
});
