import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeOpenAI } from '../fakes/openai-server.js';
import { CLI, runParley, until } from '../helpers/process.js';

/**
 * `parley chat` as a person at a terminal sees it: run inside a pseudo-terminal by util-linux
 * `script`, so stdout and stderr are a TTY and both land on the screen, as they would for a user.
 */
const cwd = mkdtempSync(join(tmpdir(), 'parley-chat-tty-'));
let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await FakeOpenAI.start();
});
afterAll(async () => {
  await fake.close();
  rmSync(cwd, { recursive: true, force: true });
});

const ANSWER = 'Use **bold** steps:\n\n- one\n- two\n\nDone `code`.';
const env = () => ({
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
  OPENAI_BASE_URL: fake.url,
  OPENAI_API_KEY: 'k',
  OPENAI_MODEL: 'fake-model',
  TERM: 'xterm',
});

/** Chats on `thread`: types each line once the screen shows its `after`, then returns everything the screen showed. */
async function chatInTerminal(thread: string, lines: { type: string; after: string }[]): Promise<{ screen: string; code: number }> {
  const child = spawn('script', ['-qefc', `${process.execPath} ${CLI} chat --thread ${thread}`, '/dev/null'], { cwd, env: env() });
  let screen = '';
  child.stdout.on('data', (d) => (screen += d));
  child.stderr.on('data', (d) => (screen += d));
  const closed = new Promise<number>((done) => child.on('close', (code) => done(code ?? -1)));
  try {
    for (const { type, after } of lines) {
      await until(() => screen.includes(after), 20_000, `"${after}" on the screen`);
      child.stdin.write(`${type}\n`);
    }
  } catch (err) {
    child.kill();
    throw new Error(`${(err as Error).message}; the screen showed: ${JSON.stringify(screen)}`);
  }
  child.stdin.end();
  return { screen, code: await closed };
}

describe('parley chat in a terminal', () => {
  it('renders the answer’s Markdown once, block by block, and keeps log lines off the prompt', async () => {
    fake.script({ text: ANSWER, chunkDelayMs: 20 }, { status: 401 });
    const { screen, code } = await chatInTerminal('rendered', [
      { after: '> ', type: 'a question' },
      { after: 'Done', type: 'a second question' },
      { after: 'could not get an answer', type: '/exit' },
    ]);
    expect(code).toBe(0);
    expect(screen).toContain('\x1b[1mbold\x1b[22m'); // bold as ANSI
    expect(screen).not.toContain('**bold**');
    expect(screen).not.toContain('- one'); // a rendered list, not the Markdown source
    expect(screen.match(/steps:/g)).toHaveLength(1); // streamed blocks are printed once
    // The failed second answer is said in the chat; the warning behind it is not logged over the prompt.
    expect(screen).not.toMatch(/WARN|"level":\s*40/);
  });

  it('says "1 earlier question" when continuing a conversation of one question', async () => {
    fake.script('First.');
    await chatInTerminal('one', [
      { after: '> ', type: 'only question' },
      { after: 'First', type: '/exit' },
    ]);
    const { screen } = await chatInTerminal('one', [{ after: '> ', type: '/exit' }]);
    expect(screen).toContain('(continuing, 1 earlier question)');
  });

  it('writes the answer as it is when stdout is not a terminal', async () => {
    fake.script(ANSWER);
    const r = await runParley(['chat', '--thread', 'piped'], { cwd, env: env(), input: 'a question\n' });
    expect(r.stdout).toContain(ANSWER);
  });
});
