import pg from 'pg';
import type { Db } from './connect.js';

/**
 * Subscribes to a Postgres NOTIFY channel. On real Postgres it holds one dedicated
 * connection and re-subscribes after the connection drops (notifications sent meanwhile
 * are lost, which is why callers also poll). Returns the unsubscribe function.
 */
export async function listen(db: Db, channel: string, onPayload: (payload: string) => void, onError: (err: Error) => void): Promise<() => Promise<void>> {
  if (db.pglite) {
    return db.pglite.listen(channel, onPayload);
  }
  const pool = db.pool!;
  let client: pg.PoolClient | null = null;
  let stopped = false;
  let retry: NodeJS.Timeout | null = null;

  const subscribe = async (): Promise<void> => {
    try {
      const c = await pool.connect();
      client = c;
      c.on('notification', (msg) => {
        if (msg.channel === channel) onPayload(msg.payload ?? '');
      });
      c.on('error', (err) => {
        onError(err);
        drop(c, err);
      });
      await c.query(`listen ${pg.Client.prototype.escapeIdentifier(channel)}`);
    } catch (err) {
      onError(err as Error);
      if (client) drop(client, err as Error);
      else scheduleRetry();
    }
  };
  const drop = (c: pg.PoolClient, err: Error): void => {
    if (client !== c) return;
    client = null;
    c.release(err);
    scheduleRetry();
  };
  const scheduleRetry = (): void => {
    if (stopped || retry) return;
    retry = setTimeout(() => {
      retry = null;
      void subscribe();
    }, 1000);
  };

  await subscribe();
  return async () => {
    stopped = true;
    if (retry) clearTimeout(retry);
    const c = client;
    client = null;
    if (c) {
      await c.query(`unlisten ${pg.Client.prototype.escapeIdentifier(channel)}`).catch(() => undefined);
      c.release();
    }
  };
}
