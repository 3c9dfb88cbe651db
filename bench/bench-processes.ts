/**
 * Process plumbing shared by the load benches (gateway, S3): pinning with `taskset`, child
 * servers that print one JSON line when ready, nginx in the foreground with a generated
 * config, and `wrk` runs. Every child is stopped by the bench that started it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { parseWrk } from './http-bench.js';

/** `execFile` as a promise. */
export const run = promisify(execFile);

/** A parsed wrk report. */
export type WrkResult = ReturnType<typeof parseWrk>;

/** Whether a command is on the PATH. */
export async function has(command: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${command}`]);
    return true;
  } catch {
    return false;
  }
}

/** Pins a command to one core when `pin` (2+ cores and `taskset` present). */
export function pinned(core: number, argv: readonly string[], pin: boolean): [string, string[]] {
  return pin ? ['taskset', ['-c', String(core), ...argv]] : [argv[0]!, argv.slice(1)];
}

/**
 * Node flags for a server child: the bench's own flags without `--conditions=source`, so the
 * child runs aiam as `aiam serve` does, from the compiled `dist/` (`bench/run.ts` builds it
 * first), not from TypeScript transformed on load (whose helpers cost the gateway about 7%).
 */
export function compiledNodeFlags(): string[] {
  return process.execArgv.filter((flag) => flag !== '--conditions=source');
}

/**
 * Starts `argv` pinned to `core` and resolves with the JSON line it prints once ready. The child
 * holds a pipe on stdin, so it can stop itself when this process goes away.
 */
export async function startReadyChild<T>(
  label: string,
  argv: readonly string[],
  core: number,
  pin: boolean,
): Promise<{ child: ChildProcess; ready: T }> {
  const [cmd, args] = pinned(core, argv, pin);
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the ${label} child did not start within 60 s`)), 60_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line) as T);
      } catch (e) {
        reject(e);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the ${label} child exited with ${code} before it was ready`));
    });
  });
  return { child, ready };
}

/** SIGTERM, then SIGKILL after 15 s; resolves once the child has exited. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** A TCP port free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * nginx in the foreground (`daemon off`), one worker, pinned to `core`, with `serverBlock` as
 * the body of its one `server {}` (listen line added) and temp paths inside `dir`. Resolves
 * once `probePath` answers 200.
 */
export async function startNginx(
  dir: string,
  httpBlock: string,
  serverBlock: string,
  probePath: string,
  core: number,
  pin: boolean,
): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  await mkdir(join(dir, 'tmp'), { recursive: true });
  const conf = `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  keepalive_requests 1000000;
${httpBlock}
  server {
    listen 127.0.0.1:${port};
${serverBlock}
  }
}
`;
  await writeFile(join(dir, 'nginx.conf'), conf);
  const [cmd, argv] = pinned(
    core,
    ['nginx', '-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'],
    pin,
  );
  const child = spawn(cmd, argv, { stdio: ['ignore', 'inherit', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) break;
    try {
      const res = await fetch(`${url}${probePath}`);
      await res.arrayBuffer();
      if (res.status === 200) return { child, url };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
  // SIGTERM, not SIGKILL: the master then stops its worker, which SIGKILL would orphan.
  await stopChild(child);
  throw new Error(`nginx did not start:\n${log}`);
}

/** One wrk run (1 thread, keep-alive, `--latency`, 30 s timeout) pinned to core 0. */
export async function wrk(
  url: string,
  headers: Readonly<Record<string, string>>,
  connections: number,
  seconds: number,
  pin: boolean,
  /** A wrk Lua script (`-s`), e.g. one that sets the method and body. */
  script?: string,
): Promise<WrkResult> {
  // --timeout: wrk's default of 2 s counts a slow 64 MiB response on a loaded machine as a
  // socket error; the benches measure rate, a stall shows in it.
  const argv = ['wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '30s', '--latency'];
  if (script !== undefined) argv.push('-s', script);
  for (const [k, v] of Object.entries(headers)) argv.push('-H', `${k}: ${v}`);
  argv.push(url);
  const [cmd, args] = pinned(0, argv, pin);
  const { stdout } = await run(cmd, args, { timeout: (seconds + 30) * 1000 });
  return parseWrk(stdout);
}
