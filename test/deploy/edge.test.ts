// The dice-stack chart's edge (HAProxy, templates/edge-*.yaml): the SLO rules measure availability and
// latency on its frontend `public`, as in compose, so in Kubernetes it must run compose's haproxy.cfg
// with only the listed overrides (scripts/deploy/generate-chart-files.ts), be scraped as compose's job
// "load-balancer", and keep DiceApiReplicaDown meaningful with server-template slots. Checked with this
// machine's haproxy (`haproxy -c`, and a live run against stand-in replicas and a real dnsmasq) and the
// pinned promtool on the live run's metrics.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dnsmasqCommand, resolvConf, resolvesTo } from '../../scripts/native/dns.ts';
import { HAPROXY_OVERRIDES, renderHaproxyConfig, revertHaproxyOverrides, withoutHeaderComment } from '../../scripts/deploy/generate-chart-files.ts';
import { binary, ROOT } from '../config/support/tools.ts';
import { CHART, KUBE_VERSION, NAMESPACE, one, PRODUCTION, RELEASE, template as render, type K8sObject } from './support/chart.ts';
import { helm } from './support/tools.ts';

const EDGE = `${RELEASE}-dice-stack-edge`;
const API = `${RELEASE}-dice-stack-api`;

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const dotenv = Object.fromEntries([...read('.env').matchAll(/^([A-Z_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));


const envOf = (container: any): Record<string, string> => Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));

const haproxyVersion = /HAProxy version (\d+\.\d+\.\d+)/.exec(spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).stdout ?? '')?.[1];

/** What the kubelet mounts at /usr/local/etc/haproxy: the ConfigMap's keys at the paths the `config` volume gives them. */
function mountedConfig(rendered: K8sObject[]): Record<string, string> {
  const data = one(rendered, 'ConfigMap', EDGE).data!;
  const volume = one(rendered, 'Deployment', EDGE).spec.template.spec.volumes.find((v: { name: string }) => v.name === 'config');
  return Object.fromEntries(volume.configMap.items.map(({ key, path }: { key: string; path: string }) => [path, data[key]!]));
}

function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

