#!/usr/bin/env node
// The `memhp` command's launcher. It is committed (not built) so that the package manager can link the command
// when the workspace is installed, before the build has written dist/; it only loads the built binary
// (dist/memhp.cjs, see src/bundle/memhp.ts). CommonJS like the binary, so a start never goes through Node's ES
// module loader.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const entry = join(__dirname, '..', 'dist', 'memhp.cjs');
if (!existsSync(entry)) {
  process.stderr.write(
    'memhp: the command is not built yet (packages/cli/dist/memhp.cjs is missing).\n' +
      'Build it from the repository root with: pnpm turbo run build --filter=@memhp/cli\n',
  );
  process.exit(2);
}
require(entry);
