// Importing workflows of the original system (legacy.md, "Workflow definitions"): pure, so the
// CLI and the database migration share it.
export {
  originalWorkflowTranslationSchema,
  untranslatedItemSchema,
  type OriginalWorkflowTranslation,
  type TranslateOriginalWorkflowOptions,
  type UntranslatedItem,
} from './report.js';
export { translateOriginalWorkflow } from './translate-workflow.js';
export {
  translateOriginalInteractionRequest,
  type TranslatedInteractionRequest,
} from './interaction-requests.js';
export { convertJinjaTemplate, type TemplateConversion } from './templates.js';
