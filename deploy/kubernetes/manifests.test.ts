// The Kubernetes manifests and the image (issue 23), checked structurally: no cluster or Docker here.
// What is checked is what would break a deployment silently: a setting txmon does not know or
// refuses, a probe on the wrong port or path, a processor name the CLI does not run, more ingest
// replicas than the transactions topic has partitions, a grace period shorter than the shutdown
// timeout, a Service or an autoscaler that points at nothing, a secret file nobody mounts.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CONFIG_KEYS, loadConfig, requireOpsApiToken } from '../../config/config.ts';
import { TOPICS } from '../../topics/topics.ts';
import { ROOT } from '../checks.ts';

const here = import.meta.dirname;

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are untyped YAML, read field by field */
type Doc = any;
const kustomization = parseAllDocuments(readFileSync(join(here, 'kustomization.yaml'), 'utf8'))[0]?.toJS() as Doc;
const docs: Array<{ file: string; doc: Doc }> = (kustomization.resources as string[]).flatMap((file) =>
  parseAllDocuments(readFileSync(join(here, file), 'utf8')).map((d) => ({ file, doc: d.toJS() as Doc })),
);
const secretExample = parseAllDocuments(readFileSync(join(here, 'secret.example.yaml'), 'utf8'))[0]?.toJS() as Doc;
const ofKind = (kind: string) => docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);
const configMap = ofKind('ConfigMap').find((c) => c.metadata.name === 'txmon-config') as Doc;
const deployments = ofKind('Deployment');
const workloads = [...deployments, ...ofKind('Job')];
const podSpec = (w: Doc) => w.spec.template.spec;
const container = (w: Doc) => podSpec(w).containers[0];
/** The environment a workload's txmon process gets: the ConfigMap, then its own env. */
const envOf = (w: Doc): Record<string, string> => ({
  ...configMap.data,
  ...Object.fromEntries((container(w).env ?? []).map((e: Doc) => [e.name, String(e.value)])),
});
// The secret's files, where txmon would read them, so that the configuration loads as in the pod.
const MOUNT = '/run/secrets/txmon/';
const secrets = mkdtempSync(join(tmpdir(), 'txmon-k8s-'));
for (const [k, v] of Object.entries(secretExample.stringData as Record<string, string>)) writeFileSync(join(secrets, k), v);
afterAll(() => rmSync(secrets, { recursive: true, force: true }));
/** The configuration the workload's process loads (the secret's files read from their copy here). */
const configOf = (w: Doc) =>
  loadConfig(
    Object.fromEntries(
      Object.entries(envOf(w)).map(([k, v]) => [k, v.startsWith(MOUNT) ? join(secrets, v.slice(MOUNT.length)) : v]),
    ),
  );
