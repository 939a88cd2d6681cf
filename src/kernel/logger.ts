import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Secrets never reach the log; message text only with LOG_CONTENT=true (callers log text under
 * the `content` key, which is removed otherwise).
 */
const SECRET_PATHS = ['token', 'apiKey', 'botToken', 'appToken', 'signingSecret', 'authorization', 'headers.authorization', '*.token', '*.apiKey'];
const CONTENT_PATHS = ['content', 'text', 'question', 'answer', '*.content', '*.text'];

export interface LoggerOptions {
  level: string;
  content: boolean;
  /** Where JSON lines go; default stdout. `pretty` formats for a terminal. */
  destination?: 'stdout' | 'stderr' | DestinationStream;
  pretty?: boolean;
}

export function createLogger(o: LoggerOptions): Logger {
  const redact = { paths: o.content ? SECRET_PATHS : [...SECRET_PATHS, ...CONTENT_PATHS], censor: '[redacted]' };
  const fd = o.destination === 'stderr' ? 2 : 1;
  if (o.pretty && (o.destination === undefined || typeof o.destination === 'string')) {
    return pino({
      level: o.level,
      redact,
      transport: { target: 'pino-pretty', options: { destination: fd, colorize: true, ignore: 'pid,hostname' } },
    });
  }
  const dest = typeof o.destination === 'object' ? o.destination : pino.destination({ fd, sync: fd === 2 });
  return pino({ level: o.level, redact }, dest);
}

/** A logger that drops everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
