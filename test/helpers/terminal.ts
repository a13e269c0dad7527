/**
 * A program on a real pseudo-terminal (node-pty) for tests of interactive commands
 * (`kubectl exec -it`, `attach`, `run -it`): keys in, the screen's byte stream out, resizes
 * (the kernel sends the program SIGWINCH), the exit code.
 */
import pty from 'node-pty';

/** A program running on a pseudo-terminal of the test's. */
export class Terminal {
  private term: pty.IPty;
  /** Everything the program wrote so far (with its escape sequences). */
  output = '';
  /** Resolves with the exit code when the program has exited. */
  readonly exited: Promise<number>;

  constructor(file: string, args: string[], opts: { cols: number; rows: number; env?: NodeJS.ProcessEnv }) {
    this.term = pty.spawn(file, args, { name: 'xterm', cols: opts.cols, rows: opts.rows, env: opts.env ?? process.env });
    this.term.onData((d) => { this.output += d; });
    this.exited = new Promise((resolve) => this.term.onExit(({ exitCode }) => resolve(exitCode)));
  }

  /** Where the output is now, to wait for something written after it. */
  mark(): number { return this.output.length; }

  /** Waits until the output since `from` matches `re`; fails with the output after `ms`. */
  async waitFor(re: RegExp, from = 0, ms = 60_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.output.slice(from).match(re);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} in ${JSON.stringify(this.output.slice(from))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Types `keys` (a carriage return is the Enter key). */
  write(keys: string): void { this.term.write(keys); }

  /** Resizes the terminal, as a user resizing the window. */
  resize(cols: number, rows: number): void { this.term.resize(cols, rows); }

  /** Ends the program if it still runs. */
  kill(): void { try { this.term.kill('SIGKILL'); } catch { /* gone */ } }
}
