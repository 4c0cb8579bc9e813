import type { Migration } from './types.js';

const SQL = `
ALTER TABLE push_quarantine ADD COLUMN account TEXT NOT NULL DEFAULT '';
CREATE INDEX push_quarantine_account_key ON push_quarantine (account, operation, record_key, status);
CREATE INDEX push_quarantine_account_input ON push_quarantine (account, operation, input_key, status);
`;

/**
 * Quarantine entries belong to the Ashby account the push that quarantined them wrote to (`account`, as
 * in the push ledger, see `0430-push-ledger-account`): two accounts quarantining the same record key
 * each get an entry, a push to one account closes only its own entries, and an entry is replayed only
 * to its account.
 *
 * Entries written before have no account and get `''`, the shared scope: which account their push wrote
 * to was never recorded, so they behave as before — a push to any account that applies the record at
 * their place closes them, a replay through any account may send them, and the first account that
 * quarantines the same record again takes the entry over (the record failed under that account).
 */
export const quarantineAccountMigration: Migration = {
  id: '0440-quarantine-account',
  up: SQL,
  // Plain SQL that both dialects accept.
  postgres: SQL,
};
