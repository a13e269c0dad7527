/**
 * Unit tests of the cgroup statistics reader against fixture trees (testdata/): cgroup v1
 * (per-controller hierarchies) and v2 (unified), a container's cgroup and the root cgroup
 * (the machine), working set = usage − inactive file pages as cadvisor computes it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseKeyed, readCgroupStats, workingSet } from './cgroups.js';

/** The fixtures stay in the source tree (this file runs from dist/src/engine/container). */
const TESTDATA = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../src/engine/container/testdata');

test('cgroup v1: a container\'s CPU, memory usage, working set, RSS, faults, limit and pids', async () => {
  const s = await readCgroupStats({ base: path.join(TESTDATA, 'v1'), mode: 'v1', path: '/skiff/c1' });
  assert.deepEqual(s, {
    cpuNs: 2_500_000_000, memoryUsage: 10_485_760, memoryBytes: 10_485_760 - 2_097_152, rssBytes: 7_929_856,
    pageFaults: 4321, majorPageFaults: 2, memoryLimit: 67_108_864, pids: 3, found: true,
  });
});

test('cgroup v1 root: the whole machine (total_ counters; the "no limit" number is Infinity)', async () => {
  const s = await readCgroupStats({ base: path.join(TESTDATA, 'v1'), mode: 'v1', path: '/' });
  assert.equal(s.cpuNs, 370_973_014_639);
  assert.equal(s.memoryUsage, 1_079_037_952);
  assert.equal(s.memoryBytes, 1_079_037_952 - 592_580_608);
  assert.equal(s.rssBytes, 118_280_192);
  assert.equal(s.memoryLimit, Infinity);
  assert.equal(s.pids, 0, 'no pids.current at the v1 root');
});

test('cgroup v2: a container (cpu.stat usage_usec, memory.current − inactive_file, "max" limit)', async () => {
  const s = await readCgroupStats({ base: path.join(TESTDATA, 'v2'), mode: 'v2', path: '/skiff/c1' });
  assert.deepEqual(s, {
    cpuNs: 1_250_000_000, memoryUsage: 20_971_520, memoryBytes: 20_971_520 - 4_194_304, rssBytes: 15_728_640,
    pageFaults: 5120, majorPageFaults: 1, memoryLimit: Infinity, pids: 2, found: true,
  });
});

test('cgroup v2 root: no memory.current there, usage is anon + file from memory.stat (as runc)', async () => {
  const s = await readCgroupStats({ base: path.join(TESTDATA, 'v2'), mode: 'v2', path: '/' });
  assert.equal(s.cpuNs, 365_549_947_000);
  assert.equal(s.memoryUsage, 118_280_192 + 960_954_368);
  assert.equal(s.memoryBytes, 118_280_192 + 960_954_368 - 592_580_608);
});

test('a cgroup that is gone reads as zeros, found false', async () => {
  for (const mode of ['v1', 'v2'] as const) {
    const s = await readCgroupStats({ base: path.join(TESTDATA, mode), mode, path: '/skiff/gone' });
    assert.equal(s.found, false, mode);
    assert.equal(s.cpuNs + s.memoryBytes + s.memoryUsage, 0, mode);
  }
});

test('working set never goes below zero; keyed files parse to numbers', () => {
  assert.equal(workingSet(100, 30), 70);
  assert.equal(workingSet(100, 300), 0);
  assert.equal(workingSet(100, undefined), 100);
  assert.deepEqual(parseKeyed('usage_usec 12\nuser_usec 7\n\n  nr_periods   3  \n'), { usage_usec: 12, user_usec: 7, nr_periods: 3 });
});
