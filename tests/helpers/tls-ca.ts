/**
 * A throwaway certificate authority for TLS tests, made with the openssl CLI: a CA, a server
 * certificate it signs for 127.0.0.1 and localhost, and an unrelated CA (a client trusting only that
 * one must refuse the server). Everything lives in one temporary directory.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCa {
  dir: string;
  /** PEM of the CA that signed the server certificate. */
  caFile: string;
  /** PEM of a CA that signed nothing here. */
  otherCaFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  /** Server key and certificate in one PEM file (what Kafka's PEM keystore reads). */
  serverPemFile: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 });
}

function makeCa(dir: string, name: string): void {
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
    ],
    dir,
  );
}

/** Makes the CA, the other CA and the server certificate (SAN IP:127.0.0.1, DNS:localhost). */
export function makeTestCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'txmon-tls-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  // PKCS#8 unencrypted key: what Kafka's PEM keystore accepts without a key password.
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'server.key'], dir);
  openssl(['req', '-new', '-key', 'server.key', '-subj', '/CN=localhost', '-out', 'server.csr'], dir);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      'san.ext',
      '-out',
      'server.pem.crt',
    ],
    dir,
  );
  const serverPemFile = join(dir, 'server-keystore.pem');
  writeFileSync(serverPemFile, readFileSync(join(dir, 'server.key'), 'utf8') + readFileSync(join(dir, 'server.pem.crt'), 'utf8'));
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    otherCaFile: join(dir, 'other-ca.pem'),
    serverCertFile: join(dir, 'server.pem.crt'),
    serverKeyFile: join(dir, 'server.key'),
    serverPemFile,
  };
}
