// Prints the plain line CI reads ("N passed, N failed, N skipped") from vitest's JSON report, so that the line
// and the exit status always agree:
// - a test that did not run because its file failed (a beforeAll that throws, a file that fails to load, an
//   afterAll that throws) counts as failed, not skipped; a failed file with no test to blame counts as one failure;
// - an error outside every test (an unhandled error: the report says success: false) counts as one failure;
// - with `--exit-code N` (vitest's exit status), a non-zero status with nothing else failed counts as one failure.
// Skipped means skipped on purpose (it.skip, it.todo, a skipIf) in a file that ran. What made each extra
// failure is written to stderr.
//
// Usage: node scripts/summarize-vitest.mjs [.vitest.json] [--exit-code N]
//        node scripts/summarize-vitest.mjs --sum "<line>" "<line>" …   (adds up summary lines)
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/**
 * Counts from a vitest JSON report (and vitest's exit status when known).
 * @returns {{ passed: number, failed: number, skipped: number, notes: string[] }}
 */
export function summarize(report, exitCode = null) {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const notes = [];
  for (const file of report.testResults ?? []) {
    const tests = file.assertionResults ?? [];
    const fileFailed = file.status === 'failed';
    let notRun = 0;
    let failedHere = 0;
    for (const t of tests) {
      if (t.status === 'passed') passed += 1;
      else if (t.status === 'failed') failedHere += 1;
      else if (fileFailed) notRun += 1;
      else skipped += 1;
    }
    failed += failedHere + notRun;
    if (fileFailed) {
      const why = String(file.message ?? '').split('\n')[0] || 'no message';
      if (notRun > 0) notes.push(`${file.name}: ${notRun} test(s) did not run (${why})`);
      else if (failedHere === 0) {
        failed += 1;
        notes.push(`${file.name}: the file failed outside its tests (${why})`);
      }
    }
  }
  if (failed === 0 && report.success === false) {
    failed = 1;
    notes.push('vitest reports an error outside every test (e.g. an unhandled error): see its output');
  }
  if (failed === 0 && exitCode !== null && exitCode !== 0) {
    failed = 1;
    notes.push(`vitest exited with status ${exitCode} though no test failed: see its output`);
  }
  return { passed, failed, skipped, notes };
}

export const line = ({ passed, failed, skipped }) => `${passed} passed, ${failed} failed, ${skipped} skipped`;

/** Parses "N passed, N failed[, N skipped]"; null when the text is not such a line. */
export function parseLine(text) {
  const m = /^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$/.exec(text.trim());
  return m ? { passed: Number(m[1]), failed: Number(m[2]), skipped: Number(m[3] ?? 0) } : null;
}

/** Adds up summary lines; a missing or malformed one counts as one failure. */
export function sumLines(lines) {
  const total = { passed: 0, failed: 0, skipped: 0 };
  for (const l of lines) {
    const c = parseLine(l ?? '') ?? { passed: 0, failed: 1, skipped: 0 };
    total.passed += c.passed;
    total.failed += c.failed;
    total.skipped += c.skipped;
  }
  return total;
}

function main(argv) {
  if (argv[0] === '--sum') {
    console.log(line(sumLines(argv.slice(1))));
    return;
  }
  let file = '.vitest.json';
  let exitCode = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--exit-code') exitCode = Number(argv[++i]);
    else file = argv[i];
  }
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    // no report at all: vitest did not get as far as writing one
    console.error(`summarize-vitest: cannot read ${file}: ${err.message}`);
    console.log(line({ passed: 0, failed: 1, skipped: 0 }));
    return;
  }
  const s = summarize(report, exitCode);
  for (const n of s.notes) console.error(`summarize-vitest: ${n}`);
  console.log(line(s));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main(process.argv.slice(2));
