/**
 * The model for the HTTP API phase, in its own process (run with tsx by the bench), so the
 * server's CPU and RSS are its own. An instant streaming OpenAI-compatible fake: a question
 * containing "hold" gets its first words at once and then a stream held open (1,000 concurrent
 * streams), any other question a short instant answer. Prints its base URL on stdout.
 */
import { FakeOpenAI, type ScriptedReply } from '../../test/fakes/openai-server.js';

export const SHORT_ANSWER = 'Restart the agent and try again.';
const SHORT: ScriptedReply = { chunks: ['Restart ', 'the ', 'agent ', 'and ', 'try ', 'again.'], firstTokenDelayMs: 0, chunkDelayMs: 0 };
/** Held long past the bench's measurement; the server aborts it when its client leaves. */
const HOLD: ScriptedReply = { chunks: ['Hold ', 'on.'], firstTokenDelayMs: 0, chunkDelayMs: 600_000 };

const fake = await FakeOpenAI.start();
fake.defaultReply = (req) => {
  // Keep the process's own memory flat: nothing in the bench reads the recorded requests.
  fake.requests.length = 0;
  const last = [...(req.body.messages ?? [])].reverse().find((m: { role: string }) => m.role === 'user');
  return /\bhold\b/.test(String(last?.content ?? '')) ? HOLD : SHORT;
};
process.stdout.write(`${fake.url}\n`);
process.on('SIGTERM', () => void fake.close().finally(() => process.exit(0)));
