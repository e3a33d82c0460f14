import { randomBytes } from 'node:crypto';
import { Pool } from 'undici';
import { signWebhook } from '../../src/provider/mailgun/webhookSignature.js';
import type { AcceptedMessage } from './store.js';

export interface MockWebhookOptions {
  url: string;
  signingKey: string;
  /** Share of messages reported as permanently failed (a bounce). */
  bounceRate: number;
  /** Share of messages reported as spam complaints. */
  complaintRate: number;
}

/**
 * Posts a signed Mailgun-style webhook for every accepted message (delivered, bounced or
 * complained), so the whole loop — send, event, suppression — runs offline.
 */
export class WebhookPoster {
  sent = 0;
  failed = 0;
  private readonly pool: Pool;
  private readonly path: string;

  constructor(private readonly options: MockWebhookOptions) {
    const url = new URL(options.url);
    this.pool = new Pool(url.origin, { connections: 16 });
    this.path = `${url.pathname}${url.search}`;
  }

  post(message: AcceptedMessage): void {
    for (const recipient of message.to) {
      const roll = Math.random();
      const kind =
        roll < this.options.bounceRate
          ? { event: 'failed', severity: 'permanent', reason: 'bounce', 'delivery-status': { code: 550, message: 'mailbox does not exist' } }
          : roll < this.options.bounceRate + this.options.complaintRate
            ? { event: 'complained' }
            : { event: 'delivered', 'delivery-status': { code: 250, message: 'OK' } };
      const timestamp = String(Math.floor(Date.now() / 1000));
      const token = randomBytes(25).toString('hex');
      const body = JSON.stringify({
        signature: { timestamp, token, signature: signWebhook(this.options.signingKey, timestamp, token) },
        'event-data': {
          ...kind,
          id: randomBytes(11).toString('base64url'),
          timestamp: Date.now() / 1000,
          recipient,
          'recipient-domain': recipient.split('@')[1] ?? '',
          message: { headers: { 'message-id': message.id.slice(1, -1), to: recipient, subject: message.subject } },
          tags: message.tags,
          'user-variables': message.userVariables,
        },
      });
      this.pool
        .request({ path: this.path, method: 'POST', headers: { 'content-type': 'application/json' }, body })
        .then(async (res) => {
          await res.body.dump();
          if (res.statusCode === 200) this.sent++;
          else this.failed++;
        })
        .catch(() => {
          this.failed++;
        });
    }
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
