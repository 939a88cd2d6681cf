import { describe, expect, it } from 'vitest';
import { defaultGuardrailSettings, guardrailSettingsSchema, mergeGuardrailSettings } from '../../src/config/guardrails.js';

describe('guardrail settings', () => {
  it('parse {} to safe defaults', () => {
    const s = defaultGuardrailSettings();
    expect(s.input.maxQuestionChars).toBe(4_000);
    expect(s.redaction.mode).toBe('redact');
    expect(s.rateLimits.perUser).toEqual({ limit: 20, windowSeconds: 60 });
    expect(s.rateLimits.perChannel).toBeNull();
    expect(s.access.directMessages).toBe(true);
    expect(s.budgets.dailyTokens).toEqual({});
    expect(s.budgets.monthlyCost).toBeUndefined();
    expect(s.budgets.alertAt).toEqual([0.8, 1]);
  });

  it('fill defaults inside a section the config only partly writes', () => {
    const s = guardrailSettingsSchema.parse({ input: { maxQuestionChars: 500 }, rateLimits: { perChannel: { limit: 5 } } });
    expect(s.input).toMatchObject({ maxQuestionChars: 500, maxAttachmentBytes: 200_000 });
    expect(s.rateLimits.perChannel).toEqual({ limit: 5, windowSeconds: 60 });
    expect(s.rateLimits.perUser).toEqual({ limit: 20, windowSeconds: 60 });
  });

  it('reject a custom pattern whose regex does not compile, naming the path', () => {
    const r = guardrailSettingsSchema.safeParse({ redaction: { patterns: [{ name: 'bad', regex: '(' }] } });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]).toMatchObject({ path: ['redaction', 'patterns', 0, 'regex'], message: 'not a valid regular expression' });
    expect(guardrailSettingsSchema.safeParse({ redaction: { patterns: [{ name: 'empty' }] } }).success).toBe(false);
    expect(guardrailSettingsSchema.safeParse({ redaction: { mode: 'hide' } }).success).toBe(false);
  });

  it('layer a profile over the top level section by section', () => {
    const s = mergeGuardrailSettings(
      { access: { admins: ['U-admin'], directMessages: false }, output: { blockedTerms: ['x'] } },
      { access: { directMessages: true }, input: { maxQuestionChars: 100 } },
    );
    expect(s.access.admins).toEqual(['U-admin']);
    expect(s.access.directMessages).toBe(true);
    expect(s.output.blockedTerms).toEqual(['x']);
    expect(s.input.maxQuestionChars).toBe(100);
  });
});
