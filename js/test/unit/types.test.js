'use strict';
// index.d.ts and node/index.d.ts: test/types/usage.ts compiles under strict TypeScript, and its
// `@ts-expect-error` lines (what the types must refuse) really are errors.

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');

test('the declarations type-check what the README shows and refuse mistakes', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const project = path.join(__dirname, '..', 'types', 'tsconfig.json');
  try {
    execFileSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8', stdio: 'pipe' });
  } catch (e) {
    assert.fail(`tsc found errors:\n${e.stdout}${e.stderr}`);
  }
});
