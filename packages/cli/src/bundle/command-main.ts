/** What each dist/memhp-<module>.cjs bundle runs (see memhp.ts): the same as src/bin.ts after --version. */
import { main } from '../program.js';
import { installProcessHandlers } from '../lifecycle.js';

export async function run(): Promise<void> {
  // Signals stop a run at an event boundary; a closed stdout (`| head`) ends any command quietly.
  installProcessHandlers();
  // Let stdout drain (pipes) before exiting with the code.
  process.exitCode = await main(process.argv);
}
