/**
 * Secrets and the files they come from. A secret setting X can be given as X (an environment
 * variable) or as X_FILE (a path read once at start-up), never both: a file keeps the value out of
 * the environment of a process listing and out of shell history. Secrets live in the config as
 * `Secret` objects that print as "[redacted]" wherever they end up (a log line, JSON, util.inspect),
 * so only the client factories, which call reveal(), ever see the value.
 */
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { ConfigError } from '../platform/errors.ts';

const REDACTED = '[redacted]';

/** A secret value that does not print. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The value, for the client that needs it; never log it. */
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [inspect.custom](): string {
    return REDACTED;
  }
}

/** Reads a file a setting names, failing with a ConfigError that names the setting (never the content). */
export function readSettingFile(setting: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError(`invalid configuration: ${setting}=${JSON.stringify(path)}: cannot read the file (${code})`);
  }
}

/**
 * The secret of setting `name` from `name` or `name_FILE` (trailing newlines of a file dropped: most
 * secret stores and `echo` add one). Undefined when neither is set; a ConfigError when both are.
 */
export function secretSetting(env: Readonly<Record<string, string | undefined>>, name: string): Secret | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  const has = (v: string | undefined): v is string => v !== undefined && v !== '';
  if (has(direct) && has(file))
    throw new ConfigError(`invalid configuration: ${name} and ${name}_FILE are both set; set one of them`);
  if (has(direct)) return new Secret(direct);
  if (has(file)) {
    const value = readSettingFile(`${name}_FILE`, file)
      .toString('utf8')
      .replace(/\r?\n+$/, '');
    if (value === '') throw new ConfigError(`invalid configuration: ${name}_FILE=${JSON.stringify(file)}: the file is empty`);
    return new Secret(value);
  }
  return undefined;
}

/** A URL with its password (and any user info's secret part) replaced, for printing. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/?#]*)@/i, (_, scheme: string, userinfo: string) => {
    const i = userinfo.indexOf(':');
    return i < 0 ? `${scheme}${userinfo}@` : `${scheme}${userinfo.slice(0, i)}:${REDACTED}@`;
  });
}
