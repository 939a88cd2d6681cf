import { parseArgs } from 'node:util';
import { LiveSettings } from '../config/live-settings.js';
import { route } from '../routing/router.js';
import { cliLogger, configOrExit, EXIT_CONFIG, fail } from './common.js';

export const usage = 'parley route "question" [--channel C] [--platform P] [--workspace W] [--command NAME]   which rule and profile would answer';

/** `parley route`: applies the routing rules of the config file to one question, without answering it. */
export async function routeCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { channel: { type: 'string' }, platform: { type: 'string' }, workspace: { type: 'string' }, command: { type: 'string' } },
  });
  const question = positionals.join(' ').trim();
  if (!question) fail(`no question given\nusage: ${usage}`, EXIT_CONFIG);
  const config = configOrExit({ exampleKnowledge: true });
  const live = LiveSettings.load(config, { log: cliLogger(config, true) });
  const where = {
    platform: values.platform ?? 'slack',
    workspace: values.workspace ?? 'local',
    channel: values.channel ?? '',
    command: values.command,
  };
  const r = route(live.current, where, question);
  const p = r.profile;
  const lines = [
    `rule:      ${r.rule ? `${r.rule.name} (routing[${r.index}])` : 'none matched; the default profile answers'}`,
    `profile:   ${p.name}`,
    `model:     ${p.model ?? 'none configured'}${p.fallbackModels.length ? ` (fallbacks: ${p.fallbackModels.join(', ')})` : ''}`,
    `answers:   ${p.answerMode ?? 'general'}${p.knowledge ? `, knowledge: ${p.knowledge.join(', ') || 'none'}` : ', knowledge: every source'}`,
    `config:    ${live.current.file ?? 'none (environment only)'}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
