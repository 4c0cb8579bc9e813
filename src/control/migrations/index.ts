import { credentialsMigration } from './0001-credentials.js';
import { serverMigration } from './0050-server.js';
import { runAnalyticsMigration } from './0051-run-analytics.js';
import { runWorkerMigration } from './0052-run-worker.js';
import { alertsMigration } from './0060-alerts.js';
import { pushMigration } from './0300-push.js';
import { pushRunOwnerMigration } from './0301-push-run-owner.js';
import { quarantineDismissMigration } from './0302-quarantine-dismiss.js';
import { quarantineInputKeyMigration } from './0303-quarantine-input-key.js';
import { quarantineRawClearedMigration } from './0304-quarantine-raw-cleared.js';
import { pushRunHeartbeatMigration } from './0305-push-run-heartbeat.js';
import { runCancelMigration } from './0420-run-cancel.js';
import { pushLedgerAccountMigration } from './0430-push-ledger-account.js';
import { quarantineAccountMigration } from './0440-quarantine-account.js';
import { flowPauseMigration } from './0450-flow-pause.js';
import type { Migration } from './types.js';
import { webhooksMigration } from './webhooks.js';

export type { Migration } from './types.js';

/**
 * Every control-store migration; one file each, named by the id that orders it, and one line here.
 * Applied in id order, whatever the order here.
 */
export const migrations: readonly Migration[] = [
  credentialsMigration,
  serverMigration,
  runAnalyticsMigration,
  runWorkerMigration,
  alertsMigration,
  pushMigration,
  pushRunOwnerMigration,
  quarantineDismissMigration,
  quarantineInputKeyMigration,
  quarantineRawClearedMigration,
  pushRunHeartbeatMigration,
  runCancelMigration,
  pushLedgerAccountMigration,
  quarantineAccountMigration,
  flowPauseMigration,
  webhooksMigration,
];
