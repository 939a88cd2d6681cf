import type { Config } from '../config/env.js';
import type { AdapterDeps, PlatformAdapter } from '../core/adapter.js';

/** Every platform whose credentials are set. The console is not here: the CLI opens it. */
export function createAdapters(config: Config, deps: AdapterDeps): PlatformAdapter[] {
  const adapters: PlatformAdapter[] = [];
  void config;
  void deps;
  return adapters;
}
