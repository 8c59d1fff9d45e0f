/** Process plumbing for the service manager: pid files, detached spawn, stop, port probes, command runs. */
import { execFile, spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { sleep } from '../platform/retry.ts';

/** Whether a process with this pid exists (signal 0 probes without signalling). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of a running process, or undefined when it is gone (Linux /proc). */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return undefined;
  }
}

export function readPidFile(path: string): number | undefined {
  if (!existsSync(path)) return undefined;
  const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * The pid in `path` if that process is alive and its command line contains `marker`;
 * otherwise removes the stale pid file (the process died, or the pid was reused after a reboot).
 */
export function livePid(path: string, marker: string): number | undefined {
  const pid = readPidFile(path);
  if (pid === undefined) {
    rmSync(path, { force: true });
    return undefined;
  }
  if (isAlive(pid) && (commandLine(pid) ?? '').includes(marker)) return pid;
  rmSync(path, { force: true });
  return undefined;
}

/**
 * Starts a long-running process that outlives us: own process group, output to `logFile`, pid to
 * `pidFile`. `env` is added to the inherited environment (secrets go there, not into `args`).
 */
export function spawnDetached(opts: {
  command: string;
  args: string[];
  cwd: string;
  logFile: string;
  pidFile: string;
  env?: Readonly<Record<string, string>>;
}): number {
  const out = openSync(opts.logFile, 'a');
  try {
    const child = spawn(opts.command, opts.args, {
      cwd: opts.cwd,
      detached: true,
      stdio: ['ignore', out, out],
      env: opts.env === undefined ? undefined : { ...process.env, ...opts.env },
    });
    if (child.pid === undefined) throw new Error(`could not spawn ${opts.command}`);
    child.unref();
    writeFileSync(opts.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(out);
  }
}

/** SIGTERM, wait up to `timeoutMs` for the process to exit, then SIGKILL. Returns how it ended. */
export async function stopPid(pid: number, timeoutMs: number): Promise<'stopped' | 'killed' | 'gone'> {
  if (!isAlive(pid)) return 'gone';
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'gone';
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return 'stopped';
    await sleep(200);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return 'stopped';
  }
  while (isAlive(pid)) await sleep(100);
  return 'killed';
}

/** Whether something accepts TCP connections on host:port. */
export function tcpOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Polls `probe` until it returns true or `timeoutMs` passes. `abort` is checked each round so a
 * process that died while starting fails at once rather than after the whole timeout.
 */
export async function waitUntil(
  probe: () => Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number; abort?: () => string | undefined },
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const aborted = opts.abort?.();
    if (aborted) return { ok: false, reason: aborted };
    if (await probe()) return { ok: true };
    if (Date.now() >= deadline) return { ok: false, reason: `not ready after ${Math.round(opts.timeoutMs / 1000)} s` };
    await sleep(opts.intervalMs ?? 500);
  }
}

export interface RunResult {
  code: number | null;
  output: string;
  /** ENOENT and friends: the command could not be started at all. */
  spawnError?: NodeJS.ErrnoException;
}

/** Runs a command to completion, capturing stdout and stderr together. Never throws. */
export function runCommand(command: string, args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: opts.cwd, timeout: opts.timeoutMs ?? 10 * 60_000, maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        if (!err) return resolve({ code: 0, output });
        const e = err as NodeJS.ErrnoException & { code?: unknown };
        if (typeof e.code === 'string') return resolve({ code: null, output, spawnError: e });
        resolve({ code: typeof e.code === 'number' ? e.code : null, output });
      },
    );
  });
}

/** The last `n` non-empty lines of a text, indented for an error message. */
export function lastLines(text: string, n: number): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines
    .slice(-n)
    .map((l) => `    ${l}`)
    .join('\n');
}

/** The last `n` lines of a log file without Java stack frames, or '' when it does not exist yet. */
export async function tailFile(path: string, n: number): Promise<string> {
  try {
    const text = await readFile(path, 'utf8');
    return lastLines(
      text
        .split('\n')
        .filter((l) => !/^\s+(at |\.\.\. \d+ more)/.test(l))
        .join('\n'),
      n,
    );
  } catch {
    return '';
  }
}

/** Seconds since `start` (a Date.now() value), one decimal, for progress lines. */
export function secondsSince(start: number): string {
  return ((Date.now() - start) / 1000).toFixed(1);
}
