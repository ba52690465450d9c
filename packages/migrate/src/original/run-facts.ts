/** What a migrated run hands to what refers to it: usage, files, a sub-action's child run. */
export interface MigratedRunFacts {
  userId: string;
  templateId: string;
  versionId: string;
  projectName: string;
  /** The run's active branch: usage and files of the original name no branch. */
  branchId: string;
}
