import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Options } from 'tsup';

type EsbuildPlugin = NonNullable<Options['esbuildPlugins']>[number];

/**
 * rxjs's exports send Node to its CommonJS build, one module per operator, all evaluated at load; its ES module
 * build lets the bundler keep only what @memhp/events uses (its package exports do not name that file, hence
 * the path). rxjs is resolved from @memhp/events, the package that depends on it.
 */
const rxjsEsm: EsbuildPlugin = {
  name: 'memhp-rxjs-esm',
  setup(build) {
    const fromEvents = createRequire(createRequire(import.meta.url).resolve('@memhp/events/package.json'));
    const esm = join(dirname(fromEvents.resolve('rxjs/package.json')), 'dist', 'esm', 'index.js');
    build.onResolve({ filter: /^rxjs$/ }, () => ({ path: esm }));
  },
};

/**
 * @memhp/events' imports of TypeBox's compiler, interpreter and errors go to src/bundle/typebox-lazy.ts, which loads
 * them (dist/typebox-full.cjs, built below) on first use: reading a valid log uses the checks generated at build
 * (src/generated/event-checks.ts), and `plan`, `check` read none, so most commands never parse those ~110 KB.
 * Only @memhp/events' imports: the scenario loader (`memhp run`) uses TypeBox's errors on every run.
 */
const lazyTypeboxForEvents: EsbuildPlugin = {
  name: 'memhp-lazy-typebox',
  setup(build) {
    const lazy = fileURLToPath(new URL('./src/bundle/typebox-lazy.ts', import.meta.url));
    build.onResolve({ filter: /^@sinclair\/typebox\/(compiler|errors|value)$/ }, (args) =>
      /[/\\]packages[/\\]events[/\\]src[/\\]/.test(args.importer) ? { path: lazy } : undefined,
    );
  },
};

type Plugin = NonNullable<Options['plugins']>[number];

/**
 * commander requires node:child_process at load, for executable subcommands (memhp has none); loading it pulls
 * in net, stream and more, tens of ms of a ~100 ms start. In the bundle, commander gets a stand-in that loads
 * the real module on first property access. (tsup marks built-ins external before an esbuild plugin sees them,
 * so this rewrites the emitted chunk.)
 */
const EAGER_CHILD_PROCESS = 'var childProcess = __require("child_process");';
const lazyChildProcessForCommander: Plugin = {
  name: 'memhp-lazy-child-process',
  renderChunk(code) {
    if (!code.includes(EAGER_CHILD_PROCESS)) return undefined;
    return {
      code: code.replace(EAGER_CHILD_PROCESS, 'var childProcess = new Proxy({}, { get: (_target, key) => __require("child_process")[key] });'),
    };
  },
};

export default defineConfig([
  // The library entry (@memhp/cli as a package): its dependencies stay external, as a library's should.
  {
    entry: ['src/index.ts'],
    format: ['esm'],
    dts: { entry: ['src/index.ts'] },
    sourcemap: true,
    clean: false,
    target: 'node20',
  },
  // The `memhp` binary, bundled for start-up: Node 20 spends most of a short command resolving and reading
  // hundreds of small files (rxjs's CommonJS build alone is ~400), so the binary is a few chunks instead,
  // one per command plus what they share, built from the workspace packages' sources (tree-shaken by module).
  // DuckDB stays external: a native addon, loaded only by `memhp query`.
  {
    entry: { bin: 'src/bin.ts', 'query-worker': 'src/query-worker.ts' },
    format: ['esm'],
    outDir: 'dist',
    splitting: true,
    sourcemap: true,
    clean: false,
    target: 'node20',
    platform: 'node',
    noExternal: [/^@memhp\//, 'rxjs', /^@sinclair\/typebox/, 'commander', 'yaml', 'picocolors', 'cli-table3', 'cli-progress'],
    external: ['@duckdb/node-api'],
    plugins: [lazyChildProcessForCommander],
    esbuildPlugins: [rxjsEsm, lazyTypeboxForEvents],
    esbuildOptions(options) {
      options.conditions = ['@memhp/source'];
    },
    // Bundled CommonJS dependencies call require() for Node built-ins; an ES module has none of its own.
    banner: { js: "import { createRequire as __memhpCreateRequire } from 'node:module';\nconst require = __memhpCreateRequire(import.meta.url);" },
  },
  // TypeBox's compiler, interpreter and errors in one CommonJS file, required on first use (lazyTypeboxForEvents).
  {
    entry: { 'typebox-full': 'src/bundle/typebox-full.ts' },
    format: ['cjs'],
    outDir: 'dist',
    clean: false,
    target: 'node20',
    platform: 'node',
    noExternal: [/^@sinclair\/typebox/],
  },
]);
