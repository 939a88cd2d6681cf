#!/usr/bin/env node

/**
 * Each command is a module exporting its runner; it is loaded only when run, so `parley ask`
 * does not pay for the Slack and Discord SDKs, nor `parley help` for anything.
 */
const commands: Record<string, { usage: string; load: () => Promise<(argv: string[]) => Promise<void>> }> = {
  start: {
    usage: 'parley start                             run every platform whose credentials are set (npm start)',
    load: async () => (await import('./start.js')).start,
  },
  chat: {
    usage: 'parley chat [--thread NAME]             interactive chat in the terminal (history kept per thread)',
    load: async () => (await import('./chat.js')).chat,
  },
  ask: { usage: 'parley ask [--thread NAME] "question"   one answer on stdout (with its sources)', load: async () => (await import('./ask.js')).ask },
  shards: {
    usage: 'parley shards [--shards N]               run Discord with discord.js sharding (one process per shard)',
    load: async () => (await import('./shards.js')).shards,
  },
  doctor: {
    usage: 'parley doctor                            check every credential and dependency, with a fix for each failure',
    load: async () => (await import('./doctor.js')).doctor,
  },
  route: {
    usage: 'parley route "question" [--channel C] [--platform P]   which routing rule and profile would answer',
    load: async () => (await import('./route.js')).routeCommand,
  },
  stats: {
    usage: 'parley stats [--since 7d] [--format table|json|csv]   questions, handoffs, 👍, resolution, latency, cost; what to document next',
    load: async () => (await import('./stats.js')).stats,
  },
  eval: {
    usage: 'parley eval CASES.yaml [--min-score S]   routing, retrieval hit@k and answers; exits 1 under the score',
    load: async () => (await import('./eval.js')).evalCommand,
  },
  forget: {
    usage: "parley forget --user PLATFORM:ID | --conversation KEY   delete a person's data or a conversation (erasure requests; docs/privacy.md)",
    load: async () => (await import('./forget.js')).forget,
  },
  review: {
    usage: 'parley review [--since 7d] [--status S] [--reason R]   weak answers to check; review show|good|bad|correct ID (corrections go into the FAQ)',
    load: async () => (await import('./review.js')).review,
  },
};

function help(): string {
  return `Parley — an AI assistant for Slack, Discord and the terminal.\n\nUsage:\n${Object.values(commands)
    .map((c) => `  ${c.usage}`)
    .join('\n')}\n\nConfiguration comes from the environment (and a .env file); see .env.example.\n`;
}

/** package.json's engines: node:util parseEnv (20.12), undici 7 in @slack/socket-mode (20.18.1), the test tooling (20.19). */
const MIN_NODE = [20, 19] as const;

async function main(): Promise<void> {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  if (major < MIN_NODE[0] || (major === MIN_NODE[0] && minor < MIN_NODE[1])) {
    process.stderr.write(`parley: Node ${MIN_NODE.join('.')} or later is required (this is ${process.version}); Node 24 LTS is recommended.\n`);
    process.exit(1);
  }
  // A reader that stops early (`parley ask … | head`) closes the pipe: the command is done, not crashed.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(0);
  });
  const [name, ...rest] = process.argv.slice(2);
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(help());
    return;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`parley: unknown command "${name}"\n\n${help()}`);
    process.exit(2);
  }
  if (rest[0] === '--help' || rest[0] === '-h') {
    process.stdout.write(`usage: ${command.usage}\n`);
    return;
  }
  await (await command.load())(rest);
}

main().catch((err) => {
  // Expected failures have clear messages; anything else is a bug worth its stack.
  // A bad config file (or eval cases file) is a ConfigError naming the key and line: no stack.
  if (err instanceof Error && err.name === 'ConfigError') {
    process.stderr.write(`parley: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`parley: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
