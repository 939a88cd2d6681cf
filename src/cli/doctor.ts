import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig, readEnvironment, type Config } from '../config/env.js';
import { LiveSettings } from '../config/live-settings.js';
import { withLocalDefaults } from '../config/settings.js';
import { KnowledgeBase } from '../knowledge/base.js';
import { parseSitemap } from '../knowledge/sources/site.js';
import type { Diagnosis } from '../kernel/adapter.js';
import { ConfigError, describe } from '../kernel/errors.js';
import { silentLogger, type Logger } from '../kernel/logger.js';
import { LlmClient } from '../llm/client.js';
import { createAdapters } from '../platforms/index.js';
import { HttpServer } from '../server/http.js';
import { openStore } from '../store/store.js';
import { EXIT_FAILED } from './common.js';

/** `parley doctor`: a checklist of configuration, store, model and platforms. */
export async function doctor(): Promise<void> {
  const results: Diagnosis[] = [];
  let config: Config;
  try {
    // What `parley start` would run with (a fresh clone's parley.config.yaml included; never the example docs).
    config = withLocalDefaults(loadConfig(readEnvironment()));
    results.push({ check: 'configuration', ok: true, detail: 'environment variables are valid' });
  } catch (err) {
    const lines = err instanceof ConfigError ? err.message.split('\n') : [describe(err)];
    for (const line of lines)
      results.push({ check: 'configuration', ok: false, detail: line, fix: 'correct the variable in the environment or .env (see .env.example)' });
    print(results);
    process.exitCode = EXIT_FAILED;
    return;
  }
  results.push(...(await diagnoseAll(config)));
  print(results);
  if (results.some((r) => !r.ok)) process.exitCode = EXIT_FAILED;
}

export async function diagnoseAll(config: Config): Promise<Diagnosis[]> {
  const results: Diagnosis[] = [];
  const log = silentLogger();

  try {
    const store = await openStore(config.store.url);
    try {
      const kv = store.namespace<string>('doctor');
      const value = `probe-${Date.now()}`;
      await kv.set('probe', value, 60_000);
      const ok = (await kv.get('probe')) === value;
      results.push({
        check: `store (${store.kind})`,
        ok,
        detail: ok ? 'read and write work' : 'read back a different value',
        fix: ok ? undefined : 'check that nothing else writes to this store',
      });
    } finally {
      await store.close();
    }
  } catch (err) {
    results.push({ check: 'store', ok: false, detail: describe(err), fix: 'check STORE_URL: the sqlite folder must be writable, Redis must be reachable' });
  }

  if (!config.llm.model) {
    results.push({ check: 'model', ok: false, detail: 'no model configured', fix: 'set OPENAI_BASE_URL, OPENAI_API_KEY and OPENAI_MODEL' });
  } else {
    const llm = new LlmClient({
      baseURL: config.llm.baseURL,
      apiKey: config.llm.apiKey,
      connectTimeoutMs: 10_000,
      firstTokenTimeoutMs: config.llm.firstTokenTimeoutMs,
      idleTimeoutMs: 20_000,
      maxRetries: 0,
      log,
    });
    const served = await llm.listModels();
    if (served && !served.includes(config.llm.model)) {
      // Servers that serve whatever is loaded (llama.cpp) answer any name: a typo would pass the call below.
      results.push({
        check: `model ${config.llm.model} listed`,
        ok: true,
        warning: true,
        detail: `${config.llm.baseURL}/models lists ${served.slice(0, 5).join(', ') || 'no model'}${served.length > 5 ? ', …' : ''}`,
        fix: `set OPENAI_MODEL to one of the listed models`,
      });
    }
    try {
      const answered = await llm.ping(config.llm.model);
      results.push({ check: `model ${config.llm.model}`, ok: true, detail: `answered a one-token call at ${config.llm.baseURL}` });
      if (answered !== config.llm.model) {
        results.push({
          check: `model ${config.llm.model} answered`,
          ok: true,
          warning: true,
          detail: `the response names model "${answered}"; usage is booked under it`,
          fix: `set OPENAI_MODEL=${answered}`,
        });
      }
    } catch (err) {
      const msg = describe(err);
      const fix = /401|403|refused the request \(40[13]\)/.test(msg)
        ? 'check OPENAI_API_KEY'
        : /404/.test(msg)
          ? 'check OPENAI_MODEL (the endpoint does not know this model) and OPENAI_BASE_URL (usually ends in /v1)'
          : 'check OPENAI_BASE_URL and that the endpoint is reachable from this host';
      results.push({ check: `model ${config.llm.model}`, ok: false, detail: msg, fix });
    }
  }

  results.push(...(await diagnoseKnowledge(config, log)));

  const store = await openStore('memory://');
  const adapters = await createAdapters(config, { log, store, http: new HttpServer(log) });
  if (adapters.length === 0)
    results.push({
      check: 'platforms',
      ok: false,
      detail: 'no chat platform configured',
      fix: 'set SLACK_BOT_TOKEN (+ SLACK_APP_TOKEN or SLACK_SIGNING_SECRET) and/or DISCORD_TOKEN',
    });
  for (const adapter of adapters) {
    if (!adapter.diagnose) {
      results.push({ check: adapter.platform, ok: true, detail: 'configured (no further checks available)' });
      continue;
    }
    try {
      results.push(...(await adapter.diagnose()));
    } catch (err) {
      results.push({ check: adapter.platform, ok: false, detail: describe(err) });
    }
  }
  await store.close();
  return results;
}