/** `haproxy -c` on the mounted files (haproxy.cfg and its errorfiles), in the environment given (nothing of this process's but PATH). */
function haproxyCheck(files: Record<string, string>, env: Record<string, string>): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dice-edge-check-'));
  try {
    writeFiles(dir, files);
    const result = spawnSync('haproxy', ['-c', '-f', join(dir, 'haproxy.cfg')], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the edge config: compose\'s haproxy.cfg with the listed overrides only', () => {
  it('files/haproxy.cfg is what the generator makes of observability/haproxy/haproxy.cfg', () => {
    expect(read(`${CHART}/files/haproxy.cfg`), 'stale or hand-edited: run node scripts/deploy/generate-chart-files.ts').toBe(renderHaproxyConfig());
  });

  it('putting compose\'s lines back where the overrides are gives compose\'s config, comment header aside', () => {
    const generated = withoutHeaderComment(read(`${CHART}/files/haproxy.cfg`));
    const compose = withoutHeaderComment(read('observability/haproxy/haproxy.cfg'));
    expect(revertHaproxyOverrides(generated)).toBe(compose);
    // Every override applied, none a no-op.
    for (const { from, to } of HAPROXY_OVERRIDES) {
      expect(generated).toContain(`\n${to.join('\n')}\n`);
      expect(to).not.toEqual(from);
    }
  });

  it('the generator stops when compose\'s server lines change', () => {
    const source = read('observability/haproxy/haproxy.cfg');
    expect(() => renderHaproxyConfig(source.replace('server dice-api-2 dice-api-2:8000', 'server dice-api-2 dice-api-2:8001'))).toThrow(/found 0:\n    server dice-api-1/);
    expect(() => renderHaproxyConfig(source.replace('    hold valid 2s\n', '    hold valid 5s\n'))).toThrow(/hold valid 2s/);
  });
});

describe.skipIf(!haproxyVersion)(`the rendered edge (haproxy -c on this machine's HAProxy ${haproxyVersion ?? '(not installed: apt-get install haproxy)'})`, () => {
  let objects: K8sObject[], prod: K8sObject[];
  beforeAll(() => {
    objects = render().objects;
    prod = render(['-f', PRODUCTION]).objects;
  });
  const edgeOf = (rendered: K8sObject[]) => {
    const deployment = one(rendered, 'Deployment', EDGE);
    return { deployment, pod: deployment.spec.template.spec, container: deployment.spec.template.spec.containers[0] };
  };

  it.each([['default', false], ['production', true]])('the ConfigMap holds files/haproxy.cfg byte for byte and haproxy -c accepts it in the Deployment\'s environment (%s values)', (_name, production) => {
    const rendered = production ? prod : objects;
    const config = one(rendered, 'ConfigMap', EDGE).data!['haproxy.cfg']!;
    expect(config).toBe(read(`${CHART}/files/haproxy.cfg`));
    // The problem+json errorfiles, byte for byte, at errors/ beside haproxy.cfg (its `default-path config`).
    const mounted = mountedConfig(rendered);
    const errorfiles = readdirSync(join(ROOT, 'observability/haproxy/errors')).sort();
    expect(Object.keys(mounted).sort()).toEqual(['haproxy.cfg', ...errorfiles.map((f) => `errors/${f}`)].sort());
    for (const file of errorfiles) expect(mounted[`errors/${file}`], file).toBe(readFileSync(join(ROOT, 'observability/haproxy/errors', file), 'latin1'));
    const { container } = edgeOf(rendered);
    const env = envOf(container);
    // Every variable the config reads is set by the Deployment, but LISTEN_HOST, unset on purpose
    // (every interface), as in compose.
    const needed = [...new Set([...config.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]!))];
    expect(needed.filter((name) => !(name in env)).sort()).toEqual(['LISTEN_HOST']);
    const result = haproxyCheck(mounted, env);
    expect(result.status, result.output).toBe(0);
    expect(result.output).toContain('Configuration file is valid');
    // The slots are named as compose's servers: dice-api-1, dice-api-2, then on.
    const slots = Number(env.DICE_API_SLOTS);
    const names = [...result.output.matchAll(/'server dice-api\/([^']+)'/g)].map((m) => m[1]);
    const compose = [...read('observability/haproxy/haproxy.cfg').matchAll(/^\s*server (\S+) /gm)].map((m) => m[1]);
    expect(names).toEqual(Array.from({ length: slots }, (_, i) => `dice-api-${i + 1}`));
    expect(names.slice(0, compose.length)).toEqual(compose);
    expect(container.command).toEqual(['haproxy', '-W', '-db', '-f', '/usr/local/etc/haproxy/haproxy.cfg']);
    expect(container.volumeMounts).toContainEqual({ name: 'config', mountPath: '/usr/local/etc/haproxy', readOnly: true });
  });

  it('a config that is not valid HAProxy fails the same check (the check can fail)', () => {
    const config = one(objects, 'ConfigMap', EDGE).data!['haproxy.cfg']!.replace('balance roundrobin', 'balance nosuchalgorithm');
    expect(haproxyCheck({ ...mountedConfig(objects), 'haproxy.cfg': config }, envOf(edgeOf(objects).container)).status).not.toBe(0);
  });

  it('has a slot for every dice-api pod there can be: replicas or the autoscaler\'s maximum, plus the spare ones', () => {
    const values = parse(read(`${CHART}/values.yaml`));
    const prodValues = parse(read(PRODUCTION));
    expect(envOf(edgeOf(objects).container).DICE_API_SLOTS).toBe(String(values.api.replicaCount + values.edge.spareServerSlots));
    expect(prodValues.api.autoscaling.enabled).toBe(true);
    expect(envOf(edgeOf(prod).container).DICE_API_SLOTS).toBe(String(prodValues.api.autoscaling.maxReplicas + values.edge.spareServerSlots));
  });

  it('finds the replicas through a headless Service of the API pods that lists not-ready ones too, by its full DNS name', () => {
    const headless = one(objects, 'Service', `${API}-headless`);
    const api = one(objects, 'Deployment', API);
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.publishNotReadyAddresses, 'HAProxy\'s check, not the Service, takes a failing replica out (DiceApiReplicaDown)').toBe(true);
    expect(headless.spec.selector).toEqual(api.spec.selector.matchLabels);
    const apiPort = api.spec.template.spec.containers[0].ports.find((p: { name: string }) => p.name === 'http').containerPort;
    expect(headless.spec.ports).toEqual([{ name: 'http', port: apiPort, targetPort: 'http', protocol: 'TCP' }]);
    const env = envOf(edgeOf(objects).container);
    expect(env.DICE_API_HEADLESS_SERVICE).toBe(`${headless.metadata.name}.${NAMESPACE}.svc.cluster.local`);
    expect(env.DICE_API_PORT).toBe(String(apiPort));
  });

  it("runs compose's image (HAPROXY_VERSION), non-root on a read-only root, port 80 by the sysctl compose sets", () => {
    const { pod, container } = edgeOf(objects);
    expect(read('docker-compose.yml')).toContain('image: haproxy:${HAPROXY_VERSION');
    expect(container.image).toBe(`haproxy:${dotenv.HAPROXY_VERSION}`);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 99, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.securityContext.sysctls).toEqual([{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }]);
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(container.ports).toEqual([
      { name: 'http', containerPort: 80, protocol: 'TCP' },
      { name: 'metrics', containerPort: 8405, protocol: 'TCP' },
    ]);
    expect(container.resources.limits.memory).toBeDefined();
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(Number(container.lifecycle.preStop.exec.command[1]));
  });

  it('default: two replicas, a PDB, a ClusterIP Service on port 80; production: two replicas, a LoadBalancer', () => {
    for (const [rendered, type] of [[objects, 'ClusterIP'], [prod, 'LoadBalancer']] as const) {
      const { deployment } = edgeOf(rendered);
      expect(deployment.spec.replicas).toBe(2);
      expect(one(rendered, 'PodDisruptionBudget', EDGE).spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: deployment.spec.selector.matchLabels } });
      const service = one(rendered, 'Service', EDGE);
      expect(service.spec.type).toBe(type);
      expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
      expect(service.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);
    }
    expect(one(prod, 'Service', EDGE).spec.externalTrafficPolicy).toBe('Local');
  });

  it("is scraped as prometheus.yml's load-balancer job, the job the dashboards select, without unfilled slots (no-maint)", () => {
    const prometheus = parse(read('observability/prometheus/prometheus.yml'));
    // compose's job scraping the balancer: the one whose target is the load-balancer service.
    const jobs = prometheus.scrape_configs.filter((j: any) => j.static_configs?.some((s: any) => s.targets.some((t: string) => t.startsWith('load-balancer:'))));
    expect(jobs).toHaveLength(1);
    const job = jobs[0].job_name as string;
    const monitor = one(objects, 'PodMonitor', EDGE);
    const { deployment, container } = edgeOf(objects);
    expect(monitor.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    const [endpoint, ...others] = monitor.spec.podMetricsEndpoints;
    expect(others).toEqual([]);
    expect(endpoint.relabelings).toContainEqual({ action: 'replace', targetLabel: 'job', replacement: job });
    expect(endpoint.relabelings.filter((r: any) => r.targetLabel === 'job')).toHaveLength(1);
    expect(endpoint.params).toEqual({ 'no-maint': [''] });
    expect(endpoint.interval).toBe(jobs[0].scrape_interval);
    // The port compose's job scrapes is the metrics frontend's, which the PodMonitor's port names.
    const port = Number(jobs[0].static_configs[0].targets[0].split(':')[1]);
    expect(container.ports).toContainEqual({ name: endpoint.port, containerPort: port, protocol: 'TCP' });
    expect(read(`${CHART}/files/haproxy.cfg`)).toContain(`bind "\${LISTEN_HOST}:${port}"`);
    // Dashboards select the balancer's series by that job.
    const dashboards = read('observability/grafana/dashboards/dice-api-health.json');
    const selected = new Set([...dashboards.matchAll(/haproxy_[a-z_]+\{[^}]*job=\\"([^"\\]+)\\"/g)].map((m) => m[1]));
    expect([...selected]).toEqual([job]);
    expect(monitor.metadata.labels).toMatchObject(parse(read(`${CHART}/values.yaml`)).monitoring.labels);
  });
});

