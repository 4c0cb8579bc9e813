export { ACTIONS, isAppliedAction } from './actions.js';
export { type ApplierOptions, type InfoCaller, type SettledEvent, WebhookApplier } from './applier.js';
export {
  INBOX_TABLE,
  type Inbox,
  type InboxEvent,
  type InboxStats,
  type InboxStatus,
  inboxFor,
  JSONL_INBOX_FILE,
  PostgresInbox,
  SqliteInbox,
} from './inbox.js';
export {
  type Delivery,
  MAX_BODY_BYTES,
  RECEIVER_PATH,
  type ReceiveAnswer,
  type ReceiveOptions,
  type RunningReceiver,
  receiveDelivery,
  startReceiver,
} from './receiver.js';
export { SIGNATURE_HEADER, signatureProblem, signBody } from './signature.js';
