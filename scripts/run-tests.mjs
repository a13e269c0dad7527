#!/usr/bin/env node
// Runs the compiled test files with Node's built-in test runner.
//   node scripts/run-tests.mjs            every test (unit and end-to-end)
//   node scripts/run-tests.mjs --unit     only tests under dist/src (fast, no real components)
//   node scripts/run-tests.mjs PATTERN    only test files whose path contains PATTERN
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const unit = args.includes('--unit');
const patterns = args.filter((a) => !a.startsWith('--'));

function walk(dir, out = []) {
  let names;
  try { names = readdirSync(dir); } catch { return out; }
  for (const n of names) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (n.endsWith('.test.js')) out.push(p);
  }
  return out;
}

let files = walk('dist/src');
if (!unit) files = files.concat(walk('dist/test'));
if (patterns.length) files = files.filter((f) => patterns.some((p) => f.includes(p)));
files.sort();
if (!files.length) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}
// Test files share the machine's runc, iptables and ports: run them one at a time.
const r = spawnSync(process.execPath,
  ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
  { stdio: 'inherit', env: { ...process.env, SKIFF_TEST: '1' } });
process.exit(r.status ?? 1);
