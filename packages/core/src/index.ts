export * from './kernel/errno.js';
export * from './kernel/version.js';
export * from './arch/backend.js';
export * from './api.js';
export * from './params/types.js';
