// Integration tests need the real services; start whatever is not running (idempotent, fast when up).
import { loadConfig } from '../../config/config.ts';
import { servicesUp } from '../../services/manager.ts';

export default async function setup(): Promise<void> {
  const lines: string[] = [];
  await servicesUp(loadConfig(process.env), (l) => lines.push(l));
}
