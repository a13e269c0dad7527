/**
 * The SQLite backend's table and prepared statements, after kine: one row per write, the row
 * id IS the revision, a delete writes a tombstone row, and `prev_revision` links a row to
 * the key's previous row (so a watcher gets prevKv by a join, and compaction knows which
 * rows a later write superseded). See docs/store.md.
 */
import type { Database, Statement } from 'better-sqlite3';
import type { KeyValue } from './types.js';

/** The schema; `created` marks a key's first row, `deleted` a tombstone (empty value). */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  created INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  create_revision INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL,
  value BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
`;

/** A row of `kv` as better-sqlite3 returns it. */
export interface Row {
  id: number;
  name: string;
  created: number;
  deleted: number;
  create_revision: number;
  prev_revision: number;
  value: Buffer;
}

/** A history row joined with the row it superseded (p*: absent for creates). */
export interface HistoryRow extends Row {
  pid: number | null;
  pcr: number | null;
  pvalue: Buffer | null;
}

/** Byte-order range bounds of a prefix: keys k with lo <= k < hi (hi is raw bytes, cast to TEXT in SQL). */
export function prefixRange(prefix: string): [string, Buffer] {
  if (prefix === '') return ['', Buffer.from([0xff])]; // 0xff never occurs in UTF-8
  const hi = Buffer.from(prefix, 'utf8');
  hi[hi.length - 1]++; // the last byte of valid UTF-8 is at most 0xbf, so no carry
  return [prefix, hi];
}

/** The KeyValue a live row stands for. */
export function rowKv(r: Pick<Row, 'id' | 'name' | 'create_revision' | 'value'>): KeyValue {
  return { key: r.name, value: r.value, createRevision: r.create_revision, modRevision: r.id };
}

/** Every statement the backend runs, prepared once. */
export interface Statements {
  latest: Statement<[string]>;
  latestAt: Statement<[string, number]>;
  list: Statement<[string, string, Buffer, number, number]>;
  count: Statement<[string, Buffer, number]>;
  insert: Statement<[number, string, number, number, number, number, Buffer]>;
  history: Statement<[number, number, string, Buffer]>;
  sequence: Statement<[]>;
  metaGet: Statement<[string]>;
  metaSet: Statement<[string, number]>;
  compactSuperseded: Statement<[number, number]>;
  compactTombstones: Statement<[number, number]>;
}

/** Prepares the statements on an open database whose schema exists. */
export function prepare(db: Database): Statements {
  const latestIds = `SELECT MAX(id) AS mid FROM kv WHERE name >= ? AND name < CAST(? AS TEXT) AND id <= ? GROUP BY name`;
  return {
    latest: db.prepare('SELECT * FROM kv WHERE name = ? ORDER BY id DESC LIMIT 1'),
    latestAt: db.prepare('SELECT * FROM kv WHERE name = ? AND id <= ? ORDER BY id DESC LIMIT 1'),
    // startKey, then the prefix range: the newest row of each key at the revision, tombstones dropped.
    // (The inner GROUP BY already walks the index in key order, so ordering by m.n needs no sort.)
    list: db.prepare(`SELECT kv.* FROM (
        SELECT name AS n, MAX(id) AS mid FROM kv WHERE name >= ? AND name >= ? AND name < CAST(? AS TEXT) AND id <= ? GROUP BY name ORDER BY name
      ) m CROSS JOIN kv ON kv.id = m.mid WHERE kv.deleted = 0 ORDER BY m.n LIMIT ?`),
    count: db.prepare(`SELECT COUNT(*) AS n FROM kv JOIN (${latestIds}) m ON kv.id = m.mid WHERE kv.deleted = 0`),
    insert: db.prepare(`INSERT INTO kv (id, name, created, deleted, create_revision, prev_revision, value)
      VALUES (?, ?, ?, ?, ?, ?, ?)`),
    // Rows in an id window under a prefix, with the value each one replaced (for prevKv).
    history: db.prepare(`SELECT kv.*, p.id AS pid, p.create_revision AS pcr, p.value AS pvalue FROM kv
      LEFT JOIN kv p ON p.id = kv.prev_revision AND kv.created = 0
      WHERE kv.id > ? AND kv.id <= ? AND kv.name >= ? AND kv.name < CAST(? AS TEXT) ORDER BY kv.id`),
    sequence: db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'kv'`),
    metaGet: db.prepare('SELECT v FROM meta WHERE k = ?'),
    metaSet: db.prepare('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v'),
    // A row is history once a later row at or below the compact revision replaced it...
    compactSuperseded: db.prepare(`DELETE FROM kv WHERE id IN (
      SELECT prev_revision FROM kv WHERE id > ? AND id <= ? AND prev_revision != 0)`),
    // ...and a tombstone at or below it says nothing a missing row does not.
    compactTombstones: db.prepare('DELETE FROM kv WHERE id > ? AND id <= ? AND deleted = 1'),
  };
}
