import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../../src/config/env.js';
import { ADMIN_COMMAND, EVENTS_PATH, HANDLED_EVENTS, REQUIRED_SCOPES } from '../../../src/platforms/slack/adapter.js';
import { ASSISTANT_VIEW_EVENTS, SUGGESTED_PROMPTS } from '../../../src/platforms/slack/agent.js';

const read = (name: string) => readFileSync(new URL(`../../../slack/${name}`, import.meta.url), 'utf8');
const socket = parse(read('manifest.yaml'));
const http = parse(read('manifest-http.yaml'));

describe.each([
  ['slack/manifest.yaml', socket],
  ['slack/manifest-http.yaml', http],
])('%s', (_name, manifest) => {
  it('subscribes to exactly the events the adapter handles, except the assistant-view ones older apps send', () => {
    const subscribed: string[] = manifest.settings.event_subscriptions.bot_events;
    const asBoltTypes = new Set(subscribed.map((e) => (e.startsWith('message.') ? 'message' : e)));
    const expected = HANDLED_EVENTS.filter((e) => !(ASSISTANT_VIEW_EVENTS as readonly string[]).includes(e));
    expect([...asBoltTypes].sort()).toEqual([...expected].sort());
  });

  it('uses agent view (not the older assistant view) with the prompts Parley sets', () => {
    expect(manifest.features.agent_view.agent_description).toBeTruthy();
    expect(manifest.features.agent_view.suggested_prompts).toEqual(SUGGESTED_PROMPTS);
    expect(manifest.features.assistant_view).toBeUndefined();
    expect(manifest.features.app_home.messages_tab_enabled).toBe(true);
  });

  it('defines the default slash command and /parley', () => {
    const config = loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' });
    expect(manifest.features.slash_commands.map((c: { command: string }) => c.command)).toEqual([`/${config.slack!.command}`, `/${ADMIN_COMMAND}`]);
  });

  it('asks for exactly the scopes parley doctor checks, each once', () => {
    const scopes: string[] = manifest.oauth_config.scopes.bot;
    expect(new Set(scopes).size).toBe(scopes.length);
    expect([...scopes].sort()).toEqual([...REQUIRED_SCOPES].sort());
  });

  it('enables interactivity, which the feedback buttons and the reason modal need', () => {
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
  });
});

describe('Socket Mode and HTTP mode manifests', () => {
  it('describe the same app, except for Socket Mode and the request URLs', () => {
    const strip = (m: typeof http) => {
      const copy = structuredClone(m);
      delete copy.settings.socket_mode_enabled;
      delete copy.settings.event_subscriptions.request_url;
      delete copy.settings.interactivity.request_url;
      for (const c of copy.features.slash_commands) delete c.url;
      return copy;
    };
    expect(strip(http)).toEqual(strip(socket));
    expect(socket.settings.socket_mode_enabled).toBe(true);
    expect(http.settings.socket_mode_enabled).toBe(false);
  });

  it('HTTP mode sends events, both slash commands and interactivity to Parley’s one endpoint', () => {
    const urls = [
      http.settings.event_subscriptions.request_url,
      http.settings.interactivity.request_url,
      ...http.features.slash_commands.map((c: { url?: string }) => c.url),
    ];
    expect(urls).toHaveLength(4);
    for (const url of urls) expect(new URL(url).pathname).toBe(EVENTS_PATH);
  });
});
