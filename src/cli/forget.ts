import { parseArgs } from 'node:util';
import { createCore } from '../app.js';
import type { ForgetReport } from '../privacy/forget.js';
import { cliLogger, configOrExit, EXIT_CONFIG, fail } from './common.js';

export const usage = 'parley forget --user PLATFORM:ID [--workspace W] | --conversation PLATFORM:WORKSPACE:CHANNEL:THREAD [--format text|json]';

/**
 * `parley forget`: an admin handling an erasure (GDPR) request deletes a person's data, or one
 * conversation, from the store the bot writes to (STORE_URL), through the same deletion path as
 * `/parley forget` and the HTTP API's DELETE. What stays (identity-free counts) is in docs/privacy.md.
 */
export async function forget(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { user: { type: 'string' }, conversation: { type: 'string' }, workspace: { type: 'string' }, format: { type: 'string', default: 'text' } },
  });
  if ((values.user === undefined) === (values.conversation === undefined)) fail(`give either --user or --conversation\nusage: ${usage}`, EXIT_CONFIG);
  if (values.format !== 'text' && values.format !== 'json') fail(`--format: expected text or json (got "${values.format}")\nusage: ${usage}`, EXIT_CONFIG);
  let person: { platform: string; id: string } | undefined;
  if (values.user !== undefined) {
    // slack:U0123, discord:4711…, api:customer-42, console:alice: the platform names whose user it is (ids are per platform).
    const m = /^([a-z]+):(.+)$/.exec(values.user);
    if (!m) fail(`--user: expected PLATFORM:ID, e.g. slack:U0123ABC or api:customer-42 (got "${values.user}")`, EXIT_CONFIG);
    person = { platform: m[1]!, id: m[2]! };
  } else if (!/^[a-z]+:[^:]*:[^:]*:.+$/.test(values.conversation!)) {
    fail(`--conversation: expected PLATFORM:WORKSPACE:CHANNEL:THREAD as the logs name it, e.g. api:widget:api:c_… (got "${values.conversation}")`, EXIT_CONFIG);
  }
  const config = configOrExit();
  const core = await createCore(config, cliLogger(config, true), undefined, { watch: false });
  try {
    const report = person
      ? await core.forgetter.forgetPerson(person.platform, person.id, { workspace: values.workspace })
      : await core.forgetter.forgetConversation(values.conversation!);
    process.stdout.write(
      values.format === 'json'
        ? `${JSON.stringify({ deleted: report })}\n`
        : formatReport(report, person ? `${person.platform}:${person.id}` : values.conversation!),
    );
  } finally {
    core.close();
    await core.engine.drain();
    await core.support.desk.idle();
    await core.store.close();
  }
}

function formatReport(r: ForgetReport, subject: string): string {
  return [
    `Deleted for ${subject}:`,
    `  conversations cleaned:  ${r.conversations}`,
    `  records deleted:        ${r.records} (answer records, comments, API tasks, cached answers)`,
    `  question texts dropped: ${r.questionTexts} (their counts stay)`,
    `  review items:           ${r.reviewItems}`,
    `  usage rows:             ${r.usageRows}`,
    'Kept: identity-free counts only (docs/privacy.md).',
    '',
  ].join('\n');
}
