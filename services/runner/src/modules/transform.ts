import { z } from 'zod';
import { builtInModuleDeclarations, type ExecutableModule } from '@stepwise/shared';

export const transformSet: ExecutableModule = {
  id: 'transform.set',
  ...builtInModuleDeclarations['transform.set'],
  interactive: false,
  outputs: z.object({ value: z.unknown() }),
  async execute(inputs) {
    return { value: inputs['value'] };
  },
};

export const transformTemplate: ExecutableModule = {
  id: 'transform.template',
  ...builtInModuleDeclarations['transform.template'],
  interactive: false,
  outputs: z.object({ text: z.string() }),
  // The runner has already rendered `template` as text (renderAs), so it is the output.
  async execute(inputs) {
    return { text: String(inputs['template']) };
  },
};
