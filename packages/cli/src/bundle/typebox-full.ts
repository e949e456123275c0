/**
 * TypeBox's schema compiler, interpreter and error reporter, built as one CommonJS file (dist/typebox-full.cjs)
 * that typebox-lazy.ts loads synchronously on first use. Only the binary's bundle uses it; see tsup.config.ts.
 */
export { TypeCompiler } from '@sinclair/typebox/compiler';
export { Errors } from '@sinclair/typebox/errors';
export { Check } from '@sinclair/typebox/value';
