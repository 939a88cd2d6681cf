import type { z } from 'zod';
import type { handoffSchema } from '../config/file.js';

/** Where "Talk to a human" goes for one profile, resolved (secrets read from the environment). */
export interface HandoffSettings {
  /** The escalation channel. */
  destination?: { platform: string; channel: string };
  /** The one Slack user group id or Discord role id pinged. */
  ping?: string;
  webhook?: { url: string; secret?: string };
  /** Grounded profiles offer a human instead of a bare "I don't know". */
  lowConfidenceOffer: boolean;
}

/** `platform:channel` → its parts. */
export function parseDestination(d: string | undefined): HandoffSettings['destination'] {
  if (!d) return undefined;
  const i = d.indexOf(':');
  return { platform: d.slice(0, i), channel: d.slice(i + 1) };
}

/** A profile's `handoff` block (config file) with its webhook secret looked up in `secrets`. */
export function handoffSettings(block: z.output<typeof handoffSchema>, secrets: Record<string, string | undefined>): HandoffSettings {
  return {
    destination: parseDestination(block.destination),
    ping: block.ping,
    webhook: block.webhook ? { url: block.webhook.url, secret: block.webhook.secretEnv ? secrets[block.webhook.secretEnv] : undefined } : undefined,
    lowConfidenceOffer: block.lowConfidenceOffer,
  };
}

/** The environment's HANDOFF_* variables as settings (used by profiles without their own block). */
export function handoffFromEnv(
  env: { destination?: string; ping?: string; webhook?: { url: string; secret?: string } } | undefined,
): HandoffSettings | undefined {
  if (!env) return undefined;
  return { destination: parseDestination(env.destination), ping: env.ping, webhook: env.webhook, lowConfidenceOffer: true };
}
