import { useParams } from 'react-router';
import { TemplateIndex } from '../templates/TemplateIndex';
import { TemplateView } from '../templates/TemplateView';
import '../templates/templates.css';

/**
 * Templates (`/templates`): the person's templates and the drop zone to submit a workflow; one
 * template (`/templates/:templateName`): its versions with dates and content hashes, and a form to
 * start a run with its initial state.
 */
export default function TemplatesPage() {
  const { templateName } = useParams();
  if (templateName === undefined || templateName === '') return <TemplateIndex />;
  // A new template name is a new page: its forms start afresh.
  return <TemplateView key={templateName} name={templateName} />;
}
