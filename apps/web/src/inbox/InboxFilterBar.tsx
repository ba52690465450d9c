import { FilterSelect, ListFilterBar } from '../runs/ListFilterBar';
import type { InboxFilters } from './queries';

const sortOptions = [
  { value: 'oldest', label: 'Waiting longest first' },
  { value: 'newest', label: 'Newest first' },
];

/** Sort order, template and project: sort and template apply at once, the project on Apply. */
export function InboxFilterBar({
  filters,
  onChange,
}: {
  filters: InboxFilters;
  onChange: (next: InboxFilters) => void;
}) {
  return (
    <ListFilterBar label="Filter the inbox" idPrefix="inbox" filters={filters} onChange={onChange}>
      <FilterSelect
        id="inbox-sort"
        label="Order"
        value={filters.sort}
        options={sortOptions}
        onChange={(value) =>
          onChange({ ...filters, sort: value === 'newest' ? 'newest' : 'oldest' })
        }
      />
    </ListFilterBar>
  );
}
