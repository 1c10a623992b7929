// The dashboard variables of the dice service: its environment, then its replicas in it. Both come
// from the replicas' target_info (the app's scraped metrics carry no environment label; the
// replica list is what scopes them), so the names are the label names the queries filter on.
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { PROMETHEUS } from './datasources.ts';
import { spec } from './knobs.ts';

export function environmentVariable() {
  const query = `label_values(target_info{job="${spec.service}"}, deployment_environment_name)`;
  return new dashboard.QueryVariableBuilder('deployment_environment_name')
    .label('Environment')
    .description('deployment.environment.name of the replicas (from their target_info); span metrics and logs carry it as a label too.')
    .datasource(PROMETHEUS)
    .query(query)
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc);
}

export function replicaVariable() {
  const query = `label_values(target_info{job="${spec.service}", deployment_environment_name="$deployment_environment_name"}, instance)`;
  return new dashboard.QueryVariableBuilder('instance')
    .label('Replica')
    .description('service.instance.id: the `instance` label of app metrics and span metrics, and the `server` of the load balancer.')
    .datasource(PROMETHEUS)
    .query(query)
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.NaturalAsc)
    .multi(true)
    .includeAll(true)
    .current({ text: 'All', value: '$__all' });
}
