import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/kernel/logger.js';

function capture(content: boolean) {
  const lines: Record<string, any>[] = [];
  const log = createLogger({ level: 'info', content, destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
  return { log, lines };
}

describe('logger redaction', () => {
  it('removes secrets and message text from lines and child bindings by default, top level and one level down', () => {
    const { log, lines } = capture(false);
    const child = log.child({ conversation: 'api:k:api:c1', token: 'xoxb-secret', question: 'my password is hunter2' });
    const err = Object.assign(new Error('boom'), { token: 'sk-err' });
    child.info(
      {
        text: 'hello there',
        content: 'the answer',
        answer: 'an answer',
        apiKey: 'sk-1',
        usage: { promptTokens: 3, completionTokens: 4 },
        req: { token: 't-1', apiKey: 'k-1', text: 'nested text', id: 7 },
        headers: { authorization: 'Bearer abc', accept: 'json' },
        err,
      },
      'answered',
    );
    const line = lines[0]!;
    const raw = JSON.stringify(line);
    for (const secret of ['xoxb-secret', 'hunter2', 'hello there', 'the answer', 'an answer', 'sk-1', 't-1', 'k-1', 'nested text', 'Bearer abc', 'sk-err']) {
      expect(raw).not.toContain(secret);
    }
    expect(line).toMatchObject({
      conversation: 'api:k:api:c1',
      token: '[redacted]',
      question: '[redacted]',
      text: '[redacted]',
      usage: { promptTokens: 3, completionTokens: 4 },
      req: { token: '[redacted]', text: '[redacted]', id: 7 },
      headers: { authorization: '[redacted]', accept: 'json' },
      err: { message: 'boom', token: '[redacted]' },
      msg: 'answered',
    });
    expect(line.err.stack).toContain('boom');
  });

  it('keeps message text with LOG_CONTENT=true, never secrets', () => {
    const { log, lines } = capture(true);
    log.info({ text: 'hello there', token: 'sk-1', req: { content: 'c', apiKey: 'k' } }, 'line');
    expect(lines[0]).toMatchObject({ text: 'hello there', token: '[redacted]', req: { content: 'c', apiKey: '[redacted]' } });
  });

  it('passes a line without listed keys through unchanged', () => {
    const { log, lines } = capture(false);
    log.info({ source: 'model', ms: 12, usage: { promptTokens: 1 } }, 'answered');
    expect(lines[0]).toMatchObject({ source: 'model', ms: 12, usage: { promptTokens: 1 }, msg: 'answered' });
  });

  it("a grandchild's lines carry every ancestor's bindings, redacted, and its own; a sibling's do not leak in", () => {
    const { log, lines } = capture(false);
    const turn = log.child({ conversation: 'api:k:api:c1', token: 'xoxb-secret' });
    const step = turn.child({ step: 'model', question: 'hunter2' });
    turn.child({ step: 'sibling' });
    step.info({ ms: 3 }, 'done');
    expect(lines[0]).toMatchObject({ conversation: 'api:k:api:c1', token: '[redacted]', step: 'model', question: '[redacted]', ms: 3, msg: 'done' });
    expect(JSON.stringify(lines[0])).not.toMatch(/hunter2|xoxb-secret|sibling/);
    expect(step.bindings()).toMatchObject({ conversation: 'api:k:api:c1', step: 'model' });
  });
});
