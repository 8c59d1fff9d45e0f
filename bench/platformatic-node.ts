/**
 * Whether this Node can load @platformatic/kafka 2.x (its `engines`: Node ≥ 22.22). Kept apart from
 * the client so the bench and the tests can check before they import it, and say why they stop.
 */

/** The oldest Node 22 that @platformatic/kafka 2.x supports. */
export const REQUIRED_NODE = '22.22.0';

/** True on Node 22.22 or later. */
export function nodeSupportsPlatformatic(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 22);
}
