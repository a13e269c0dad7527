/**
 * Durability of the SQLite store: a child process writes (10 in flight, creates plus CAS
 * updates of a counter, with compactions now and then) and prints every acknowledged write;
 * the test SIGKILLs it at a random point, reopens the file, and checks that every
 * acknowledged write is there. Three rounds on the same file.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { openSqliteBackend } from '../src/store/sqlite.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'skiff-store-dur-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const writer = (file: string, round: number) => `
import { openSqliteBackend } from ${JSON.stringify(new URL('../src/store/sqlite.js', import.meta.url).href)};
const s = await openSqliteBackend(${JSON.stringify(file)}, { compactIntervalMs: 0 });
let i = 0;
const counter = async () => {
  for (;;) {
    const { kv } = await s.get('/count');
    const n = kv ? Number(kv.value.toString()) + 1 : 1;
    try {
      const r = kv ? await s.update('/count', Buffer.from(String(n)), kv.modRevision) : await s.create('/count', Buffer.from('1'));
      process.stdout.write('count ' + n + ' ' + r.revision + '\\n');
    } catch (e) { if (e.code !== 'CONFLICT' && e.code !== 'ALREADY_EXISTS') throw e; }
  }
};
const creates = async () => {
  for (;;) {
    const key = '/obj/${round}/' + (i++);
    const r = await s.create(key, Buffer.from(key));
    process.stdout.write('key ' + key + ' ' + r.revision + '\\n');
    if (r.revision % 500 === 0) s.compact(r.revision - 200).catch(() => {});
  }
};
await Promise.all([counter(), counter(), ...Array.from({ length: 8 }, creates)]);
`;

/** Runs one writer, kills it after `acks` acknowledged writes, returns the complete ack lines. */
function runAndKill(file: string, round: number, acks: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', writer(file, round)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let killed = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (!killed && out.split('\n').length > acks) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited ${code}: ${err}`));
      const lines = out.split('\n');
      lines.pop(); // a line cut by the kill was never a complete acknowledgement
      resolve(lines);
    });
  });
}

test('sqlite: every acknowledged write survives SIGKILL (3 rounds)', async () => {
  const file = path.join(dir, 'state.db');
  let maxCount = 0;
  const keys = new Map<string, number>();
  for (let round = 0; round < 3; round++) {
    const lines = await runAndKill(file, round, 300 + Math.floor(Math.random() * 1500));
    for (const l of lines) {
      const [kind, what, rev] = l.split(' ');
      if (kind === 'key') keys.set(what, Number(rev));
      else maxCount = Math.max(maxCount, Number(what));
    }
    const s = await openSqliteBackend(file, { compactIntervalMs: 0 });
    try {
      const cur = await s.currentRevision();
      for (const [key, rev] of keys) {
        const { kv } = await s.get(key);
        assert.ok(kv, `acknowledged ${key} (revision ${rev}) is missing after kill -9 in round ${round}`);
        assert.equal(kv.modRevision, rev);
        assert.ok(cur >= rev);
      }
      const count = Number((await s.get('/count')).kv?.value.toString() ?? 0);
      assert.ok(count >= maxCount, `counter is ${count}, but ${maxCount} was acknowledged`);
      assert.ok(keys.size > 0 && maxCount > 0, 'the writer made progress');
    } finally {
      await s.close();
    }
  }
});
