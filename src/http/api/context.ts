import type { Config } from '../../config.js';
import type { Db } from '../../db/connect.js';

/** What the API's handlers need. */
export interface ApiContext {
  db: Db;
  config: Config;
}
