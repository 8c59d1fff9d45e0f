/** Finding a Java runtime new enough for Kafka (17+) and the schema registry (21+). */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ServiceError } from '../platform/errors.ts';
import { runCommand } from './process.ts';

export interface JavaRuntime {
  /** Path of the java executable (or `java` when taken from PATH). */
  bin: string;
  major: number;
}

const JVM_DIR = '/usr/lib/jvm';

/** The java executable inside a JAVA_HOME-style directory. */
export function javaBinIn(home: string): string {
  return join(home, 'bin', 'java');
}

/** The major version of a java executable (8 for "1.8.0_x", 17 for "17.0.15"), or undefined if it cannot run. */
export async function javaMajor(bin: string): Promise<number | undefined> {
  const res = await runCommand(bin, ['-version'], { timeoutMs: 30_000 });
  if (res.code !== 0) return undefined;
  const m = /version "(\d+)(?:\.(\d+))?/.exec(res.output);
  if (!m?.[1]) return undefined;
  const first = Number(m[1]);
  return first === 1 && m[2] ? Number(m[2]) : first;
}

/**
 * The Java for Kafka: `configuredHome` (TXMON_JAVA_HOME) if set, else `java` on PATH.
 * Throws a ServiceError saying what is missing or too old.
 */
export async function requireJava(configuredHome: string | undefined, minMajor: number, purpose: string): Promise<JavaRuntime> {
  const bin = configuredHome ? javaBinIn(configuredHome) : 'java';
  const where = configuredHome ? `TXMON_JAVA_HOME=${configuredHome}` : '`java` on PATH';
  const major = await javaMajor(bin);
  if (major === undefined) {
    throw new ServiceError(
      `${purpose} needs Java ${minMajor}+, but ${where} could not be run; install a JDK or set TXMON_JAVA_HOME`,
    );
  }
  if (major < minMajor) {
    throw new ServiceError(
      `${purpose} needs Java ${minMajor}+, but ${where} is Java ${major}; set TXMON_JAVA_HOME to a newer JDK`,
    );
  }
  return { bin, major };
}

/**
 * The newest Java with major ≥ `minMajor`: `configuredHome` (TXMON_REGISTRY_JAVA_HOME) when set (and it
 * must qualify), else the newest JDK under /usr/lib/jvm or on PATH. Undefined when none qualifies.
 */
export async function findJava(configuredHome: string | undefined, minMajor: number): Promise<JavaRuntime | undefined> {
  if (configuredHome) {
    const bin = javaBinIn(configuredHome);
    const major = await javaMajor(bin);
    if (major === undefined || major < minMajor) {
      throw new ServiceError(
        `TXMON_REGISTRY_JAVA_HOME=${configuredHome} must be a Java ${minMajor}+ home, found ${major === undefined ? 'no working bin/java' : `Java ${major}`}`,
      );
    }
    return { bin, major };
  }
  const candidates = ['java'];
  if (existsSync(JVM_DIR)) {
    for (const entry of readdirSync(JVM_DIR)) {
      const bin = javaBinIn(join(JVM_DIR, entry));
      if (existsSync(bin)) candidates.push(bin);
    }
  }
  let best: JavaRuntime | undefined;
  for (const bin of candidates) {
    const major = await javaMajor(bin);
    if (major !== undefined && major >= minMajor && (!best || major > best.major)) best = { bin, major };
  }
  return best;
}
