import { FilterSelect } from '../runs/ListFilterBar';
import { statusLabel } from '../runs/present';
import { isUnfinishedStatus, unfinishedStatuses, versionLabel } from './present';
import type { ImpactFilters } from './queries';

const statusOptions = [
  { value: '', label: 'Any unfinished status' },
  ...unfinishedStatuses.map((status) => ({ value: status, label: statusLabel(status) })),
];

/**
 * The report's filters, status and current version, each applied as soon as it is changed. The
 * version compared with is left out of the versions: no run on it is listed.
 */
export function ImpactFilterBar({
  filters,
  versionIds,
  targetVersionId,
  numbers,
  onChange,
}: {
  filters: ImpactFilters;
  /** The template's versions as far as they are loaded, newest first. */
  versionIds: string[];
  targetVersionId: string;
  numbers: ReadonlyMap<string, number>;
  onChange: (next: ImpactFilters) => void;
}) {
  const others = versionIds.filter((id) => id !== targetVersionId);
  // A version named in the address stays selectable even before (or without) the list.
  if (filters.currentVersionId !== null && !others.includes(filters.currentVersionId))
    others.unshift(filters.currentVersionId);
  return (
    <form
      className="filter-bar"
      aria-label="Filter the runs"
      onSubmit={(event) => event.preventDefault()}
    >
      <FilterSelect
        id="impact-status"
        label="Status"
        value={filters.status ?? ''}
        options={statusOptions}
        onChange={(value) =>
          onChange({ ...filters, status: isUnfinishedStatus(value) ? value : null })
        }
      />
      <FilterSelect
        id="impact-current-version"
        label="Current version"
        value={filters.currentVersionId ?? ''}
        options={[
          { value: '', label: 'Any other version' },
          ...others.map((id) => ({
            value: id,
            label: numbers.has(id) ? `${versionLabel(id, numbers)} (${id})` : id,
          })),
        ]}
        onChange={(value) =>
          onChange({ ...filters, currentVersionId: value === '' ? null : value })
        }
      />
    </form>
  );
}
