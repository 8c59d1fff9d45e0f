/** Shapes shared by the service manager's modules. */

export type ServiceName = 'kafka' | 'registry' | 'mariadb' | 'redis';

/** Services txmon starts itself and can stop again. */
export type ManagedServiceName = 'kafka' | 'registry';

export interface ServiceStatus {
  name: ServiceName;
  running: boolean;
  /** Started by txmon (it has a pid file) rather than found already running. */
  managed: boolean;
  address: string;
  pid?: number;
  detail: string;
}

export type Log = (line: string) => void;
