import { pino, type Logger, type DestinationStream } from 'pino';
import { flat } from './strings.js';

export type { Logger };

/**
 * Secrets never reach the log; message text only with LOG_CONTENT=true (callers log text under
 * the `content` key, which is removed otherwise). Top-level keys, plus the same names one level
 * down (`{ req: { token } }`, pino's `*.token`) and `headers.authorization`.
 */
const SECRET_KEYS = ['token', 'apiKey', 'botToken', 'appToken', 'signingSecret', 'authorization'];
const SECRET_NESTED = ['token', 'apiKey'];
const CONTENT_KEYS = ['content', 'text', 'question', 'answer'];
const CONTENT_NESTED = ['content', 'text'];
const CENSOR = '[redacted]';

export interface LoggerOptions {
  level: string;
  content: boolean;
  /** Where JSON lines go; default stdout. `pretty` formats for a terminal. */
  destination?: 'stdout' | 'stderr' | DestinationStream;
  pretty?: boolean;
}

/**
 * The redaction pino's `redact` option did, as a formatter that copies an object only when it
 * holds a listed key. pino's redactor parses every path again for every value of every line and
 * child binding (~1.5 KB each: ~13 KB per answered turn, issue 19); this is a few key lookups.
 */
export function redactor(content: boolean): (obj: Record<string, unknown>) => Record<string, unknown> {
  const top = new Set(content ? SECRET_KEYS : [...SECRET_KEYS, ...CONTENT_KEYS]);
  const nested = content ? SECRET_NESTED : [...SECRET_NESTED, ...CONTENT_NESTED];
  const inHeaders = [...nested, 'authorization'];
  const censorIn = (key: string, value: object): object => {
    let copy: Record<string, unknown> | undefined;
    for (const k of key === 'headers' ? inHeaders : nested) {
      if (!(k in value)) continue;
      // An error under `err` is serialised first (its message and stack are not enumerable), as pino would.
      copy ??= key === 'err' && value instanceof Error ? { ...pino.stdSerializers.err(value) } : { ...value };
      copy[k] = CENSOR;
    }
    return copy ?? value;
  };
  return (obj) => {
    let out: Record<string, unknown> | undefined;
    for (const key in obj) {
      const value = obj[key];
      let safe = value;
      if (top.has(key)) safe = value === undefined ? value : CENSOR;
      else if (value !== null && typeof value === 'object' && !Array.isArray(value)) safe = censorIn(key, value);
      if (safe !== value) (out ??= { ...obj })[key] = safe;
    }
    return out ?? obj;
  };
}

export function createLogger(o: LoggerOptions): Logger {
  const redact = redactor(o.content);
  const formatters = { log: redact, bindings: redact };
  return withRedactedChildren(build(o, formatters), redact);
}

/**
 * pino applies the bindings formatter to the root's bindings only: children's go through `redact`
 * here (inherited by every descendant). A child's bindings are its parent's JSON text with its own
 * appended by concatenation, which V8 keeps as a rope of dozens of nodes for as long as the child
 * lives (a turn's logger: ~2 KB per reply in progress, issue 19); the child keeps one flat copy.
 */
function withRedactedChildren(root: Logger, redact: (obj: Record<string, unknown>) => Record<string, unknown>): Logger {
  const child = root.child;
  root.child = function (this: Logger, bindings, options) {
    const made = child.call(this, redact(bindings), options);
    const held = made as unknown as Record<symbol, unknown>;
    if (typeof held[CHINDINGS] === 'string') held[CHINDINGS] = flat(held[CHINDINGS]);
    return made;
  } as Logger['child'];
  return root;
}

/** Where a pino logger keeps its bindings as JSON text. */
const CHINDINGS = pino.symbols.chindingsSym;

function build(
  o: LoggerOptions,
  formatters: { log: (obj: Record<string, unknown>) => Record<string, unknown>; bindings: (obj: Record<string, unknown>) => Record<string, unknown> },
): Logger {
  const fd = o.destination === 'stderr' ? 2 : 1;
  if (o.pretty && (o.destination === undefined || typeof o.destination === 'string')) {
    return pino({
      level: o.level,
      formatters,
      transport: { target: 'pino-pretty', options: { destination: fd, colorize: true, ignore: 'pid,hostname' } },
    });
  }
  const dest = typeof o.destination === 'object' ? o.destination : pino.destination({ fd, sync: fd === 2 });
  return pino({ level: o.level, formatters }, dest);
}

/** A logger that drops everything (tests, library use). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
