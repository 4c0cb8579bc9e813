import { credentialsMigration } from './0001-credentials.js';
import { pushMigration } from './push.js';
import { pushRunOwnerMigration } from './push-run-owner.js';
import { quarantineDismissMigration } from './quarantine-dismiss.js';
import { serverMigration } from './server.js';
import type { Migration } from './types.js';
import { webhooksMigration } from './webhooks.js';

export type { Migration } from './types.js';

/** Every control-store migration; one line per feature. Applied in id order, whatever the order here. */
export const migrations: readonly Migration[] = [
  credentialsMigration,
  serverMigration,
  pushMigration,
  pushRunOwnerMigration,
  quarantineDismissMigration,
  webhooksMigration,
];
