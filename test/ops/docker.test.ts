import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/env.js';

/**
 * Docker cannot run on the machines that run these tests, so the Dockerfile and the compose file
 * are checked as text: every path they copy or run exists, the users and volumes line up, the base
 * image is the pinned LTS that CI tests, and the stop timeouts outlast SHUTDOWN_DEADLINE_MS.
 */
const root = join(import.meta.dirname, '../..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  steps: Instruction[];
}

/** Dockerfile → ARGs before the first FROM, and stages (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, op, rest] = /^(\S+)\s+(.*)$/.exec(line) ?? [];
    if (!op || rest === undefined) throw new Error(`unparsed line: ${line}`);
    const upper = op.toUpperCase();
    if (upper === 'FROM') {
      const [image, as, name] = rest.split(/\s+/);
      const from = image!.replace(/\$\{(\w+)\}/g, (_m, k: string) => args[k] ?? `\${${k}}`);
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, steps: [] });
    } else if (upper === 'ARG' && stages.length === 0) {
      const [k, v] = rest.split('=');
      args[k!] = v ?? '';
    } else {
      stages.at(-1)!.steps.push({ op: upper, args: rest });
    }
  }
  return { args, stages };
}

const dockerfile = parseDockerfile(read('Dockerfile'));
const build = dockerfile.stages.find((s) => s.name === 'build')!;
const final = dockerfile.stages.at(-1)!;
const steps = (s: Stage, op: string) => s.steps.filter((i) => i.op === op).map((i) => i.args);
/** COPY [--from=x] src… dest → the sources and the --from stage. */
const copies = (s: Stage) =>
  steps(s, 'COPY').map((a) => {
    const parts = a.split(/\s+/);
    const from = parts[0]!.startsWith('--from=') ? parts.shift()!.slice('--from='.length) : undefined;
    return { from, sources: parts.slice(0, -1), dest: parts.at(-1)! };
  });
const dockerignore = read('.dockerignore')
  .split('\n')
  .map((l) => l.trim())
  .filter(Boolean);

