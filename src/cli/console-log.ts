import type { Interface } from 'node:readline/promises';
import type { DestinationStream } from 'pino';

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/**
 * Where `parley chat` sends log lines: the console owns the terminal, so a line never lands on top
 * of the `> ` prompt or inside a streaming answer. While an answer streams, lines wait; at the
 * prompt, a line is written above it and the prompt (with what was typed so far) is redrawn.
 */
export class ConsoleLogSink implements DestinationStream {
  private rl?: Interface;
  private busy = false;
  private readonly waiting: string[] = [];

  constructor(private readonly out: NodeJS.WritableStream = process.stderr) {}

  /** Lines are drawn around this prompt from now on. */
  attach(rl: Interface): void {
    this.rl = rl;
  }

  /** An answer is streaming (true) or finished (false: waiting lines are written, before the next prompt). */
  setBusy(busy: boolean): void {
    this.busy = busy;
    if (!busy) for (const line of this.waiting.splice(0)) this.out.write(line);
  }

  write(raw: string): void {
    const line = format(raw);
    if (this.busy) {
      this.waiting.push(line);
      return;
    }
    if (!this.rl) {
      this.out.write(line);
      return;
    }
    // Clear the prompt line, write the log line, redraw the prompt keeping what the user typed.
    this.out.write(`\r\x1b[K${line}`);
    this.rl.prompt(true);
  }
}

function format(raw: string): string {
  try {
    const { level, msg, time: _time, pid: _pid, hostname: _host, ...rest } = JSON.parse(raw) as Record<string, unknown>;
    const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
    return `parley ${LEVELS[level as number] ?? level}: ${String(msg ?? '')}${extra}\n`;
  } catch {
    return raw.endsWith('\n') ? raw : `${raw}\n`;
  }
}
