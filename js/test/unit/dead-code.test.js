'use strict';
// The build-time form docs/miniprogram.md gives for bundler projects (Taro, uni-app): a
// production build leaves nothing of the package, a development build keeps it. Bundled with
// rollup, which Vite (and so uni-app) builds with; the package's `sideEffects: false` is what
// lets the unused import go.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ENTRY = `import { install } from 'wx-login-kit';
if (process.env.NODE_ENV === 'development') install({ mock: 'http://127.0.0.1:9100', user: 'alice' });
App({ onLaunch() {} });
`;

async function bundle(env) {
  const { rollup } = await import('rollup');
  const { default: commonjs } = await import('@rollup/plugin-commonjs');
  const { default: resolve } = await import('@rollup/plugin-node-resolve');
  const { default: replace } = await import('@rollup/plugin-replace');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wx-login-kit-dce-'));
  try {
    const entry = path.join(dir, 'app.mjs');
    fs.writeFileSync(entry, ENTRY);
    // The package in the project's node_modules, as `npm install` puts it.
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(path.resolve(__dirname, '../..'), path.join(dir, 'node_modules', 'wx-login-kit'), 'dir');
    const build = await rollup({
      input: entry,
      onwarn: () => {},
      plugins: [
        replace({ preventAssignment: true, values: { 'process.env.NODE_ENV': JSON.stringify(env) } }),
        resolve(),
        commonjs(),
      ],
    });
    const { output } = await build.generate({ format: 'cjs' });
    return output[0].code;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('a production build drops the install and the whole package', async () => {
  const code = await bundle('production');
  assert.doesNotMatch(code, /__mock__|wx-login-kit|127\.0\.0\.1/);
  assert.match(code, /App\(/);
});

test('a development build keeps it', async () => {
  const code = await bundle('development');
  assert.match(code, /__mock__/);
  assert.match(code, /http:\/\/127\.0\.0\.1:9100/);
});
