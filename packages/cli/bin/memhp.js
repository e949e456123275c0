#!/usr/bin/env node
// The `memhp` command's launcher. It is committed (not built) so that the package manager can link the command
// when the workspace is installed, before the build has written dist/; it only loads the built binary
// (dist/memhp.cjs, CommonJS: see src/bundle/memhp.ts).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/memhp.cjs', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(
    'memhp: the command is not built yet (packages/cli/dist/memhp.cjs is missing).\n' +
      'Build it from the repository root with: pnpm turbo run build --filter=@memhp/cli\n',
  );
  process.exit(2);
}
createRequire(import.meta.url)(fileURLToPath(entry));
