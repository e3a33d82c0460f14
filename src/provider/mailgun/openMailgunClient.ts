import { requireMailgun, type Config } from '../../config/config.js';
import { MailgunClient } from './client.js';

export function openMailgunClient(config: Config, concurrency = 4, timeoutMs = 10_000): MailgunClient {
  return new MailgunClient({ ...requireMailgun(config), connections: concurrency, timeoutMs });
}
