import { describe, expect, it } from 'vitest';
import { ChangeTextBudget, moduleTextChanges } from '../src/runs/change-text.js';
import { describeVersionChange } from '../src/runs/version-change-view.js';
import { workflowDefinitionSchema } from '../src/workflow/definition.js';

const prompt = (scene: string) =>
  `Write a caption for a short clip.\nScene: ${scene}\nTone: playful\nKeep it under 80 characters.\n`;

describe('the changed text of a module', () => {
  it('diffs a prompt line by line, even nested in a list of messages', () => {
    const before = {
      module_id: 'llm.generate',
      inputs: {
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: prompt('{{ state.idea }}') },
        ],
      },
    };
    const after = {
      module_id: 'llm.generate',
      inputs: {
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: prompt('{{ state.idea | upcase }}') },
        ],
      },
    };
    expect(moduleTextChanges(before, after)).toEqual([
      {
        field: 'inputs.messages[1].content',
        diff: [
          '--- inputs.messages[1].content (current version)',
          '+++ inputs.messages[1].content (submitted version)',
          '@@ -1,4 +1,4 @@',
          ' Write a caption for a short clip.',
          '-Scene: {{ state.idea }}',
          '+Scene: {{ state.idea | upcase }}',
          ' Tone: playful',
          ' Keep it under 80 characters.',
          '',
        ].join('\n'),
      },
    ]);
  });

  it('shows an added input, a removed one and a changed setting, and nothing that stayed', () => {
    const changes = moduleTextChanges(
      { module_id: 'transform.set', inputs: { value: 1, gone: 'old text' }, when: 'state.a' },
      { module_id: 'transform.set', inputs: { value: 1, fresh: 'new text' }, when: 'state.b' },
    );
    expect(changes.map((change) => change.field)).toEqual(['inputs.gone', 'inputs.fresh', 'when']);
    expect(changes[0]?.diff).toContain('+++ /dev/null');
    expect(changes[0]?.diff).toContain('-old text');
    expect(changes[1]?.diff).toContain('--- /dev/null');
    expect(changes[1]?.diff).toContain('+new text');
    expect(changes[2]?.diff).toContain('-state.a\n+state.b');
  });

  it('tells apart values that read the same: a string and a number, a final newline', () => {
    const [typeChange, newline] = moduleTextChanges(
      { inputs: { count: '1', text: 'abc' } },
      { inputs: { count: 1, text: 'abc\n' } },
    );
    expect(typeChange).toMatchObject({ field: 'inputs.count' });
    expect(typeChange?.diff).toContain('-"1"\n+1\n');
    expect(newline).toMatchObject({ field: 'inputs.text' });
    expect(newline?.diff).toContain('-"abc"\n+"abc\\n"\n');
  });

  it('does not diff a text too long to diff, and stops at the answer budget', () => {
    const [long] = moduleTextChanges(
      { inputs: { text: 'a'.repeat(150_000) } },
      { inputs: { text: 'b'.repeat(150_000) } },
    );
    expect(long?.diff).toMatch(
      /too long to diff line by line \(15000\d characters before, 15000\d after\)/,
    );

    const budget = new ChangeTextBudget(100);
    const changes = moduleTextChanges(
      { inputs: { first: 'x'.repeat(80), second: 'old' } },
      { inputs: { first: 'y'.repeat(80), second: 'new' } },
      budget,
    );
    expect(changes[0]?.diff).toContain('+' + 'y'.repeat(80));
    expect(changes[1]?.diff).toContain("not shown: this answer's change text reached its limit");
    expect(budget.spent).toBe(true);
  });

  it('summarises a rewrite instead of diffing it line by line', () => {
    const lines = (letter: string) =>
      Array.from({ length: 5_000 }, (_, i) => `${letter}${i}`).join('\n');
    const [change] = moduleTextChanges(
      { inputs: { text: lines('a') } },
      { inputs: { text: lines('b') } },
    );
    expect(change?.diff).toContain(
      'rewritten: more than 1000 lines differ (5000 lines before, 5000 after)',
    );
  });

  it('keeps a long diff bounded', () => {
    // 400 long lines each changed: 800 edits, within what is diffed, and some 80,000 characters.
    const big = (letter: string) =>
      Array.from({ length: 400 }, (_, i) => `${letter.repeat(100)} ${i}`).join('\n');
    const [change] = moduleTextChanges(
      { inputs: { text: big('a') } },
      { inputs: { text: big('b') } },
    );
    expect(change?.diff.length).toBeLessThan(20_200);
    expect(change?.diff).toMatch(/the diff goes on: \d+ more characters/);
  });
});