const PORTS: Record<string, number> = { ingest: 9464, reconcile: 9465, 'ops-watch': 9466, api: 8080 };

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  it('list files that exist, each a named object of a known kind in the txmon namespace', () => {
    for (const r of kustomization.resources as string[]) expect(existsSync(join(here, r)), r).toBe(true);
    expect(kustomization.namespace).toBe('txmon');
    for (const { file, doc } of docs) {
      expect(doc.apiVersion, file).toMatch(/^(v1|apps\/v1|batch\/v1|autoscaling\/v2)$/);
      expect(doc.metadata?.name, file).toMatch(/^txmon(-[a-z0-9-]+)?$/);
      expect(doc.metadata?.labels?.['app.kubernetes.io/part-of'], `${file} ${doc.kind}`).toBe('txmon');
    }
    expect(deployments.map((d) => container(d).args[1]).sort()).toEqual(['api', 'ingest', 'ops-watch', 'reconcile']);
  });

  it('configure every process with settings txmon knows and accepts, passwords only as files', () => {
    for (const w of workloads) {
      const env = envOf(w);
      expect(
        Object.keys(env).filter((k) => !CONFIG_KEYS.includes(k)),
        w.metadata.name,
      ).toEqual([]);
      expect(() => configOf(w), w.metadata.name).not.toThrow();
      expect(
        Object.keys(env).filter((k) => /PASSWORD$/.test(k)),
        w.metadata.name,
      ).toEqual([]);
      const cfg = configOf(w);
      expect(cfg.services.startLocal, w.metadata.name).toBe(false);
    }
  });

  it('mount the secret each password file is read from, with the keys the example secret has, and no other key', () => {
    const keys = Object.keys(secretExample.stringData);
    for (const w of workloads) {
      const mount = container(w).volumeMounts.find((m: Doc) => m.name === 'secrets');
      const volume = podSpec(w).volumes.find((v: Doc) => v.name === 'secrets');
      expect(volume.secret.secretName, w.metadata.name).toBe(secretExample.metadata.name);
      const read: string[] = [];
      for (const [k, v] of Object.entries(envOf(w)).filter(([k]) => k.endsWith('_PASSWORD_FILE') || k.endsWith('_TOKEN_FILE'))) {
        expect(`${mount.mountPath}/`).toBe(MOUNT);
        expect(v.startsWith(MOUNT), `${w.metadata.name} ${k}`).toBe(true);
        expect(keys, `${w.metadata.name} ${k}`).toContain(v.slice(mount.mountPath.length + 1));
        read.push(v.slice(mount.mountPath.length + 1));
      }
      // Least privilege: the pod gets the files it reads, at their own names, and not the others'
      // passwords (the ingest never sees the administrator's, nor ops-watch's API key).
      const projected = (volume.secret.items as Array<{ key: string; path: string }>) ?? [];
      expect(
        projected.every((i) => i.key === i.path),
        w.metadata.name,
      ).toBe(true);
      expect(projected.map((i) => i.key).sort(), w.metadata.name).toEqual([...new Set(read)].sort());
    }
  });

  it('run each processor with its probes on its metrics port, non-root, given time to drain', () => {
    for (const d of deployments) {
      const c = container(d);
      const processor = c.args[1] as string;
      expect(c.image).toBe('txmon');
      expect(c.args[0]).toBe('run');
      const port = c.ports.find((p: Doc) => p.name === 'http').containerPort;
      expect(port, processor).toBe(PORTS[processor]);
      const cfg = configOf(d);
      const configured = {
        ingest: cfg.metrics.port,
        reconcile: cfg.recon.metricsPort,
        'ops-watch': cfg.ops.metricsPort,
        api: cfg.api.port,
      }[processor];
      expect(configured, `${processor}: the port txmon listens on`).toBe(port);
      // ops-watch starts only with a key for each api target it scrapes (its own pod's secret file).
      if (processor === 'ops-watch') expect(() => requireOpsApiToken(cfg.ops)).not.toThrow();
      expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
      // The API's /readyz is red while the ingest lags: its pods stay in the Service (/healthz).
      expect(c.readinessProbe.httpGet).toEqual({ path: processor === 'api' ? '/healthz' : '/readyz', port: 'http' });
      // The probe server starts after registration, Kafka and a possible state rebuild: liveness
      // waits for a startup probe with minutes of budget.
      expect(c.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
      expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold, processor).toBeGreaterThanOrEqual(600);
      expect(podSpec(d).securityContext.runAsNonRoot).toBe(true);
      expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
      expect(podSpec(d).terminationGracePeriodSeconds * 1000, processor).toBeGreaterThan(cfg.shutdownTimeoutMs);
      expect(d.spec.selector.matchLabels['app.kubernetes.io/name']).toBe(
        d.spec.template.metadata.labels['app.kubernetes.io/name'],
      );
      expect(c.resources.limits.memory, processor).toBeTruthy();
    }
  });

  it("never runs more ingest processes than the transactions topic's partitions", () => {
    const ingest = deployments.find((d) => container(d).args[1] === 'ingest');
    const hpa = ofKind('HorizontalPodAutoscaler')[0];
    // The autoscaler owns the count: a replicas field would reset it on every apply.
    expect(ingest.spec.replicas).toBeUndefined();
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(1);
    expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
    expect(hpa.spec.maxReplicas).toBe(TOPICS.transactions.partitions);
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: ingest.metadata.name });
    expect(hpa.spec.metrics[0].external.metric.name).toBe('txmon_pipeline_consumer_lag_records');
  });

  it("point every Service at a Deployment's pods and port, and ops-watch at the processors' Services", () => {
    const services = ofKind('Service');
    for (const s of services) {
      const target = deployments.find(
        (d) => d.spec.template.metadata.labels['app.kubernetes.io/name'] === s.spec.selector['app.kubernetes.io/name'],
      );
      expect(target, s.metadata.name).toBeDefined();
      expect(s.spec.ports[0].targetPort).toBe('http');
    }
    const targets = loadConfig(configMap.data).ops.targets.map((t: { url: string }) => new URL(t.url));
    for (const u of targets) {
      const s = services.find((x) => x.metadata.name === u.hostname);
      expect(s, u.href).toBeDefined();
      expect(Number(u.port), u.href).toBe(s.spec.ports[0].port);
    }
  });

  it('runs the setup (migrate, topics, schemas) as the administrator with every user password, one Job per release', () => {
    const job = ofKind('Job')[0];
    const tag = (kustomization.images as Array<{ name: string; newTag: string }>).find((i) => i.name === 'txmon')?.newTag;
    expect(job.metadata.name).toBe(`txmon-setup-v${String(tag).replaceAll('.', '-')}`);
    expect(job.spec.ttlSecondsAfterFinished).toBeGreaterThan(0);
    expect(container(job).args[0]).toBe(
      'node bin/txmon.js migrate && node bin/txmon.js topics apply && node bin/txmon.js schemas register',
    );
    const env = envOf(job);
    for (const role of ['INGEST', 'RECONCILE', 'API', 'OPS']) expect(env[`TXMON_MYSQL_${role}_PASSWORD_FILE`], role).toBeTruthy();
  });
});

