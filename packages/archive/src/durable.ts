// Durable file-system steps shared by backup, restore and the swap journal: fsync of a directory
// after a rename, atomic small-file writes, free space.
import { closeSync, fsyncSync, ftruncateSync, openSync, renameSync, statfsSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** Writes all of `buf` (a write may take fewer bytes than asked), at the file's position or,
 *  given `position`, there. */
export function writeAll(fd: number, buf: Buffer, position?: number): void {
  for (let off = 0; off < buf.length;)
    off += writeSync(fd, buf, off, buf.length - off, position === undefined ? null : position + off);
}

/** Block size of the holes a sparse write leaves (a file system's usual block). */
const HOLE_BLOCK = 4096;
const ZERO_BLOCK = Buffer.alloc(HOLE_BLOCK);

/**
 * Writes a file piece by piece, leaving a hole wherever a whole block (aligned in the file) is
 * zero, as `cp --sparse=auto` does for a sparse source; `finish` sets the size (a trailing hole
 * writes nothing). For files the backup found sparse: a database or image file of 20 GiB with
 * little data would otherwise take 20 GiB after a restore.
 */
export class SparseWriter {
  private position = 0;

  constructor(private readonly fd: number) {}

  write(piece: Buffer): void {
    let run = -1; // start in `piece` of the blocks not yet written
    for (let at = 0; at < piece.length;) {
      const end = Math.min(piece.length, at + HOLE_BLOCK - ((this.position + at) % HOLE_BLOCK));
      const hole = end - at === HOLE_BLOCK && piece.subarray(at, end).equals(ZERO_BLOCK);
      if (hole && run >= 0) {
        writeAll(this.fd, piece.subarray(run, at), this.position + run);
        run = -1;
      } else if (!hole && run < 0) run = at;
      at = end;
    }
    if (run >= 0) writeAll(this.fd, piece.subarray(run), this.position + run);
    this.position += piece.length;
  }

  finish(): void {
    ftruncateSync(this.fd, this.position);
  }
}

export function fsyncDirectory(dir: string): void {
  // Directory fsync makes the rename durable; Windows cannot open directories, and does not need it.
  if (process.platform === 'win32') return;
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The temp name a file called `name` is written under before it takes its name (a dot name, so
 *  no glob of the final names matches it; the pid tells whose it is). `pid: ''` gives the prefix
 *  every run's temp name shares. */
export function partialName(name: string, pid: number | '' = process.pid): string {
  return `.${name}.partial-${pid}`;
}

/** Writes `text` to `path` atomically: temp file in the same directory, fsync, rename, fsync dir. */
export function writeFileAtomic(path: string, text: string): void {
  const tmp = join(dirname(path), partialName(basename(path)));
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDirectory(dirname(path));
}

/** Free space where `dir` is (or its nearest existing parent): bytes an unprivileged writer may
 *  use, the block size, and free inodes (undefined where the file system reports none). */
export interface DiskRoom {
  bytes: number;
  blockSize: number;
  inodes: number | undefined;
}

export function diskRoom(dir: string): DiskRoom | undefined {
  for (let d = resolve(dir); ; d = dirname(d)) {
    try {
      const s = statfsSync(d);
      return {
        bytes: Number(s.bavail) * Number(s.bsize),
        blockSize: Number(s.bsize),
        inodes: Number(s.files) > 0 ? Number(s.ffree) : undefined,
      };
    } catch {
      if (dirname(d) === d) return undefined;
    }
  }
}

export function freeBytes(dir: string): number | undefined {
  return diskRoom(dir)?.bytes;
}
