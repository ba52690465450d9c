// Run export and import (docs/run-export.md): one zip per run, checked whole before it is written.
export * from './format.js';
export * from './export.js';
export * from './open-archive.js';
export * from './import.js';
export { verifyRunLog } from './verify-log.js';
export { IdRenamer } from './remap.js';
