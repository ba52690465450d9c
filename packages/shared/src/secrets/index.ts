export * from './envelope.js';
export * from './keyring.js';
export * from './secret-store.js';
export * from './configured.js';
