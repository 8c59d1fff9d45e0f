/** Running Maven to fetch artifacts from Maven Central, with errors a user can act on. */
import { ServiceError } from '../platform/errors.ts';
import { lastLines, runCommand } from './process.ts';

/** Maven's generic advice lines, which only push the real error out of the tail we show. */
const NOISE = /^\[ERROR\]\s*$|re-run Maven|full stack trace|possible solutions|\[Help \d+\] http/i;

/**
 * Runs `mvn -q <args>`; throws a ServiceError when mvn is missing or fails, showing its last output
 * lines. `versionSetting` names the env var to check when an artifact does not exist.
 */
export async function runMaven(args: string[], what: string, versionSetting: string, cwd?: string): Promise<void> {
  const res = await runCommand('mvn', ['-q', '-B', '-Dstyle.color=never', ...args], { cwd, timeoutMs: 15 * 60_000 });
  if (res.spawnError?.code === 'ENOENT') {
    throw new ServiceError(`${what}: Maven (mvn) is not installed or not on PATH; install Maven 3 to fetch the service jars`);
  }
  if (res.code !== 0) {
    // eslint-disable-next-line no-control-regex -- stripping ANSI colour codes, which are control characters
    const output = res.output.replace(/\u001b\[[0-9;]*m/g, '');
    const hint = /Could not find artifact|was not found in/.test(output)
      ? `that version does not exist on Maven Central; check ${versionSetting}`
      : 'is Maven Central (https://repo.maven.apache.org) reachable?';
    const lines = output
      .split('\n')
      .filter((l) => !NOISE.test(l))
      .join('\n');
    throw new ServiceError(
      `${what}: mvn failed (exit ${res.code ?? 'signal'}); ${hint}\n${lastLines(lines, 12)}`,
      res.spawnError,
    );
  }
}
