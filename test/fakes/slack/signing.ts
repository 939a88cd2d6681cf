import { createHmac } from 'node:crypto';

/** Slack's v0 request signature: `v0=` + hex HMAC-SHA256(secret, `v0:${timestamp}:${rawBody}`). */
export function signSlackRequest(secret: string, timestampSeconds: number, rawBody: string): string {
  return 'v0=' + createHmac('sha256', secret).update(`v0:${timestampSeconds}:${rawBody}`).digest('hex');
}

export interface SignedPostOptions {
  secret: string;
  /** Seconds since epoch; default now. Slack's receivers reject timestamps older than 5 minutes. */
  timestampSeconds?: number;
  /** Send this signature instead of the correct one (a forged request). */
  forgeSignature?: string;
  contentType: 'application/json' | 'application/x-www-form-urlencoded';
  headers?: Record<string, string>;
}

export interface DeliveryResult {
  status: number;
  body: string;
  /** Time from sending the request to the end of the response (the ack time). */
  ms: number;
}

/** POSTs a body signed as Slack signs it and reads the whole response. */
export async function postSigned(url: string, rawBody: string, o: SignedPostOptions): Promise<DeliveryResult> {
  const ts = o.timestampSeconds ?? Math.floor(Date.now() / 1000);
  const started = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': o.contentType,
      'x-slack-request-timestamp': String(ts),
      'x-slack-signature': o.forgeSignature ?? signSlackRequest(o.secret, ts, rawBody),
      ...o.headers,
    },
    body: rawBody,
  });
  const body = await res.text();
  return { status: res.status, body, ms: performance.now() - started };
}
