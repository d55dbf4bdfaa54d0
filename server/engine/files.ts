/**
 * A model folder on disk as the engine reads it (shared/engine/files.ts): small files whole,
 * weights through a file descriptor, tensor by tensor.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { ModelError } from '../../shared/engine/decoder.js';
import type { ByteSource, ModelFiles } from '../../shared/engine/files.js';

/** One file on disk; a ModelError naming it when it is missing. */
export function fileSource(path: string, missing = `File not found: ${path}`): ByteSource {
  if (!existsSync(path)) throw new ModelError(missing);
  let fd: number | null = openSync(path, 'r');
  const size = fstatSync(fd).size;
  return {
    size,
    read(into, position) {
      if (fd === null) throw new Error(`${path} is closed`);
      // readSync may return short counts (and caps one call near 2 GiB): loop until full.
      const chunk = 1 << 30;
      let done = 0;
      while (done < into.length) {
        const n = readSync(fd, into, done, Math.min(chunk, into.length - done), position + done);
        if (n === 0) throw new ModelError(`${path}: unexpected end of file (truncated?)`);
        done += n;
      }
    },
    close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

/** The files of folder `dir`; a name that is an absolute path is that file (a transcoder config may
 * name its layers so). `missing`: what opening an absent file says. */
export function folderFiles(dir: string, missing: (path: string) => string = (path) => `File not found: ${path}`): ModelFiles {
  const path = (name: string) => (isAbsolute(name) ? name : join(dir, name));
  return {
    root: dir,
    path,
    exists: (name) => existsSync(path(name)),
    text: (name) => {
      if (!existsSync(path(name))) throw new ModelError(`File not found: ${path(name)}`);
      return readFileSync(path(name), 'utf8');
    },
    open: (name) => fileSource(path(name), missing(path(name))),
  };
}
