/**
 * In the `memhp` binary, @memhp/events imports TypeBox's compiler, interpreter and errors from here (tsup.config.ts
 * redirects them): the real ones (~110 KB of JS) load on first use, from one file, synchronously as the catalogue's
 * API is. A valid log read with the generated checks (src/generated/event-checks.ts) never uses them; a bad one
 * does, for its located message; `plan` and `check` never read a log.
 */
import { createRequire } from 'node:module';
import type * as TypeboxFull from './typebox-full.js';

type Full = typeof TypeboxFull;

let full: Full | undefined;
const load = (): Full => (full ??= createRequire(import.meta.url)('./typebox-full.cjs') as Full);

export const TypeCompiler: Full['TypeCompiler'] = new Proxy({} as Full['TypeCompiler'], {
  get: (_target, key) => load().TypeCompiler[key as keyof Full['TypeCompiler']],
});

export const Errors = ((...args: unknown[]) => (load().Errors as (...a: unknown[]) => unknown)(...args)) as Full['Errors'];

export const Check = ((...args: unknown[]) => (load().Check as (...a: unknown[]) => unknown)(...args)) as Full['Check'];
