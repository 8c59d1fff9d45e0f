// `npm run audit:prod`: the production dependencies in package-lock.json (devDependencies left out:
// they never reach a production install) checked against the npm advisory database with `npm audit`.
//
//   node scripts/audit.js                      fail (exit 1) on high/critical advisories; exit 2 when
//                                              the advisory service does not answer
//   node scripts/audit.js --if-reachable       the same, but an unanswered audit prints SKIPPED and
//                                              exits 0 (CI on machines without the advisory service)
//   node scripts/audit.js --advisories <file>  offline: the same audit against a mirrored advisory file
//                                              ({ "<package>": [advisory, ...] }, the bulk endpoint's
//                                              answer), served to npm on 127.0.0.1, so npm's own version
//                                              matching decides
//   --audit-level <low|moderate|high|critical> the lowest severity that fails (default high)
//
// Only the lock file is read (--package-lock-only): what is audited is what `npm ci` would install.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import { createServer } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const LEVELS = ['info', 'low', 'moderate', 'high', 'critical'];
const root = fileURLToPath(new URL('..', import.meta.url));

function parseArgs(argv) {
  const o = { ifReachable: false, advisories: undefined, level: 'high' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--if-reachable') o.ifReachable = true;
    else if (a === '--advisories') o.advisories = argv[++i];
    else if (a === '--audit-level') o.level = argv[++i];
    else throw new Error(`audit: unknown argument ${a}`);
  }
  if (!LEVELS.includes(o.level)) throw new Error(`audit: --audit-level must be one of ${LEVELS.join(', ')}`);
  if (o.advisories === undefined && argv.includes('--advisories')) throw new Error('audit: --advisories needs a file');
  return o;
}

/** Runs npm audit on the lock file; resolves with its exit code, stdout and stderr. */
function npmAudit(registry) {
  const args = ['audit', '--omit=dev', '--package-lock-only', '--json', '--fetch-retries=1', '--fetch-timeout=30000'];
  if (registry) args.push(`--registry=${registry}`);
  return new Promise((resolve, reject) => {
    const child = spawn('npm', args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * A stand-in for the registry's bulk advisory endpoint, answering from a mirrored file. Every other
 * request (npm asks for packuments to suggest fixes) gets 404, which npm tolerates.
 */
function serveAdvisories(file) {
  const db = JSON.parse(readFileSync(file, 'utf8'));
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url.endsWith('/-/npm/v1/security/advisories/bulk')) {
        res.writeHead(404).end('{}');
        return;
      }
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const asked = JSON.parse(body.toString('utf8'));
      const answer = Object.fromEntries(Object.keys(asked).flatMap((name) => (db[name] ? [[name, db[name]]] : [])));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** The advisories at or above the level, one line each. */
function findings(report, level) {
  const min = LEVELS.indexOf(level);
  return Object.values(report.vulnerabilities ?? {})
    .filter((v) => LEVELS.indexOf(v.severity) >= min)
    .map((v) => {
      const why = v.via.map((x) => (typeof x === 'string' ? `through ${x}` : `${x.title} (${x.url}, ${x.range})`)).join('; ');
      return `  ${v.severity.padEnd(8)} ${v.name}: ${why}`;
    });
}

const o = parseArgs(process.argv.slice(2));
const server = o.advisories ? await serveAdvisories(o.advisories) : undefined;
const source = server ? `mirrored advisories ${o.advisories}` : 'the registry advisory service';
let result;
try {
  result = await npmAudit(server ? `http://127.0.0.1:${server.address().port}/` : undefined);
} finally {
  server?.close();
}

let report;
try {
  report = JSON.parse(result.stdout);
} catch {
  report = undefined;
}
if (report?.auditReportVersion === undefined) {
  // npm says "audit endpoint returned an error" when the advisory service refused or did not answer
  // (offline, a proxy that allows only GET, a mirror without the endpoint); the warn line says why.
  const unanswered = /audit endpoint returned an error/.test(result.stderr);
  const reason =
    result.stderr
      .split('\n')
      .find((l) => l.startsWith('npm warn audit'))
      ?.replace(/^npm warn audit /, '') ??
    report?.message ??
    report?.error?.summary ??
    `npm audit exited ${result.code}`;
  if (unanswered && o.ifReachable) {
    console.log(`npm audit: SKIPPED, ${source} could not be reached (${reason}); production dependencies were not audited.`);
    process.exit(0);
  }
  // Anything else (no lock file, a lock npm cannot read) is never skipped: it is not the network's fault.
  console.log(`npm audit: FAILED, ${unanswered ? `${source} could not be reached` : 'npm audit did not run'} (${reason})`);
  process.exit(2);
}

const counts = report.metadata.vulnerabilities;
const lines = findings(report, o.level);
const summary = `${report.metadata.dependencies.prod} production packages, advisories: ${LEVELS.map((l) => `${counts[l] ?? 0} ${l}`).join(', ')}`;
if (lines.length > 0) {
  console.log(`npm audit: FAILED, ${lines.length} at or above ${o.level} (${source}; ${summary}):\n${lines.join('\n')}`);
  process.exit(1);
}
console.log(`npm audit: passed, none at or above ${o.level} (${source}; ${summary})`);
