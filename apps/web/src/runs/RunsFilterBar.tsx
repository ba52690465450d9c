import { useEffect, useState, type FormEvent } from 'react';
import { useTemplates } from '../inbox/queries';
import { isRunStatus, runStatuses, statusLabel } from './present';
import type { RunFilters } from './queries';

/** Status, template and project: the two lists apply at once, the project on Apply. */
export function RunsFilterBar({
  filters,
  onChange,
}: {
  filters: RunFilters;
  onChange: (next: RunFilters) => void;
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
    <form className="filter-bar" onSubmit={applyProject} aria-label="Filter the runs">
      <div className="field field-inline">
        <label htmlFor="runs-status">Status</label>
        <select
          id="runs-status"
          value={filters.status ?? ''}
          onChange={(event) => {
            const value = event.target.value;
            onChange({ ...filters, status: isRunStatus(value) ? value : null });
          }}
        >
          <option value="">Any status</option>
          {runStatuses.map((status) => (
            <option key={status} value={status}>
              {statusLabel(status)}
            </option>
          ))}
        </select>
      </div>
      <div className="field field-inline">
        <label htmlFor="runs-template">Template</label>
        <select
          id="runs-template"
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
        <label htmlFor="runs-project">Project</label>
        <input
          id="runs-project"
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
