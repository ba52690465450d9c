import { FilterSelect, ListFilterBar } from './ListFilterBar';
import { isRunStatus, runStatuses, statusLabel } from './present';
import type { RunFilters } from './queries';

const statusOptions = [
  { value: '', label: 'Any status' },
  ...runStatuses.map((status) => ({ value: status, label: statusLabel(status) })),
];

/** Status, template and project: the two lists apply at once, the project on Apply. */
export function RunsFilterBar({
  filters,
  onChange,
}: {
  filters: RunFilters;
  onChange: (next: RunFilters) => void;
}) {
  return (
    <ListFilterBar label="Filter the runs" idPrefix="runs" filters={filters} onChange={onChange}>
      <FilterSelect
        id="runs-status"
        label="Status"
        value={filters.status ?? ''}
        options={statusOptions}
        onChange={(value) => onChange({ ...filters, status: isRunStatus(value) ? value : null })}
      />
    </ListFilterBar>
  );
}
