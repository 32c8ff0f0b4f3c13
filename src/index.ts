export * from './core/errors.js';
export type * from './routers/types.js';
