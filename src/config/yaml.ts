import { isMap, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../kernel/errors.js';

/**
 * YAML parsed with its source positions, so a validation error can say
 * "profiles.billing.model (parley.config.yaml line 12): …" instead of leaving the operator to search.
 */
export interface LocatedYaml {
  value: unknown;
  /** 1-based line of the node at `path` (or of its nearest existing parent). */
  lineOf(path: readonly PropertyKey[]): number | undefined;
}

export function parseYaml(text: string, file: string): LocatedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const line = first.linePos?.[0]?.line ?? lineCounter.linePos(first.pos[0]).line;
    throw new ConfigError(file, `${line ? `line ${line}: ` : ''}${first.message.split('\n')[0]}`);
  }
  const lineOf = (path: readonly PropertyKey[]): number | undefined => {
    let node: unknown = doc.contents;
    let line = rangeLine(node as Node | null);
    for (const key of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => String((p.key as { value?: unknown })?.value ?? p.key) === String(key));
        if (!pair) break;
        // The key's own line: where a wrong value or a misspelt key is.
        line = rangeLine(pair.key as Node) ?? line;
        node = pair.value;
        if (node && !isMap(node) && !isSeq(node)) line = rangeLine(node as Node) ?? line;
      } else if (isSeq(node) && typeof key === 'number') {
        node = node.items[key];
        line = rangeLine(node as Node) ?? line;
      } else break;
    }
    return line;
  };
  function rangeLine(node: Node | null | undefined): number | undefined {
    const offset = node?.range?.[0];
    return offset === undefined ? undefined : lineCounter.linePos(offset).line;
  }
  return { value: doc.toJS() ?? {}, lineOf };
}

/** The first zod issue as a ConfigError naming the dotted key path and its line. */
export function issueToConfigError(error: z.ZodError, located: LocatedYaml, file: string, prefix: readonly PropertyKey[] = []): ConfigError {
  // A misspelt key also shows up as a missing one; the spelling is the cause worth naming.
  const issue = error.issues.find((i) => i.code === 'unrecognized_keys') ?? error.issues[0]!;
  let path = [...prefix, ...issue.path];
  let message = issue.message;
  // An unknown key is reported on the key itself (its parent path + the key name).
  if (issue.code === 'unrecognized_keys' && issue.keys.length) {
    path = [...path, issue.keys[0]!];
    message = `unknown key${issue.keys.length > 1 ? `s ${issue.keys.join(', ')}` : ''} (check the spelling; see schema/parley.config.schema.json)`;
  }
  const key = path.length ? path.map(String).join('.') : '(top level)';
  const line = located.lineOf(path);
  return new ConfigError(key, `${message} (${file}${line ? ` line ${line}` : ''})`);
}
