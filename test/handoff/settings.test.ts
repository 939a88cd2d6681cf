import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/file.js';
import { resolveSettings } from '../../src/config/settings.js';
import { loadConfig } from '../../src/config/env.js';
import { handoffFromEnv } from '../../src/config/handoff.js';

/** The `handoff` block of a profile in parley.config.yaml, and the HANDOFF_* environment defaults. */
const FILE = `
profiles:
  billing:
    handoff:
      destination: "slack:C0ESCALATE"
      ping: "S0SUPPORT"
      webhook:
        url: https://tickets.example.com/hook
        secretEnv: BILLING_HOOK_SECRET
  docs:
    answerMode: grounded
`;

describe('handoff settings', () => {
  it('resolves a profile handoff block, reading the webhook secret from the named variable', () => {
    const file = loadConfigFile('parley.config.yaml', { BILLING_HOOK_SECRET: 'the-secret-value-123' }, FILE);
    const settings = resolveSettings(loadConfig({}), file, '/tmp');
    expect(settings.profiles.get('billing')!.handoff).toEqual({
      destination: { platform: 'slack', channel: 'C0ESCALATE' },
      ping: 'S0SUPPORT',
      webhook: { url: 'https://tickets.example.com/hook', secret: 'the-secret-value-123' },
      lowConfidenceOffer: true,
    });
    expect(settings.profiles.get('docs')!.handoff).toBeUndefined();
    expect(file.warnings).toEqual([]);
    const unset = loadConfigFile('parley.config.yaml', {}, FILE);
    expect(unset.warnings).toEqual(['handoff webhook secret BILLING_HOOK_SECRET is not set; webhooks are sent unsigned']);
  });

  it('names the key and line of a bad destination', () => {
    expect(() => loadConfigFile('parley.config.yaml', {}, 'profiles:\n  a:\n    handoff:\n      destination: "#support"\n')).toThrow(
      /profiles\.a\.handoff\.destination: expected platform:channel.*line 4/,
    );
  });

  it('takes defaults from HANDOFF_* variables', () => {
    const config = loadConfig({ HANDOFF_CHANNEL: 'discord:123456789012345678', HANDOFF_PING: '234567890123456789', RESOLUTION_QUIET_HOURS: '2' });
    expect(handoffFromEnv(config.support.handoff)).toEqual({
      destination: { platform: 'discord', channel: '123456789012345678' },
      ping: '234567890123456789',
      webhook: undefined,
      lowConfidenceOffer: true,
    });
    expect(config.support.quietPeriodMs).toBe(7_200_000);
    expect(loadConfig({}).support).toEqual({ handoff: undefined, quietPeriodMs: 86_400_000 });
    expect(() => loadConfig({ HANDOFF_CHANNEL: 'support' })).toThrow(/HANDOFF_CHANNEL: expected platform:channel/);
  });
});