describe('Prometheus on Kubernetes (deploy/prometheus/kubernetes-scrape.yml)', () => {
  it("scrapes every processor's pods through a headless Service, in the job the alert rules read, on the pods' port", () => {
    const scrape = parseAllDocuments(
      readFileSync(join(ROOT, 'deploy/prometheus/kubernetes-scrape.yml'), 'utf8'),
    )[0]?.toJS() as Doc;
    const services = ofKind('Service');
    const jobs = new Map<string, Doc>((scrape.scrape_configs as Doc[]).map((j) => [j.job_name, j]));
    for (const d of deployments) {
      const processor = container(d).args[1] as string;
      const job = jobs.get(`txmon-${processor}`);
      expect(job, processor).toBeDefined();
      const sd = job.dns_sd_configs[0];
      const [serviceName, namespace] = (sd.names[0] as string).split('.');
      expect(namespace).toBe(kustomization.namespace);
      const service = services.find((x) => x.metadata.name === serviceName);
      expect(service, sd.names[0]).toBeDefined();
      expect(service.spec.clusterIP, `${serviceName} must be headless: one address per pod`).toBe('None');
      expect(service.spec.selector['app.kubernetes.io/name']).toBe(d.spec.template.metadata.labels['app.kubernetes.io/name']);
      expect(sd.port).toBe(PORTS[processor]);
      expect(service.spec.ports[0].port).toBe(PORTS[processor]);
    }
    expect(jobs.get('txmon-api').authorization.type).toBe('Bearer');
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  it('builds the compiled program and ships it with the runtime dependencies, run by bin/txmon.js as a non-root user', () => {
    expect(text).toMatch(/RUN npm run build && npm ci --omit=dev/);
    for (const m of text.matchAll(/^COPY --from=build \/app\/(\S+) /gm)) {
      const path = m[1] as string;
      // dist/ is what `npm run build` makes; the rest is in the checkout.
      expect(path === 'dist' || path === 'node_modules' || existsSync(join(ROOT, path)), path).toBe(true);
    }
    // What the first npm ci needs before the checkout is copied: its postinstall (the kafkajs fix).
    const early = text.slice(0, text.indexOf('RUN npm ci'));
    for (const m of early.matchAll(/^COPY (\S+) /gm)) expect(existsSync(join(ROOT, m[1] as string)), m[1]).toBe(true);
    const postinstall = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> })
      .scripts.postinstall as string;
    expect(early).toContain(`COPY ${postinstall.replace('node ', '')} `);
    expect(text).toMatch(/^USER node$/m);
    expect(text).toMatch(/^ENTRYPOINT \["node", "bin\/txmon.js"\]$/m);
    const build = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(build.scripts.build).toBeTruthy();
    expect(readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n')).toEqual(
      expect.arrayContaining(['node_modules', 'dist', '.txmon']),
    );
  });
});
