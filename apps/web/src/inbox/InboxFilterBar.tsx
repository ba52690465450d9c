import { useEffect, useState, type FormEvent } from 'react';
import type { InboxFilters } from './queries';
import { useTemplates } from './queries';

/** Sort order, template and project: sort and template apply at once, the project on Apply. */
export function InboxFilterBar({
  filters,
  onChange,
}: {
  filters: InboxFilters;
  onChange: (next: InboxFilters) => void;
}) {
  const templates = useTemplates();
  const [project, setProject] = useState(filters.project ?? '');
  // Follow the address when it changes by other means (back button, a link).
  useEffect(() => setProject(filters.project ?? ''), [filters.project]);

  const applyProject = (event: FormEvent) => {
    event.preventDefault();
    const trimmed = project.trim();
    onChange({ ...filters, project: trimmed === '' ? null : trimmed });
  };

  const names = templates.data?.map((template) => template.workflow_template_name) ?? [];
  // A template named in the address stays selectable even before (or without) the list.
  if (filters.template !== null && !names.includes(filters.template))
    names.unshift(filters.template);

  return (
    <form className="filter-bar" onSubmit={applyProject} aria-label="Filter the inbox">
      <div className="field field-inline">
        <label htmlFor="inbox-sort">Order</label>
        <select
          id="inbox-sort"
          value={filters.sort}
          onChange={(event) =>
            onChange({ ...filters, sort: event.target.value === 'newest' ? 'newest' : 'oldest' })
          }
        >
          <option value="oldest">Waiting longest first</option>
          <option value="newest">Newest first</option>
        </select>
      </div>
      <div className="field field-inline">
        <label htmlFor="inbox-template">Template</label>
        <select
          id="inbox-template"
          value={filters.template ?? ''}
          onChange={(event) =>
            onChange({
              ...filters,
              template: event.target.value === '' ? null : event.target.value,
            })
          }
        >
          <option value="">All templates</option>
          {names.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      </div>
      <div className="field field-inline">
        <label htmlFor="inbox-project">Project</label>
        <input
          id="inbox-project"
          type="search"
          value={project}
          placeholder="All projects"
          onChange={(event) => setProject(event.target.value)}
        />
      </div>
      <button type="submit" className="button">
        Apply
      </button>
    </form>
  );
}
