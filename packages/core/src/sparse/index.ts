export * from './section.js';
export * from './sparse.js';
