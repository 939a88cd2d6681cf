import type { IncomingMessage } from '../kernel/types.js';
import type { GuardrailSettings } from '../config/guardrails.js';

type Access = GuardrailSettings['access'];

/** An entry names an id on any platform (`U123`) or on one platform (`slack:U123`). */
function listed(list: readonly string[], platform: string, id: string): boolean {
  return list.includes(id) || list.includes(`${platform}:${id}`);
}

function anyListed(list: readonly string[], platform: string, ids: readonly string[]): boolean {
  return ids.some((id) => listed(list, platform, id));
}

export function isAdmin(message: IncomingMessage, access: Access): boolean {
  const { platform, user } = message;
  return listed(access.admins, platform, user.id) || anyListed(access.adminRoles, platform, user.roles ?? []);
}

/** Direct messages on a platform; the console is the operator's own terminal, not a DM to the team bot. */
export function isDirectMessage(message: IncomingMessage): boolean {
  return message.trigger === 'direct_message' && message.platform !== 'console';
}

export type AccessDecision = { allowed: true } | { allowed: false; reason: 'direct_messages_off' | 'user' | 'role' | 'channel' | 'workspace' };

/**
 * Deny lists always win; a non-empty allow list admits only what it names. Admins pass.
 * DMs: `directMessages` decides, and channel/workspace lists do not apply (a DM has no team
 * channel; Discord DMs have no guild). Role lists apply where the platform reports roles
 * (Discord guild messages); a DM carries none, so turn DMs off when relying on roles.
 */
export function checkAccess(message: IncomingMessage, access: Access): AccessDecision {
  if (isAdmin(message, access)) return { allowed: true };
  const { platform } = message;
  const dm = isDirectMessage(message);
  const check = (rule: { allow: string[]; deny: string[] }, ids: readonly string[]) =>
    !anyListed(rule.deny, platform, ids) && (rule.allow.length === 0 || anyListed(rule.allow, platform, ids));

  if (!check(access.users, [message.user.id])) return { allowed: false, reason: 'user' };
  if (dm && !access.directMessages) return { allowed: false, reason: 'direct_messages_off' };
  if (!dm) {
    if (!check(access.workspaces, [message.workspace])) return { allowed: false, reason: 'workspace' };
    if (!check(access.channels, [message.channel])) return { allowed: false, reason: 'channel' };
  }
  if (message.user.roles !== undefined && !check(access.roles, message.user.roles)) return { allowed: false, reason: 'role' };
  return { allowed: true };
}
