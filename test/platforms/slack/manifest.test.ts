import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../../src/config/env.js';
import { ADMIN_COMMAND, EVENTS_PATH, HANDLED_EVENTS, REQUIRED_SCOPES } from '../../../src/platforms/slack/adapter.js';

const manifest = parse(readFileSync(new URL('../../../slack/manifest.yaml', import.meta.url), 'utf8'));

describe('slack/manifest.yaml', () => {
  it('subscribes to exactly the events the adapter handles', () => {
    const subscribed: string[] = manifest.settings.event_subscriptions.bot_events;
    const asBoltTypes = new Set(subscribed.map((e) => (e.startsWith('message.') ? 'message' : e)));
    expect([...asBoltTypes].sort()).toEqual([...HANDLED_EVENTS].sort());
  });

  it('defines the default slash command, Socket Mode on, and documents the HTTP endpoint', () => {
    const config = loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' });
    expect(manifest.features.slash_commands.map((c: { command: string }) => c.command)).toEqual([`/${config.slack!.command}`, `/${ADMIN_COMMAND}`]);
    expect(manifest.settings.socket_mode_enabled).toBe(true);
    expect(readFileSync(new URL('../../../slack/manifest.yaml', import.meta.url), 'utf8')).toContain(EVENTS_PATH);
  });

  it('asks for each scope once, and for the assistant feature native streaming needs', () => {
    const scopes: string[] = manifest.oauth_config.scopes.bot;
    expect(new Set(scopes).size).toBe(scopes.length);
    for (const s of ['app_mentions:read', 'chat:write', 'commands', 'im:history', 'channels:history', 'users:read', 'assistant:write']) expect(scopes).toContain(s);
    expect(manifest.features.assistant_view).toBeDefined();
  });

  it('asks for exactly the scopes parley doctor checks', () => {
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual([...REQUIRED_SCOPES].sort());
  });

  it('enables interactivity, which the feedback buttons need', () => {
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
  });
});
