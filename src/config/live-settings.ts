import { EventEmitter } from 'node:events';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Config } from './env.js';
import { readEnvironment } from './env.js';
import { loadConfigFile } from './file.js';
import { resolveSettings, type Settings } from './settings.js';
import { ConfigError, describe } from '../kernel/errors.js';
import type { Logger } from '../kernel/logger.js';

export interface LiveConfigOptions {
  log: Logger;
  /** Supplies the provider keys the file names; read from the environment (and .env) when absent. */
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/**
 * The current settings, reloaded when the config file changes. An invalid edit keeps the last
 * good settings and logs why (key and line); a valid one replaces them and emits `change`.
 * Readers call `current` per use, so nothing holds on to stale settings.
 */
export class LiveSettings extends EventEmitter {
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private lastText?: string;

  private constructor(
    private readonly config: Config,
    private settings: Settings,
    private readonly o: LiveConfigOptions,
  ) {
    super();
  }

  /** Loads the file named by `config.configFile` (if any); an invalid file throws ConfigError. */
  static load(config: Config, o: LiveConfigOptions): LiveSettings {
    const cwd = o.cwd ?? process.cwd();
    if (!config.configFile) return new LiveSettings(config, resolveSettings(config, undefined, cwd), o);
    const path = resolve(cwd, config.configFile);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError('PARLEY_CONFIG', `cannot read ${path}: ${describe(err)}`);
    }
    const file = loadConfigFile(config.configFile, o.env ?? readEnvironment(cwd), text);
    o.log.info({ file: path, profiles: Object.keys(file.config.profiles), rules: file.config.routing.length }, 'config file loaded');
    for (const w of file.warnings) o.log.warn(w);
    const live = new LiveSettings(config, resolveSettings(config, file, cwd), o);
    live.lastText = text;
    return live;
  }

  get current(): Settings {
    return this.settings;
  }

  get file(): string | undefined {
    return this.config.configFile ? resolve(this.o.cwd ?? process.cwd(), this.config.configFile) : undefined;
  }

  /**
   * Re-reads the file. Returns true when new settings were applied; false (and logs why) when the
   * file is invalid, keeping the last good settings.
   */
  reload(text?: string): boolean {
    const path = this.file;
    if (!path) return false;
    try {
      const file = loadConfigFile(this.config.configFile!, this.o.env ?? readEnvironment(this.o.cwd), text ?? readFileSync(path, 'utf8'));
      this.settings = resolveSettings(this.config, file, this.o.cwd);
      this.o.log.info({ file: path }, 'config file reloaded');
      for (const w of file.warnings) this.o.log.warn(w);
      this.emit('change', this.settings);
      return true;
    } catch (err) {
      const key = err instanceof ConfigError ? err.key : undefined;
      this.o.log.warn({ file: path, key, err: describe(err) }, 'config file invalid; keeping the last good config');
      this.emit('invalid', err);
      return false;
    }
  }

  /** Reloads on change. Watches the folder: editors often replace the file instead of writing it. */
  watch(debounceMs = 200): void {
    const path = this.file;
    if (!path || this.watcher) return;
    try {
      this.watcher = watch(dirname(path), (_event, name) => {
        if (name && name.toString() !== basename(path)) return;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.reloadIfChanged(), debounceMs);
        this.timer.unref();
      });
      this.watcher.unref();
      this.watcher.on('error', (err) => this.o.log.warn({ err: describe(err) }, 'config watcher failed; changes need a restart'));
    } catch (err) {
      this.o.log.warn({ err: describe(err) }, 'cannot watch the config file; changes need a restart');
    }
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }

  private reloadIfChanged(): void {
    let text: string | undefined;
    try {
      text = readFileSync(this.file!, 'utf8');
    } catch (err) {
      this.o.log.warn({ err: describe(err) }, 'config file unreadable; keeping the last good config');
      return;
    }
    if (text === this.lastText) return;
    this.lastText = text;
    this.reload(text);
  }
}