describe('Dockerfile', () => {
  it('builds on the current Node LTS, pinned to the exact release .ci/run tests on', () => {
    const ciVersion = /^LTS_NODE_VERSION=(\S+)$/m.exec(read('.ci/run'))?.[1];
    expect(ciVersion).toMatch(/^\d+\.\d+\.\d+$/);
    for (const stage of dockerfile.stages) expect(stage.from).toBe(`node:${ciVersion}-bookworm-slim`);
  });

  it('copies only files that exist and that .dockerignore lets through', () => {
    for (const stage of dockerfile.stages) {
      for (const c of copies(stage).filter((c) => !c.from)) {
        for (const src of c.sources) {
          expect(existsSync(join(root, src)), src).toBe(true);
          expect(
            dockerignore.some((ignored) => src === ignored || src.startsWith(`${ignored}/`)),
            `${src} is in .dockerignore`,
          ).toBe(false);
        }
      }
    }
  });

  it('installs with the lockfile and bin/ (the file: dependency npm ci needs) before running npm ci', () => {
    const ciAt = build.steps.findIndex((s) => s.op === 'RUN' && s.args.includes('npm ci'));
    const copied = build.steps
      .slice(0, ciAt)
      .filter((s) => s.op === 'COPY')
      .flatMap((s) => s.args.split(/\s+/).slice(0, -1));
    expect(copied).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'bin']));
    expect(JSON.parse(read('package.json')).dependencies['parley-bin']).toBe('file:bin');
  });

  it('the final image takes only node_modules and dist from the build, without better-sqlite3 sources', () => {
    const fromBuild = copies(final).filter((c) => c.from === 'build');
    expect(
      fromBuild
        .map((c) => c.sources)
        .flat()
        .sort(),
    ).toEqual(['/app/dist', '/app/node_modules']);
    const prune = steps(build, 'RUN').find((r) => r.includes('npm prune'))!;
    expect(prune).toContain('--omit=dev');
    expect(prune).toMatch(/rm -rf node_modules\/better-sqlite3\/build node_modules\/better-sqlite3\/deps node_modules\/better-sqlite3\/src/);
    expect(prune).toContain("require('better-sqlite3')"); // the stripped module still loads
    // The native module is built where a toolchain exists: the build stage, not the final image.
    expect(steps(build, 'RUN').some((r) => r.includes('npm rebuild better-sqlite3'))).toBe(true);
    // The compiled entry point the image runs comes from the TypeScript build of src/cli/main.ts.
    expect(existsSync(join(root, 'src/cli/main.ts'))).toBe(true);
    expect(JSON.parse(read('tsconfig.build.json')).compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
  });

  it('ships no example knowledge', () => {
    for (const c of copies(final)) expect(c.sources.some((s) => s.startsWith('examples'))).toBe(false);
  });

  it('runs as the non-root node user, under tini, writing sqlite data to the /data volume it owns', () => {
    expect(steps(final, 'USER')).toEqual(['node']);
    const entrypoint = JSON.parse(steps(final, 'ENTRYPOINT')[0]!) as string[];
    expect(entrypoint.slice(0, 4)).toEqual(['/usr/bin/tini', '--', 'node', 'dist/cli/main.js']);
    expect(steps(final, 'RUN').some((r) => /apt-get install .*\btini\b/.test(r))).toBe(true);
    expect(JSON.parse(steps(final, 'CMD')[0]!)).toEqual(['start']);

    const env = steps(final, 'ENV').join(' ');
    const storeUrl = /STORE_URL=(\S+)/.exec(env)?.[1];
    expect(storeUrl).toBe('sqlite:///data/parley.sqlite');
    expect(loadConfig({ STORE_URL: storeUrl }).store.url).toBe(storeUrl);
    expect(JSON.parse(steps(final, 'VOLUME')[0]!)).toEqual(['/data']);
    const userAt = final.steps.findIndex((s) => s.op === 'USER');
    const chownAt = final.steps.findIndex((s) => s.op === 'RUN' && s.args.includes('chown node:node /data'));
    expect(chownAt).toBeGreaterThanOrEqual(0);
    expect(chownAt).toBeLessThan(userAt); // chown needs root
  });

  it('checks /healthz on PORT and stops with SIGTERM', () => {
    expect(steps(final, 'HEALTHCHECK')[0]).toContain('/healthz');
    expect(read('src/server/http.ts')).toContain("'/healthz'");
    expect(steps(final, 'EXPOSE')).toEqual(['3000']);
    expect(steps(final, 'ENV').join(' ')).toContain('PORT=3000');
    expect(steps(final, 'STOPSIGNAL')).toEqual(['SIGTERM']);
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'));
  const parley = compose.services.parley;
  const seconds = (d: string) => Number(/^(\d+)s$/.exec(d)?.[1]);

  it('gives replies longer than SHUTDOWN_DEADLINE_MS to finish before Docker kills a replica', () => {
    const deadlineMs = loadConfig({}).shutdownDeadlineMs;
    expect(seconds(parley.stop_grace_period) * 1000).toBeGreaterThan(deadlineMs);
  });

  it('builds this Dockerfile and points the replicas at the redis service it starts', () => {
    expect(parley.build).toBe('.');
    const url = new URL(parley.environment.STORE_URL);
    expect(url.protocol).toBe('redis:');
    expect(Object.keys(compose.services)).toContain(url.hostname);
    expect(parley.depends_on[url.hostname].condition).toBe('service_healthy');
    expect(parley.ports[0]).toMatch(new RegExp(`:${parley.environment.PORT}$`));
  });
});

describe('README and docs', () => {
  it('give docker run a stop timeout longer than SHUTDOWN_DEADLINE_MS', () => {
    const deadlineS = loadConfig({}).shutdownDeadlineMs / 1000;
    for (const doc of ['README.md', 'docs/operations.md']) {
      const runs = read(doc)
        .split('\n')
        .filter((l) => /^docker run /.test(l));
      expect(runs.length, doc).toBeGreaterThan(0);
      for (const run of runs) expect(Number(/--stop-timeout (\d+)/.exec(run)?.[1]), `${doc}: ${run}`).toBeGreaterThan(deadlineS);
    }
  });
});
