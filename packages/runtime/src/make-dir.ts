import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * Create `dir` and its missing parents (like `mkdir -p`), in at most one step per path segment.
 *
 * Why not `mkdirSync(dir, { recursive: true })`: on Node 20 it never returns for a path under a
 * pseudo file system that answers `ENOENT` to every `mkdir` (`/proc/x`), spinning a core for
 * ever. Here each level is tried once, so every failure surfaces as an error at once.
 *
 * @param dir - directory path (relative paths resolve against the working directory)
 * @param mode - permission bits for the directories this call creates (before the umask, as in
 *   `mkdir(2)`); directories that already exist keep theirs. Default 0o777 (umask applies).
 * @throws Error (a Node `ErrnoException`: `ENOENT`, `ENOTDIR`, `EACCES`, `EROFS`, ...) when a level
 *   cannot be created, or `ENOTDIR` when `dir` exists but is not a directory
 */
export function makeDir(dir: string, mode = 0o777): void {
  const target = resolve(dir);
  const missing: string[] = [];
  let cur = target;
  // Find the deepest existing ancestor; bounded by the number of segments.
  for (;;) {
    let isDir: boolean | undefined;
    try {
      isDir = statSync(cur).isDirectory();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw err;
    }
    if (isDir === true) break;
    if (isDir === false) {
      throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${target}' (${cur} is a file)`), {
        code: 'ENOTDIR',
        path: cur,
      });
    }
    missing.push(cur);
    const parent = dirname(cur);
    if (parent === cur) break;
    cur = parent;
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    try {
      mkdirSync(missing[i]!, mode);
    } catch (err) {
      // Another process may have created it in between; anything else is final.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}
