// The objects Prometheus's Kubernetes discovery reads (Pods, Services, Endpoints) for a cluster running
// the dice chart and the official charts with our values, made from rendered manifests as the cluster's
// controllers would make them. Modelled, each after the upstream code it mirrors:
//   - Pods of a Deployment/StatefulSet/DaemonSet: the pod template's labels and containers, running and
//     ready, one per replica (a DaemonSet: one per node), names as the controllers give them;
//   - Endpoints of a Service: kubernetes v1.37.2 pkg/controller/endpoint/endpoints_controller.go
//     (syncService: ready pods matching spec.selector; podutil.FindPort resolves a named targetPort);
//   - Prometheus and Alertmanager pods, created by prometheus-operator v0.93.1 from their resources:
//     pkg/prometheus/server/operator.go makeSelectorLabels (+ operator.prometheus.io/shard) and
//     pkg/alertmanager/statefulset.go; the containers and ports of their StatefulSets;
//   - the kubelet Service and Endpoints the operator maintains: pkg/kubelet/controller.go
//     (syncService, syncEndpoints: one address per node, ports https-metrics 10250, http-metrics 10255,
//     cadvisor 4194).
export type Labels = Record<string, string>;
export interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Labels };
  spec?: any;
  subsets?: any;
  status?: any;
}

export const NODES = ['node-a', 'node-b'];

const matches = (selector: Labels | undefined, labels: Labels | undefined) =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

let ip = 0;
const nextIp = () => `10.1.${Math.floor(++ip / 250)}.${(ip % 250) + 1}`;

function pod(namespace: string, name: string, labels: Labels, containers: any[], node: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: { nodeName: node, containers: containers.map((c) => ({ name: c.name, image: c.image ?? 'x', ports: c.ports ?? [] })) },
    status: { phase: 'Running', podIP: nextIp(), hostIP: '192.168.0.1', conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

/** The pods a workload runs. */
export function podsOf(w: Obj): Obj[] {
  const ns = w.metadata.namespace!;
  const t = w.spec.template;
  const labels: Labels = t.metadata?.labels ?? {};
  if (w.kind === 'DaemonSet') return NODES.map((n, i) => pod(ns, `${w.metadata.name}-${'abcde'[i]}x7k2`, labels, t.spec.containers, n));
  const replicas = w.spec.replicas ?? 1;
  return Array.from({ length: replicas }, (_, i) =>
    w.kind === 'StatefulSet'
      ? pod(ns, `${w.metadata.name}-${i}`, labels, t.spec.containers, NODES[i % NODES.length]!)
      : pod(ns, `${w.metadata.name}-5d9f7c6b8-${'qwert'[i % 5]}${i}z4m`, labels, t.spec.containers, NODES[i % NODES.length]!),
  );
}

/** Pods prometheus-operator creates for a Prometheus or an Alertmanager resource (see the header). */
export function operatorPods(cr: Obj): Obj[] {
  const name = cr.metadata.name;
  const ns = cr.metadata.namespace!;
  const port = cr.spec.portName ?? 'web';
  const reloader = { name: 'config-reloader', ports: [{ name: 'reloader-web', containerPort: 8080 }] };
  if (cr.kind === 'Prometheus') {
    const labels = {
      ...(cr.spec.podMetadata?.labels ?? {}),
      'app.kubernetes.io/managed-by': 'prometheus-operator',
      'app.kubernetes.io/name': 'prometheus',
      'app.kubernetes.io/instance': name,
      'operator.prometheus.io/name': name,
      'operator.prometheus.io/shard': '0',
      prometheus: name,
    };
    const containers = [{ name: 'prometheus', ports: [{ name: port, containerPort: 9090 }] }, reloader];
    return Array.from({ length: cr.spec.replicas ?? 1 }, (_, i) => pod(ns, `prometheus-${name}-${i}`, labels, containers, NODES[i % NODES.length]!));
  }
  const labels = {
    ...(cr.spec.podMetadata?.labels ?? {}),
    'app.kubernetes.io/managed-by': 'prometheus-operator',
    'app.kubernetes.io/name': 'alertmanager',
    'app.kubernetes.io/instance': name,
    alertmanager: name,
  };
  const containers = [{ name: 'alertmanager', ports: [{ name: port, containerPort: 9093 }] }, reloader];
  return Array.from({ length: cr.spec.replicas ?? 1 }, (_, i) => pod(ns, `alertmanager-${name}-${i}`, labels, containers, NODES[i % NODES.length]!));
}

/** The kubelet Service and Endpoints the operator maintains in kube-system (see the header). */
export function kubeletObjects(name: string): Obj[] {
  const labels = { 'k8s-app': 'kubelet', 'app.kubernetes.io/name': 'kubelet', 'app.kubernetes.io/managed-by': 'prometheus-operator' };
  const ports = [
    { name: 'https-metrics', port: 10250 },
    { name: 'http-metrics', port: 10255 },
    { name: 'cadvisor', port: 4194 },
  ];
  return [
    { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'kube-system', labels }, spec: { clusterIP: 'None', ports } },
    {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name, namespace: 'kube-system', labels },
      subsets: [{ addresses: NODES.map((n, i) => ({ ip: `192.168.0.${i + 1}`, targetRef: { kind: 'Node', name: n } })), ports }],
    },
  ];
}

/** Endpoints of each Service with a selector, as the endpoints controller makes them (see the header). */
export function endpointsOf(services: Obj[], pods: Obj[]): Obj[] {
  return services
    .filter((s) => s.spec?.selector && Object.keys(s.spec.selector).length > 0)
    .map((s) => {
      const selected = pods.filter((p) => p.metadata.namespace === s.metadata.namespace && matches(s.spec.selector, p.metadata.labels));
      const findPort = (p: Obj, target: number | string | undefined, port: number) => {
        if (target === undefined) return port;
        if (typeof target === 'number') return target;
        for (const c of p.spec.containers) for (const cp of c.ports ?? []) if (cp.name === target) return cp.containerPort as number;
        return undefined;
      };
      // One subset per distinct port mapping (the controller repacks by ports); here: per pod.
      const subsets = selected
        .map((p) => {
          const ports = (s.spec.ports ?? [])
            .map((sp: any) => ({ name: sp.name, port: findPort(p, sp.targetPort, sp.port), protocol: sp.protocol ?? 'TCP' }))
            .filter((x: any) => x.port !== undefined);
          return {
            addresses: [{ ip: p.status.podIP, nodeName: p.spec.nodeName, targetRef: { kind: 'Pod', name: p.metadata.name, namespace: p.metadata.namespace } }],
            ports,
          };
        })
        .filter((x) => x.ports.length > 0);
      return { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: s.metadata.name, namespace: s.metadata.namespace, labels: s.metadata.labels }, subsets };
    });
}
