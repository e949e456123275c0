import { defineConfig } from 'tsup';

/** The scale bench as one bundle with core and events (from source), run by plain node (see scale.ts). */
export default defineConfig({
  entry: { scale: 'bench/scale.ts' },
  format: ['esm'],
  outDir: 'bench/.out',
  dts: false,
  sourcemap: false,
  clean: true,
  target: 'node20',
  platform: 'node',
  noExternal: [/^@memhp\//],
  splitting: false,
  esbuildOptions(o) {
    o.conditions = ['@memhp/source'];
  },
});
