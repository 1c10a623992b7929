// The data sources every dashboard refers to, by the stable UIDs that
// observability/grafana/provisioning/datasources/datasources.yaml gives them. Dashboards never name
// a data source any other way; test/config/grafana.test.ts checks that each UID used is provisioned.
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';

export const PROMETHEUS = { type: 'prometheus', uid: 'prometheus' } as const satisfies DataSourceRef;
export const TEMPO = { type: 'tempo', uid: 'tempo' } as const satisfies DataSourceRef;
export const LOKI = { type: 'loki', uid: 'loki' } as const satisfies DataSourceRef;
export const ALERTMANAGER = { type: 'alertmanager', uid: 'alertmanager' } as const satisfies DataSourceRef;
