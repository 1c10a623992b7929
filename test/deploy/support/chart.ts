// The dice-stack chart as the deploy tests render it: one release name, namespace and Kubernetes
// version for every test, and helm template's manifests parsed into objects.
import { parseAllDocuments } from 'yaml';
import { expect } from 'vitest';
import { helm } from './tools.ts';

export const CHART = 'deploy/helm/dice-stack';
export const PRODUCTION = `${CHART}/values-production.yaml`;
/** The values every chart check renders: the chart's defaults and the production overrides, as helm arguments. */
export const VALUE_SETS: [string, string[]][] = [
  ['default values', []],
  ['production values', ['-f', PRODUCTION]],
];
// The Kubernetes version the manifests are rendered for (Capabilities.KubeVersion); the chart needs >= 1.28.
export const KUBE_VERSION = '1.37.0';
export const RELEASE = 'dice';
export const NAMESPACE = 'dice-stack';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
}

/** helm template's manifests (stdout only: helm logs each symlink it follows on stderr) and their objects. */
export function template(args: string[] = []): { text: string; objects: K8sObject[] } {
  const result = helm(['template', RELEASE, CHART, '--namespace', NAMESPACE, '--kube-version', KUBE_VERSION, ...args]);
  if (result.status !== 0) throw new Error(`helm template ${args.join(' ')} failed:\n${result.output}`);
  const objects = parseAllDocuments(result.stdout)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`helm template printed invalid YAML: ${doc.errors[0]!.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
  return { text: result.stdout, objects };
}

/** The one object of this kind (and name), failing the test when there are none or several. */
export function one(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(found, `exactly one ${kind}${name ? ` ${name}` : ''}`).toHaveLength(1);
  return found[0]!;
}
