/**
 * Durable file replacement: write a temporary file beside the target, fsync it, rename it over
 * the target, fsync the folder. A crash at any point leaves either the old file or the new one,
 * never a mix, so a good store or checkpoint is never lost to a failed write.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';

let counter = 0;
const tempName = (path: string) => `${path}.tmp-${process.pid}-${++counter}`;
const TEMP = /\.tmp-(\d+)-\d+$/;

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}

/** Removes temporary files in `folder` left by processes that died mid-write (a store can be
 * a hundred megabytes); files of live processes are theirs. Returns how many were removed. */
export function removeStaleTemps(folder: string): number {
  if (!existsSync(folder)) return 0;
  let removed = 0;
  for (const name of readdirSync(folder)) {
    const pid = TEMP.exec(name)?.[1];
    if (pid === undefined || Number(pid) === process.pid || isRunning(Number(pid))) continue;
    rmSync(join(folder, name), { force: true });
    removed++;
  }
  return removed;
}

function syncFolder(path: string): void {
  try {
    const fd = openSync(dirname(path), 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // some file systems cannot fsync a folder; the rename itself is still atomic
  }
}

/** Replaces `path` with `chunks`, atomically and durably (synchronous: small files). */
export function writeFileAtomic(path: string, chunks: Uint8Array | Uint8Array[] | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = tempName(path);
  const parts = typeof chunks === 'string' ? [Buffer.from(chunks)] : Array.isArray(chunks) ? chunks : [chunks];
  try {
    const fd = openSync(temp, 'w');
    try {
      for (const part of parts) {
        for (let done = 0; done < part.byteLength;) done += writeSync(fd, part, done, part.byteLength - done);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  syncFolder(path);
}

/** A file written piece by piece (large stores), then atomically put in place by `commit`. */
export class AtomicWriter {
  private readonly temp: string;
  private constructor(readonly path: string, private readonly handle: FileHandle, temp: string) {
    this.temp = temp;
  }

  static async create(path: string): Promise<AtomicWriter> {
    mkdirSync(dirname(path), { recursive: true });
    const temp = tempName(path);
    return new AtomicWriter(path, await open(temp, 'w'), temp);
  }

  async write(bytes: Uint8Array, position: number): Promise<void> {
    for (let done = 0; done < bytes.byteLength;) {
      const { bytesWritten } = await this.handle.write(bytes, done, bytes.byteLength - done, position + done);
      done += bytesWritten;
    }
  }

  async commit(): Promise<void> {
    await this.handle.sync();
    await this.handle.close();
    renameSync(this.temp, this.path);
    syncFolder(this.path);
  }

  async abort(): Promise<void> {
    await this.handle.close().catch(() => {});
    rmSync(this.temp, { force: true });
  }
}
