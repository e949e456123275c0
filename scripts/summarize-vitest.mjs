// Prints the plain closing line CI reads ("N passed, N failed") from vitest's JSON report.
// A test file that fails to load has no assertions but must still count as a failure.
import { readFileSync } from 'node:fs';
const r = JSON.parse(readFileSync(process.argv[2] ?? '.vitest.json', 'utf8'));
const loadFailures = r.testResults.filter((t) => t.status === 'failed' && t.assertionResults.length === 0).length;
const failed = r.numFailedTests + loadFailures;
const skipped = r.numPendingTests + r.numTodoTests;
console.log(`${r.numPassedTests} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ''));
