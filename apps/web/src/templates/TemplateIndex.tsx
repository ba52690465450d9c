import { Link } from 'react-router';
import { useTemplates } from '../inbox/queries';
import { ErrorNotice, Loading } from '../layout/Status';
import { templatePath } from '../runs/present';
import { useDocumentTitle } from '../util/title';
import { formatDateTime } from '../util/time';
import { SubmitWorkflow } from './SubmitWorkflow';

/** The person's templates (each with its version count) and the drop zone to submit a workflow. */
export function TemplateIndex() {
  useDocumentTitle('Templates');
  const templates = useTemplates();
  return (
    <section className="page templates-page" aria-labelledby="templates-heading">
      <h1 id="templates-heading">Templates</h1>
      <SubmitWorkflow />
      <section className="settings-section" aria-labelledby="templates-list-heading">
        <h2 id="templates-list-heading">Your templates</h2>
        {templates.isPending && <Loading label="Loading your templates" />}
        {templates.isError && (
          <ErrorNotice error={templates.error} title="Your templates could not be loaded" />
        )}
        {templates.isSuccess && templates.data.length === 0 && (
          <p className="muted">
            You have no templates yet. Submit a workflow above: its <code>workflow_id</code> names
            the template.
          </p>
        )}
        {templates.isSuccess && templates.data.length > 0 && (
          <div className="table-wrap">
            <table className="data-table">
              <caption className="visually-hidden">Your templates</caption>
              <thead>
                <tr>
                  <th scope="col">Template</th>
                  <th scope="col">Versions</th>
                  <th scope="col">Last changed</th>
                </tr>
              </thead>
              <tbody>
                {templates.data.map((template) => (
                  <tr key={template.workflow_template_id}>
                    <th scope="row">
                      <Link to={templatePath(template.workflow_template_name)}>
                        {template.workflow_template_name}
                      </Link>
                      {template.display_name !== null &&
                        template.display_name !== template.workflow_template_name && (
                          <span className="muted template-display-name">
                            {' '}
                            {template.display_name}
                          </span>
                        )}
                    </th>
                    <td>{template.version_count}</td>
                    <td>
                      <time dateTime={template.updated_at}>
                        {formatDateTime(template.updated_at)}
                      </time>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </section>
  );
}
