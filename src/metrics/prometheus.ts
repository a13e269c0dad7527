/**
 * A reader of the Prometheus text exposition format (version 0.0.4), enough for what node
 * agents serve: `name{label="value",...} value [timestamp_ms]` lines, comments skipped, label
 * values unescaped (\\, \", \n), values as Go writes them (+Inf, -Inf, NaN, exponents).
 */

/** One sample. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  /** Milliseconds since the epoch, when the line carries one. */
  timestamp?: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

function parseValue(s: string): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  const v = Number(s);
  if (s === '' || Number.isNaN(v)) throw new Error(`bad value ${JSON.stringify(s)}`);
  return v;
}

/** Parses one sample line; throws with the reason on a malformed one. */
export function parseLine(line: string): Sample {
  const m = NAME.exec(line);
  if (!m) throw new Error('expected a metric name');
  const name = m[0];
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ' || line[i] === ',') i++;
      if (line[i] === '}') { i++; break; }
      const lm = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
      if (!lm) throw new Error('expected a label name');
      i += lm[0].length;
      if (line[i] !== '=' || line[i + 1] !== '"') throw new Error(`expected ="..." after label ${lm[0]}`);
      i += 2;
      let v = '';
      for (; i < line.length && line[i] !== '"'; i++) {
        if (line[i] === '\\') {
          const n = line[++i];
          v += n === 'n' ? '\n' : n;
        } else v += line[i];
      }
      if (line[i] !== '"') throw new Error('unterminated label value');
      i++;
      labels[lm[0]] = v;
    }
  }
  const rest = line.slice(i).trim().split(/\s+/);
  if (!rest[0]) throw new Error('expected a value');
  const sample: Sample = { name, labels, value: parseValue(rest[0]) };
  if (rest[1] !== undefined) {
    const t = Number(rest[1]);
    if (!Number.isInteger(t)) throw new Error(`bad timestamp ${JSON.stringify(rest[1])}`);
    sample.timestamp = t;
  }
  return sample;
}

/** Every sample of a text exposition; throws "line N: reason" on the first malformed line. */
export function parsePrometheusText(text: string): Sample[] {
  const out: Sample[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (!line || line.startsWith('#')) continue;
    try {
      out.push(parseLine(line));
    } catch (err) {
      throw new Error(`line ${n + 1}: ${(err as Error).message}`);
    }
  }
  return out;
}