const flow = (prompts: { draft: string; review: string }, extra: unknown[] = []) =>
  workflowDefinitionSchema.parse({
    workflow_id: 'captions',
    steps: [
      {
        step_id: 'start',
        modules: [{ module_id: 'transform.set', name: 'seed', inputs: { value: 'x' } }],
      },
      {
        step_id: 'draft',
        modules: [
          { module_id: 'transform.template', name: 'render', inputs: { template: prompts.draft } },
        ],
      },
      {
        step_id: 'review',
        modules: [
          { module_id: 'user.confirm', name: 'approve', inputs: { message: prompts.review } },
          ...extra,
        ],
      },
    ],
  });

describe('a version change placed against the run', () => {
  it("without the run's module in the new version: restart in its step, no plain continue", () => {
    const current = flow({ draft: 'Same', review: 'OK?' }, [
      { module_id: 'user.confirm', name: 'second', inputs: { message: 'Again?' } },
    ]);
    const submitted = flow({ draft: 'Same', review: 'OK?' }, [
      { module_id: 'user.confirm', name: 'third', inputs: { message: 'Again?' } },
    ]);
    const view = describeVersionChange({
      current,
      submitted,
      currentVersionId: 'ver_1',
      submittedVersionId: 'ver_2',
      position: { step_id: 'review', module_name: 'second' },
    });
    expect(view.changes.position_exists).toBe(false);
    expect(view.suggested_restart_at).toBe('review');
    expect(view.options).toEqual(['restart_at', 'continue_with_original', 'start_fresh']);
    expect(view.warning).toContain('which the submitted version does not have');
  });

  it('for a run that has ended, offers only a fresh start', () => {
    const view = describeVersionChange({
      current: flow({ draft: 'Old', review: 'OK?' }),
      submitted: flow({ draft: 'New', review: 'OK?' }),
      currentVersionId: 'ver_1',
      submittedVersionId: 'ver_2',
      // Where it stood when it ended: the changed draft lies behind, and still only a fresh start applies.
      position: { step_id: 'review', module_name: 'approve' },
      finished: true,
    });
    expect(view.options).toEqual(['start_fresh']);
    expect(view.warning).toBe(
      'The run has ended: only starting a fresh run on this version applies (branch from an earlier event to reopen the run).',
    );
    expect(view.suggested_restart_at).toBeNull();
  });

  const position = { step_id: 'review', module_name: 'approve' };
  const ids = { currentVersionId: 'ver_1', submittedVersionId: 'ver_2', position };

  it('warns about a change behind the position and offers restart_at first, at its step', () => {
    const view = describeVersionChange({
      ...ids,
      current: flow({ draft: 'Old prompt', review: 'OK?' }),
      submitted: flow({ draft: 'New prompt', review: 'OK?' }),
    });
    expect(view.options).toEqual([
      'restart_at',
      'continue_with_new',
      'continue_with_original',
      'start_fresh',
    ]);
    expect(view.suggested_restart_at).toBe('draft');
    expect(view.behind_position).toEqual([
      {
        step_id: 'draft',
        module_name: 'render',
        change: 'changed',
        message:
          'draft.render changed (inputs) and the run has passed it: continuing with the new version will not run it again',
      },
    ]);
    expect(view.warning).toBe(
      "1 change lies behind the run's position (review.approve): continuing with the new version keeps what the run already did with the old one. Restart at step 'draft' to apply it.",
    );
    expect(view.changes.modules[0]?.text_changes[0]?.diff).toContain('-Old prompt\n+New prompt');
  });

  it('has no warning when every change is at or after the position', () => {
    const view = describeVersionChange({
      ...ids,
      current: flow({ draft: 'Same', review: 'OK?' }),
      submitted: flow({ draft: 'Same', review: 'Really OK?' }, [
        { module_id: 'transform.set', name: 'after', inputs: { value: 1 } },
      ]),
    });
    expect(view.options).toEqual(['continue_with_new', 'continue_with_original', 'start_fresh']);
    expect(view.behind_position).toEqual([]);
    expect(view.suggested_restart_at).toBeNull();
    expect(view.warning).toBeNull();
    expect(view.changes.modules.map((m) => [m.module_name, m.relation])).toEqual([
      ['approve', 'at'],
      ['after', 'after'],
    ]);
  });
});
