/**
 * Progress of blob transfers: a bar per layer (cli-progress) when the output is a terminal,
 * plain lines ("Copying blob sha256:abc123 done") when it is not, or nothing when quiet.
 */
import cliProgress from 'cli-progress';

/** Receives transfer events; implementations decide how to show them. */
export interface Progress {
  /** A blob starts (or resumes at `offset`). */
  start(digest: string, total: number, offset?: number): void;
  /** Bytes moved since the last call. */
  advance(digest: string, bytes: number): void;
  /** The blob is complete; `how` says whether it was copied, skipped, mounted. */
  done(digest: string, how: 'done' | 'exists' | 'mounted' | 'skipped'): void;
  /** A free-form line (a resolved manifest, a retry). */
  note(line: string): void;
  /** Ends all bars. */
  stop(): void;
}

/** Chooses the progress display for a stream: bars on a TTY, lines otherwise, none if quiet. */
export function progressFor(stream: NodeJS.WriteStream, quiet = false): Progress {
  if (quiet) return silentProgress;
  return stream.isTTY ? new BarProgress(stream) : new LineProgress(stream);
}

/** Shows nothing. */
export const silentProgress: Progress = {
  start() {}, advance() {}, done() {}, note() {}, stop() {},
};

const short = (d: string) => d.replace(/^sha256:/, '').slice(0, 12);

class LineProgress implements Progress {
  constructor(private out: NodeJS.WriteStream) {}
  start(): void {}
  advance(): void {}
  done(digest: string, how: string): void {
    const verb = how === 'exists' ? 'already exists' : how === 'mounted' ? 'mounted' : how === 'skipped' ? 'skipped' : 'done';
    this.out.write(`Copying blob sha256:${short(digest)} ${verb}\n`);
  }
  note(line: string): void {
    this.out.write(line + '\n');
  }
  stop(): void {}
}

class BarProgress implements Progress {
  private bars = new Map<string, cliProgress.SingleBar>();
  private multi: cliProgress.MultiBar;
  constructor(out: NodeJS.WriteStream) {
    this.multi = new cliProgress.MultiBar({
      stream: out,
      format: '{id} [{bar}] {percentage}% | {value_h}/{total_h}',
      hideCursor: true,
      clearOnComplete: false,
      formatValue: (v, _o, type) => (type === 'value' || type === 'total' ? String(v) : String(v)),
    }, cliProgress.Presets.shades_classic);
  }
  start(digest: string, total: number, offset = 0): void {
    const bar = this.multi.create(total, offset, { id: short(digest), value_h: mb(offset), total_h: mb(total) });
    this.bars.set(digest, bar);
  }
  advance(digest: string, bytes: number): void {
    const bar = this.bars.get(digest);
    if (!bar) return;
    bar.increment(bytes, { value_h: mb(bar.getProgress() * bar.getTotal() + bytes) });
  }
  done(digest: string, how: string): void {
    const bar = this.bars.get(digest);
    if (bar) {
      bar.update(bar.getTotal(), { value_h: how === 'done' ? mb(bar.getTotal()) : how });
      bar.stop();
    } else {
      this.multi.log(`${short(digest)}: ${how === 'exists' ? 'already exists' : how}\n`);
    }
  }
  note(line: string): void {
    this.multi.log(line + '\n');
  }
  stop(): void {
    this.multi.stop();
  }
}

function mb(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}MB` : `${(n / 1e3).toFixed(1)}kB`;
}
