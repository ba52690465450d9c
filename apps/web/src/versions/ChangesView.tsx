import {
  groupByRelation,
  kindText,
  stepChangeText,
  textChangeCaption,
  type RelationGroup,
} from './presenters';
import type { ModuleChange, VersionChangeView } from './types';
import { UnifiedDiff } from './UnifiedDiff';

function ModuleChangeItem({ change }: { change: ModuleChange }) {
  const otherFields = change.fields.filter(
    (field) => !change.text_changes.some((text) => text.field.split(/[.[]/)[0] === field),
  );
  return (
    <li className="change-item">
      <h4 className="change-title">
        <span className="mono">
          {change.step_id} / {change.module_name}
        </span>{' '}
        <span className={`badge change-${change.change}`}>{kindText(change.change)}</span>
      </h4>
      {change.change === 'changed' && change.fields.length > 0 && (
        <p className="change-fields">
          What differs: <span className="mono">{change.fields.join(', ')}</span>
          {otherFields.length > 0 && change.text_changes.length > 0 && (
            <span className="muted"> (no text shown for {otherFields.join(', ')})</span>
          )}
        </p>
      )}
      {change.text_changes.map((text) => (
        <UnifiedDiff
          key={text.field}
          caption={textChangeCaption(text.field, change.change)}
          diff={text.diff}
        />
      ))}
    </li>
  );
}

function RelationSection({ group }: { group: RelationGroup }) {
  const headingId = `changes-${group.relation}`;
  return (
    <section className={`change-group change-group-${group.relation}`} aria-labelledby={headingId}>
      <h3 id={headingId}>{group.heading}</h3>
      {group.steps.length > 0 && (
        <ul className="step-changes">
          {group.steps.map((step) => (
            <li key={step.step_id}>
              Step <span className="mono">{step.step_id}</span>: {stepChangeText(step)}
            </li>
          ))}
        </ul>
      )}
      {group.modules.length > 0 && (
        <ul className="change-list">
          {group.modules.map((module) => (
            <ModuleChangeItem key={`${module.step_id}/${module.module_name}`} change={module} />
          ))}
        </ul>
      )}
    </section>
  );
}

/**
 * The server's warning: the run has ended (only a new run applies), or continuing with the new
 * version would leave changes behind the run, or the run's position is not in it.
 */
export function BehindWarning({ view, runEnded }: { view: VersionChangeView; runEnded: boolean }) {
  if (view.warning === null && view.behind_position.length === 0) return null;
  const title = runEnded
    ? 'The run has ended'
    : view.behind_position.length > 0
      ? 'A change lies behind the run’s position'
      : 'The run’s position is not in this version';
  return (
    <div className="notice notice-warning" role="alert">
      <p className="notice-title">{title}</p>
      {view.warning !== null && <p>{view.warning}</p>}
      {/* What continuing would leave out: an ended run does not continue. */}
      {!runEnded && view.behind_position.length > 0 && (
        <ul>
          {view.behind_position.map((behind) => (
            <li key={`${behind.step_id}/${behind.module_name}`}>{behind.message}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** Every step and module change, grouped by where it lies against the run's position. */
export function ChangesView({ view }: { view: VersionChangeView }) {
  const groups = groupByRelation(view.changes);
  const { position, position_exists: positionExists } = view.changes;
  return (
    <div className="changes">
      {position !== null && !positionExists && (
        <p className="notice">
          The run’s position (step <span className="mono">{position.step_id}</span>, module{' '}
          <span className="mono">{position.module_name}</span>) is not in this version.
        </p>
      )}
      {groups.length === 0 ? (
        <p>
          No step or module differs (settings outside the steps, such as the initial state, are not
          compared here).
        </p>
      ) : (
        <>
          <p className="field-help">
            In the texts below, a line starting with <span className="mono">-</span> was removed and
            a line starting with <span className="mono">+</span> was added.
          </p>
          {groups.map((group) => (
            <RelationSection key={group.relation} group={group} />
          ))}
        </>
      )}
    </div>
  );
}
