import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/**
 * The worker's code (CommonJS, evaluated: no file to resolve from `src/` or `dist/`). It opens
 * the same database file and checkpoints the WAL into it every `intervalMs`; PASSIVE never waits
 * for, nor blocks, the writer or readers. A failure is posted back and ends the worker.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    clearInterval(timer);
    parentPort.postMessage({ failed: String((error && error.message) || error) });
    db.close();
    parentPort.close();
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

/** A running background checkpointer. */
export interface SqliteCheckpointer {
  /** Checkpoints once more, closes its connection and ends the thread. */
  stop(): Promise<void>;
}

/**
 * Moves WAL checkpoints off the event loop. SQLite checkpoints inside the commit that crosses
 * `wal_autocheckpoint` pages: it copies the WAL into the database and fsyncs it, which blocked
 * the server for 10–20 ms about once a second under audit load. The caller turns automatic
 * checkpoints off on its connection; this thread checkpoints on its own connection instead.
 * When the thread fails, `onFailure` is called (turn automatic checkpoints back on).
 */
export function startSqliteCheckpointer(
  path: string,
  intervalMs: number,
  onFailure: (reason: string) => void,
): SqliteCheckpointer {
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, module, intervalMs } });
  worker.unref();
  let stopped = false;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const fail = (reason: string) => {
    if (!stopped) onFailure(reason);
    stopped = true;
  };
  worker.on('message', (m: { failed?: string }) => {
    if (m.failed !== undefined) fail(m.failed);
  });
  worker.on('error', (error) => fail(error.message));
  worker.once('exit', (code) => {
    if (code !== 0) fail(`the checkpoint thread exited with code ${code}`);
  });
  return {
    stop: async () => {
      // Unreferenced while it runs (it must not keep a process alive), referenced while it
      // stops: otherwise the event loop could end with this promise still waiting.
      worker.ref();
      if (!stopped) {
        stopped = true;
        worker.postMessage('stop');
      }
      await exited;
    },
  };
}
