/**
 * Which process owns an operation in progress, told apart from a later process that reuses
 * its PID by the start time in /proc/<pid>/stat (field 22, clock ticks since boot).
 */
import fs from 'node:fs/promises';

/** A process identity that survives PID reuse. */
export interface Owner {
  pid: number;
  startTime: string;
}

/** This process. */
export async function currentOwner(): Promise<Owner> {
  return { pid: process.pid, startTime: (await startTime(process.pid)) ?? '' };
}

/** True while the owner process still runs. */
export async function ownerAlive(o: Owner): Promise<boolean> {
  const st = await startTime(o.pid);
  return st !== undefined && st === o.startTime;
}

async function startTime(pid: number): Promise<string | undefined> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19]; // field 22 overall
  } catch {
    return undefined;
  }
}
