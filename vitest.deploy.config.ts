// `npm run test:deploy`: the Kubernetes deployment (deploy/helm) checked with no cluster: helm lint
// and helm template at the pinned Helm, every rendered object validated by kube-validate
// (deploy/tools/kube-validate) as a kube-apiserver 1.37 would decode and validate it and dry-run
// applied to a real one (its cmd/kube-dryrun: kube-apiserver and etcd, ~17 s a start), the merged
// Alertmanager routed by amtool, and the label contract (deploy/tools/label-contract).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/deploy/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
