import { describe, expect, it } from 'vitest';
import { diffVersions } from '../src/runs/version-diff.js';
import { workflowDefinitionSchema, type WorkflowDefinition } from '../src/workflow/definition.js';

const module = (name: string, value: unknown = name, moduleId = 'transform.set') => ({
  module_id: moduleId,
  name,
  inputs: { value },
});
const workflow = (steps: Record<string, ReturnType<typeof module>[]>): WorkflowDefinition =>
  workflowDefinitionSchema.parse({
    workflow_id: 'w',
    steps: Object.entries(steps).map(([step_id, modules]) => ({ step_id, modules })),
  });

const v1 = workflow({
  a: [module('a1'), module('a2')],
  b: [module('b1'), module('b2')],
  c: [module('c1')],
});
const at = { step_id: 'b', module_name: 'b1' };

/** The structural part of the module changes (their text is checked in change-text.test.ts). */
const structure = (changes: ReturnType<typeof diffVersions>) =>
  changes.modules.map(({ text_changes: _text, ...rest }) => rest);

describe('diffVersions', () => {
  it('finds nothing between equal versions', () => {
    expect(diffVersions(v1, v1, at)).toEqual({
      position: at,
      position_exists: true,
      steps: [],
      modules: [],
    });
  });

  it('places changes before, at and after the position', () => {
    const v2 = workflow({
      a: [module('a1', 'changed'), module('a2')],
      b: [module('b1', 'b1', 'transform.template'), module('b2')],
      c: [module('c1', 'changed')],
    });
    const modules = structure(diffVersions(v1, v2, at));
    expect(modules).toEqual([
      {
        step_id: 'a',
        module_name: 'a1',
        change: 'changed',
        fields: ['inputs'],
        relation: 'before',
      },
      { step_id: 'b', module_name: 'b1', change: 'changed', fields: ['module_id'], relation: 'at' },
      { step_id: 'c', module_name: 'c1', change: 'changed', fields: ['inputs'], relation: 'after' },
    ]);
  });

  it('reports order changes, additions and removals', () => {
    const v2 = workflow({
      a: [module('a2'), module('a1')],
      b: [module('b1'), module('b3')],
      d: [module('d1')],
    });
    const changes = diffVersions(v1, v2, at);
    expect(changes.position_exists).toBe(true);
    expect(structure(changes)).toEqual(
      expect.arrayContaining([
        {
          step_id: 'a',
          module_name: 'a2',
          change: 'changed',
          fields: ['order'],
          relation: 'before',
        },
        {
          step_id: 'a',
          module_name: 'a1',
          change: 'changed',
          fields: ['order'],
          relation: 'before',
        },
        { step_id: 'b', module_name: 'b3', change: 'added', fields: [], relation: 'after' },
        { step_id: 'b', module_name: 'b2', change: 'removed', fields: [], relation: 'after' },
        { step_id: 'c', module_name: 'c1', change: 'removed', fields: [], relation: 'after' },
        { step_id: 'd', module_name: 'd1', change: 'added', fields: [], relation: 'after' },
      ]),
    );
    expect(changes.steps).toEqual(
      expect.arrayContaining([
        { step_id: 'a', change: 'changed', fields: ['modules'], relation: 'before' },
        { step_id: 'd', change: 'added', fields: [], relation: 'after' },
        { step_id: 'c', change: 'removed', fields: [], relation: 'after' },
      ]),
    );
  });

  it('says when the position is gone', () => {
    const v2 = workflow({ a: [module('a1'), module('a2')], c: [module('c1')] });
    const changes = diffVersions(v1, v2, at);
    expect(changes.position_exists).toBe(false);
    expect(changes.steps).toContainEqual({
      step_id: 'b',
      change: 'removed',
      fields: [],
      relation: 'at',
    });
    expect(structure(changes)).toContainEqual({
      step_id: 'b',
      module_name: 'b1',
      change: 'removed',
      fields: [],
      relation: 'at',
    });
    expect(structure(changes)).toContainEqual({
      step_id: 'b',
      module_name: 'b2',
      change: 'removed',
      fields: [],
      relation: 'after',
    });
  });

  it('notices moved steps', () => {
    const v2 = workflow({
      b: [module('b1'), module('b2')],
      a: [module('a1'), module('a2')],
      c: [module('c1')],
    });
    expect(diffVersions(v1, v2, at).steps).toEqual([
      { step_id: 'b', change: 'changed', fields: ['order'], relation: 'at' },
      { step_id: 'a', change: 'changed', fields: ['order'], relation: 'before' },
    ]);
  });
});
