import type { paths } from '@stepwise/client';
import { ErrorNotice, Loading } from '../layout/Status';
import { formatCost, formatCount } from './format';
import { useUsage } from './queries';

type UsageReport =
  paths['/v1/runs/{id}/usage']['get']['responses'][200]['content']['application/json'];

interface ModuleUsage {
  module: string;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  cost: number;
}

/** The provider calls summed by module (`step.module`), in the order each first called. */
export function usageByModule(items: UsageReport['items']): ModuleUsage[] {
  const rows = new Map<string, ModuleUsage>();
  for (const item of items) {
    const module = `${item.step_id}.${item.module_name}`;
    const row = rows.get(module) ?? { module, calls: 0, inputTokens: 0, outputTokens: 0, cost: 0 };
    row.calls += 1;
    row.inputTokens += item.input_tokens;
    row.outputTokens += item.output_tokens;
    row.cost += item.total_cost;
    rows.set(module, row);
  }
  return [...rows.values()];
}

/** Tokens and cost of the run's paid provider calls, by module, with the totals. */
export function UsageSection({ runId }: { runId: string }) {
  const usage = useUsage(runId);
  const report = usage.data;
  const rows = report ? usageByModule(report.items) : [];
  return (
    <section className="run-panel" aria-labelledby="usage-heading">
      <h2 id="usage-heading">Usage and cost</h2>
      {usage.isPending && <Loading label="Loading the usage" />}
      {usage.isError && <ErrorNotice error={usage.error} />}
      {report && rows.length === 0 && (
        <p className="muted">No paid provider calls in this run: no cost.</p>
      )}
      {report && rows.length > 0 && (
        // The side column is narrow: the table may scroll sideways, so its region takes the focus
        // (keyboard users scroll it with the arrow keys; axe's scrollable-region-focusable).
        <div
          className="table-wrap"
          tabIndex={0}
          role="region"
          aria-label="Usage and cost by module"
        >
          <table className="keys-table usage-table">
            <caption className="visually-hidden">Usage and cost by module</caption>
            <thead>
              <tr>
                <th scope="col">Module</th>
                <th scope="col">Calls</th>
                <th scope="col">Input tokens</th>
                <th scope="col">Output tokens</th>
                <th scope="col">Cost</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={row.module}>
                  <th scope="row" className="mono">
                    {row.module}
                  </th>
                  <td>{formatCount(row.calls)}</td>
                  <td>{formatCount(row.inputTokens)}</td>
                  <td>{formatCount(row.outputTokens)}</td>
                  <td>{formatCost(row.cost)}</td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr>
                <th scope="row">Total</th>
                <td>{formatCount(report.totals.calls)}</td>
                <td>{formatCount(report.totals.input_tokens)}</td>
                <td>{formatCount(report.totals.output_tokens)}</td>
                <td>{formatCost(report.totals.total_cost)}</td>
              </tr>
            </tfoot>
          </table>
        </div>
      )}
      {report && (report.failed.calls > 0 || report.lost.calls > 0) && (
        <p className="muted">
          {report.failed.calls} failed and {report.lost.calls} lost calls (a lost call may have been
          billed by its provider).
        </p>
      )}
    </section>
  );
}
