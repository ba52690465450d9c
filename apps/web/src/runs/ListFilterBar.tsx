import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { useTemplates } from '../inbox/queries';

/** The filters a list of runs shares with the inbox: a template, and a project by name. */
interface TemplateProjectFilters {
  template: string | null;
  project: string | null;
}

interface ListFilterBarProps<Filters extends TemplateProjectFilters> {
  /** The form's accessible name ("Filter the runs"). */
  label: string;
  /** Prefixes the fields' ids, which the labels point at: one per page. */
  idPrefix: string;
  filters: Filters;
  onChange: (next: Filters) => void;
  /** The list's own fields, before the template and the project. */
  children: ReactNode;
}

interface FilterSelectProps {
  id: string;
  label: string;
  value: string;
  options: { value: string; label: string }[];
  onChange: (value: string) => void;
}

/** One list to choose from, applied as soon as it is changed. */
export function FilterSelect({ id, label, value, options, onChange }: FilterSelectProps) {
  return (
    <div className="field field-inline">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(event) => onChange(event.target.value)}>
        {options.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
    </div>
  );
}

/**
 * A list's filter bar (the Runs page, the inbox): its own fields, then the template, which applies
 * at once, and the project, which applies on Apply (typing a name should not reload the list).
 */
export function ListFilterBar<Filters extends TemplateProjectFilters>({
  label,
  idPrefix,
  filters,
  onChange,
  children,
}: ListFilterBarProps<Filters>) {
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
    <form className="filter-bar" onSubmit={applyProject} aria-label={label}>
      {children}
      <FilterSelect
        id={`${idPrefix}-template`}
        label="Template"
        value={filters.template ?? ''}
        options={[
          { value: '', label: 'All templates' },
          ...names.map((name) => ({ value: name, label: name })),
        ]}
        onChange={(value) => onChange({ ...filters, template: value === '' ? null : value })}
      />
      <div className="field field-inline">
        <label htmlFor={`${idPrefix}-project`}>Project</label>
        <input
          id={`${idPrefix}-project`}
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