// ---------------------------------------------------------------------------------------------------
// Live: the rendered config in this machine's haproxy, a dnsmasq answering the headless name with two
// addresses, two stand-in replicas. Loopback addresses of DICE_STACK_SUBNET that neither the native
// stack nor test/config/haproxy.test.ts uses.
const SUBNET = process.env.DICE_STACK_SUBNET ?? '127.0.1';
const LB = `${SUBNET}.231`;
const DNS = `${SUBNET}.252`;
const REPLICAS = [`${SUBNET}.241`, `${SUBNET}.242`];
const isRoot = process.getuid?.() === 0;

async function until<T>(what: () => string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const metrics = async (query = '') => (await fetch(`http://${LB}:8405/metrics${query}`)).text();
const serverStatus = (text: string) =>
  [...text.matchAll(/^haproxy_server_status\{proxy="dice-api",server="([^"]+)",state="([A-Z]+)"\} (\d+)$/gm)].map((m) => ({ server: m[1]!, state: m[2]!, value: Number(m[3]) }));

/**
 * promtool test rules on dice-alerts.yml with the scraped haproxy_server_status as input, expecting
 * DiceApiReplicaDown quiet. Asynchronous: the stand-in replicas answer HAProxy's checks from this
 * process's event loop, which a synchronous spawn would block long enough for them to go DOWN.
 */
async function replicaDownQuiet(scraped: string, dir: string): Promise<{ status: number | null; output: string }> {
  const series = serverStatus(scraped).map((s) => ({
    series: `haproxy_server_status{job="load-balancer",instance="edge-0",proxy="dice-api",server="${s.server}",state="${s.state}"}`,
    values: `${s.value}x10`,
  }));
  const file = join(dir, 'replica-down.test.yml');
  writeFileSync(
    file,
    JSON.stringify({
      rule_files: [join(ROOT, 'observability/prometheus/rules/dice-alerts.yml')],
      evaluation_interval: '1m',
      tests: [{ interval: '1m', input_series: series, alert_rule_test: [{ eval_time: '5m', alertname: 'DiceApiReplicaDown', exp_alerts: [] }] }],
    }),
  );
  const promtool = spawn(binary('promtool'), ['test', 'rules', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  for (const stream of [promtool.stdout!, promtool.stderr!]) stream.on('data', (c: Buffer) => (output += c.toString()));
  const status = await new Promise<number | null>((resolve, reject) => promtool.once('error', reject).once('close', resolve));
  return { status, output };
}

describe.skipIf(!isRoot || !haproxyVersion)(
  `the rendered edge live: HAProxy ${haproxyVersion ?? '(not installed)'}, a real DNS, two stand-in replicas (skipped unless root with haproxy: needs a mount namespace)`,
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'dice-edge-live-'));
    chmodSync(dir, 0o755); // dnsmasq re-reads its hosts file as nobody
    const served = new Map<string, number>(REPLICAS.map((a) => [a, 0]));
    const servers: Server[] = [];
    let dns: ChildProcess, haproxy: ChildProcess;
    let log = '';
    let slots = 0;
    let scrape = '';

    beforeAll(async () => {
      binary('promtool'); // its path found now, synchronously, before the stand-ins must answer checks
      const objects = render().objects;
      const env = envOf(one(objects, 'Deployment', EDGE).spec.template.spec.containers[0]);
      slots = Number(env.DICE_API_SLOTS);
      // The query string Prometheus sends for the PodMonitor's params.
      const params = one(objects, 'PodMonitor', EDGE).spec.podMetricsEndpoints[0].params as Record<string, string[]> | undefined;
      scrape = `?${new URLSearchParams(Object.entries(params ?? {}).flatMap(([k, vs]) => vs.map((v): [string, string] => [k, v])))}`;
      writeFiles(dir, mountedConfig(objects));
      writeFileSync(join(dir, 'hosts'), REPLICAS.map((a) => `${a} ${env.DICE_API_HEADLESS_SERVICE}\n`).join(''));
      writeFileSync(join(dir, 'resolv.conf'), resolvConf(DNS));
      for (const address of REPLICAS) {
        const server = createServer((req, res) => {
          if (req.url !== '/health/ready') served.set(address, served.get(address)! + 1);
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ address }));
        });
        await new Promise<void>((resolve, reject) => server.once('error', reject).listen(Number(env.DICE_API_PORT), address, resolve));
        servers.push(server);
      }
      const d = dnsmasqCommand(DNS, join(dir, 'hosts'));
      dns = spawn(d.command, d.args, { stdio: ['ignore', 'pipe', 'pipe'] });
      for (const s of [dns.stdout!, dns.stderr!]) s.on('data', (c: Buffer) => (log += `dnsmasq: ${c}`));
      await until(() => `dnsmasq on ${DNS} (${log})`, async () => ((await resolvesTo(DNS, env.DICE_API_HEADLESS_SERVICE!)) ? true : undefined), 10_000);
      // The pod's environment, and LISTEN_HOST (compose's own knob) to keep it on one loopback address.
      haproxy = spawn(
        'unshare',
        ['--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /etc/resolv.conf && exec "$@"', join(dir, 'resolv.conf'), 'haproxy', '-db', '-f', join(dir, 'haproxy.cfg')],
        { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env, LISTEN_HOST: LB }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      for (const s of [haproxy.stdout!, haproxy.stderr!]) s.on('data', (c: Buffer) => (log += `haproxy: ${c}`));
      await until(
        () => `both replicas UP (log:\n${log})`,
        async () => (serverStatus(await metrics(scrape)).filter((s) => s.state === 'UP' && s.value === 1).length === 2 ? true : undefined),
      );
    }, 40_000);

    afterAll(async () => {
      haproxy?.kill('SIGKILL');
      dns?.kill('SIGKILL');
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
      }
      rmSync(dir, { recursive: true, force: true });
    });

    it('both replicas behind the headless name take traffic, and the frontend counts it for the availability SLI', async () => {
      const before = Number(/^haproxy_frontend_http_responses_total\{proxy="public",code="2xx"\} (\d+)$/m.exec(await metrics())?.[1] ?? NaN);
      for (let i = 0; i < 20; i++) expect((await fetch(`http://${LB}/roll`)).status).toBe(200);
      expect([...served.values()], 'requests served by each stand-in').toEqual([10, 10]);
      const after = Number(/^haproxy_frontend_http_responses_total\{proxy="public",code="2xx"\} (\d+)$/m.exec(await metrics())?.[1] ?? NaN);
      expect(after - before).toBe(20);
    });

    it('scraped as the PodMonitor does (no-maint), the filled slots are UP and no other slot appears', async () => {
      const status = serverStatus(await metrics(scrape));
      expect(status.filter((s) => s.state === 'UP')).toEqual([
        { server: 'dice-api-1', state: 'UP', value: 1 },
        { server: 'dice-api-2', state: 'UP', value: 1 },
      ]);
      expect(new Set(status.map((s) => s.server))).toEqual(new Set(['dice-api-1', 'dice-api-2']));
    });

    it('without no-maint the unfilled slots are in MAINT with state="UP" 0, and DiceApiReplicaDown would fire for them', async () => {
      const plain = await metrics();
      const maint = serverStatus(plain).filter((s) => s.state === 'MAINT' && s.value === 1).map((s) => s.server);
      expect(maint).toEqual(Array.from({ length: slots - 2 }, (_, i) => `dice-api-${i + 3}`));
      const fired = await replicaDownQuiet(plain, dir);
      expect(fired.status).not.toBe(0);
      for (const server of maint) expect(fired.output).toContain(`server="${server}"`);
    });

    it("DiceApiReplicaDown (observability/prometheus/rules/dice-alerts.yml, unchanged) stays quiet on the PodMonitor's scrape", async () => {
      const quiet = await replicaDownQuiet(await metrics(scrape), dir);
      expect(quiet.status, quiet.output).toBe(0);
    });

    it('a replica that fails its readiness check is DOWN in the PodMonitor\'s scrape, and DiceApiReplicaDown fires for it', async () => {
      // The headless Service publishes not-ready pods: the name still resolves, HAProxy's check fails.
      servers[1]!.closeAllConnections();
      await new Promise((r) => servers[1]!.close(r));
      // Which slot holds which address is HAProxy's choice: the one that goes DOWN is the stopped one.
      const text = await until(
        () => `one slot DOWN (log:\n${log})`,
        async () => {
          const t = await metrics(scrape);
          return serverStatus(t).filter((s) => s.state === 'DOWN' && s.value === 1).length === 1 ? t : undefined;
        },
      );
      const down = serverStatus(text).find((s) => s.state === 'DOWN' && s.value === 1)!.server;
      const up = ['dice-api-1', 'dice-api-2'].find((s) => s !== down)!;
      expect(serverStatus(text)).toContainEqual({ server: up, state: 'UP', value: 1 });
      const fired = await replicaDownQuiet(text, dir);
      expect(fired.status).not.toBe(0);
      expect(fired.output).toContain(`server="${down}"`);
      expect(fired.output).not.toContain(`server="${up}"`);
    });
  },
);
