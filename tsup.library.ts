import { defineConfig, type Options } from 'tsup';

/**
 * The build every published library package shares: ES modules for Node 20, type declarations for the same
 * entries, source maps, a clean dist. A package names its entries and, where it must, what differs.
 */
export function libraryConfig(entry: string[], extra: Options = {}) {
  return defineConfig({
    entry,
    format: ['esm'],
    dts: { entry },
    sourcemap: true,
    clean: true,
    target: 'node20',
    ...extra,
  });
}
