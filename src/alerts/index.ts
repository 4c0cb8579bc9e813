export * from './channels.js';
export * from './notifier.js';
export * from './rules.js';
