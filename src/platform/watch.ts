import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export interface FileWatcher {
  /** Stops watching; resolves when a call in progress has ended. */
  close(): Promise<void>;
}

/**
 * Calls `onChange` with the file's new text when it changes: the folder is watched (editors that
 * save by writing a new file and renaming it over the old one replace the file's inode), events
 * are debounced, and a save that leaves the text as it was is ignored. Calls never overlap: a
 * change during a running call is delivered after it, once, with the latest text.
 */
export function watchFile(
  file: string,
  onChange: (text: string) => Promise<void>,
  opts: { debounceMs?: number; initialText?: string; onError?: (err: Error) => void } = {},
): FileWatcher {
  const abs = path.resolve(file);
  const base = path.basename(abs);
  let last = opts.initialText;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let done: Promise<void> = Promise.resolve();
  let again = false;
  let closed = false;

  const check = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    done = drain();
  };
  /** A change came in during the last call (set by the watcher's callback). */
  const more = (): boolean => again && !closed;
  const drain = async (): Promise<void> => {
    try {
      do {
        again = false;
        // Mid-rename, the file may be missing for a moment: the rename's own event follows.
        const text = await readFile(abs, 'utf8').catch(() => undefined);
        if (text === undefined || text === last || closed) continue;
        last = text;
        await onChange(text).catch((err: unknown) => opts.onError?.(err as Error));
      } while (more());
    } finally {
      running = false;
    }
  };

  const watcher: FSWatcher = watch(path.dirname(abs), { persistent: true }, (_event, name) => {
    if (name !== null && name !== base) return;
    clearTimeout(timer);
    timer = setTimeout(check, opts.debounceMs ?? 200);
  });
  watcher.on('error', (err) => opts.onError?.(err));
  return {
    close: async () => {
      closed = true;
      clearTimeout(timer);
      watcher.close();
      await done;
    },
  };
}
