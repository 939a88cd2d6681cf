import { PassThrough } from 'node:stream';
import { createInterface } from 'node:readline/promises';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ConsoleLogSink } from '../../src/cli/console-log.js';

describe('parley chat log lines', () => {
  it('never draw over the prompt or inside a streaming answer: they wait, or go above a redrawn prompt', () => {
    const out = new PassThrough();
    let written = '';
    out.on('data', (d) => (written += String(d)));
    const sink = new ConsoleLogSink(out);
    const rl = createInterface({ input: new PassThrough(), output: out, terminal: true });
    rl.setPrompt('> ');
    sink.attach(rl);
    const log = pino({ level: 'info' }, sink);

    sink.setBusy(true);
    log.warn({ model: 'm' }, 'model has no price; its cost counts as 0');
    expect(written).toBe(''); // the answer is streaming: the line waits
    sink.setBusy(false);
    expect(written).toBe('parley warn: model has no price; its cost counts as 0 {"model":"m"}\n');

    written = '';
    rl.write('half a quest');
    written = '';
    log.warn('later');
    // The prompt line is cleared, the log line written, and the prompt redrawn with what was typed.
    expect(written.startsWith('\r\x1b[Kparley warn: later\n')).toBe(true);
    expect(written).toContain('> half a quest');
    rl.close();
  });
});