/** The config file, each knowledge folder (indexes, FAQ files valid) and whether review corrections can be saved in it. */
export async function diagnoseKnowledge(config: Config, log: Logger): Promise<Diagnosis[]> {
  let live: LiveSettings;
  try {
    live = LiveSettings.load(config, { log });
  } catch (err) {
    return [{ check: 'config file', ok: false, detail: describe(err), fix: 'correct the key named (schema/parley.config.schema.json lists them)' }];
  }
  try {
    const s = live.current;
    const results: Diagnosis[] = s.file ? [{ check: 'config file', ok: true, detail: `${s.file} is valid` }] : [];
    if (!s.knowledge.sources.length) {
      results.push({
        check: 'knowledge',
        ok: true,
        warning: true,
        detail: 'no knowledge configured: answers come from the model alone and review corrections have nowhere to go',
        fix: 'set KNOWLEDGE_DIR, KNOWLEDGE_URLS or knowledge.sources in the config file',
      });
    }
    for (const source of s.knowledge.sources) {
      if (source.sitemap) {
        results.push(await diagnoseSite(source.name, source.sitemap, source.refreshMinutes));
        continue;
      }
      const kb = new KnowledgeBase([source], { log, chunk: s.knowledge.chunk });
      try {
        await kb.load();
        results.push({
          check: `knowledge ${source.name} (folder)`,
          ok: true,
          detail: `${kb.stats.files} files, ${kb.stats.passages} passages, ${kb.stats.faqEntries} FAQ entries in ${source.displayPath}${kindsOf(kb)}`,
        });
      } catch (err) {
        results.push({
          check: `knowledge ${source.name} (folder)`,
          ok: false,
          detail: describe(err),
          fix: 'fix the file named (FAQ files: a list of { questions, answer })',
        });
        continue;
      } finally {
        kb.close();
      }
      // `parley review correct` and the dashboard save corrected answers into this folder.
      const target = join(source.dir, s.review.faqFile);
      const writable = await access(target, constants.W_OK).then(
        () => true,
        (err: NodeJS.ErrnoException) =>
          err.code === 'ENOENT'
            ? access(source.dir, constants.W_OK).then(
                () => true,
                () => false,
              )
            : false,
      );
      if (!writable) {
        results.push({
          check: `review corrections (${source.name})`,
          ok: true,
          warning: true,
          detail: `${source.displayPath}/${s.review.faqFile} cannot be written: corrected answers cannot be saved as FAQ entries`,
          fix: 'make the knowledge folder writable for this process (in Docker, mount it as a volume)',
        });
      }
    }
    return results;
  } finally {
    live.close();
  }
}

/** " (12 Markdown, 3 PDF)": which kinds of files a folder holds, from its indexed passages. */
function kindsOf(kb: KnowledgeBase): string {
  const names: Record<string, string> = {
    md: 'Markdown',
    markdown: 'Markdown',
    txt: 'text',
    html: 'HTML',
    htm: 'HTML',
    xhtml: 'HTML',
    pdf: 'PDF',
    yaml: 'FAQ',
    yml: 'FAQ',
  };
  const files = new Map<string, string>();
  for (const key of kb.passageKeys()) {
    const file = key.split('#')[0]!;
    const ext = /\.(\w+)$/.exec(file)?.[1]?.toLowerCase();
    if (ext && names[ext]) files.set(file, names[ext]);
  }
  const count = new Map<string, number>();
  for (const kind of files.values()) count.set(kind, (count.get(kind) ?? 0) + 1);
  return count.size ? ` (${[...count].map(([k, n]) => `${n} ${k}`).join(', ')})` : '';
}

/** A docs site: its sitemap answers and lists pages (they are fetched when Parley starts, not here). */
async function diagnoseSite(name: string, sitemap: string, refreshMinutes = 360): Promise<Diagnosis> {
  const check = `knowledge ${name} (sitemap)`;
  try {
    const res = await fetch(sitemap, { signal: AbortSignal.timeout(15_000) });
    if (!res.ok)
      return {
        check,
        ok: false,
        detail: `${sitemap} answered HTTP ${res.status}`,
        fix: 'check the sitemap URL (KNOWLEDGE_URLS or knowledge.sources.*.sitemap)',
      };
    const { urls, sitemaps } = parseSitemap(await res.text(), sitemap);
    const listed = sitemaps.length ? `${sitemaps.length} sitemaps` : `${urls.length} pages`;
    return { check, ok: true, detail: `${sitemap} lists ${listed}; fetched at start, cached in the store, re-checked every ${refreshMinutes} minutes` };
  } catch (err) {
    return { check, ok: false, detail: `${sitemap}: ${describe(err)}`, fix: 'check the sitemap URL and that this host can reach it' };
  }
}

function print(results: Diagnosis[]): void {
  for (const r of results) {
    process.stdout.write(`${r.ok ? (r.warning ? '!' : '✔') : '✘'} ${r.check}${r.detail ? ` — ${r.detail}` : ''}\n`);
    if ((!r.ok || r.warning) && r.fix) process.stdout.write(`    fix: ${r.fix}\n`);
  }
  const failed = results.filter((r) => !r.ok).length;
  process.stdout.write(failed ? `\n${failed} check(s) failed.\n` : '\nAll checks passed.\n');
}
