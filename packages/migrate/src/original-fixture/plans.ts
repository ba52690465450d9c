import type { SeededRandom } from './random.js';
import type { RunPlan } from './simulator-types.js';
import type { OriginalGeneration } from './workflow-definition.js';

/**
 * What happens to run number `index`. A fixed cycle of scenarios guarantees that every event
 * type, status and shape occurs even in a 50-run fixture; randomness varies the details.
 */
export function planFor(
  index: number,
  generation: OriginalGeneration,
  random: SeededRandom,
): RunPlan {
  const multiUser = generation === 'multi-user';
  const plan: RunPlan = {
    outcome: 'completed',
    stopAt: null,
    retries: 0,
    jumps: 0,
    resumeAt: null,
    resumeToVersionId: null,
    recoverAtDirection: false,
    forceNewReset: random.chance(0.04),
    llmProvider: random.chance(0.25) ? 'anthropic' : 'openai',
  };
  if (random.chance(0.08)) plan.resumeAt = random.pick(['select_pet_type', 'select_scene']);
  switch (index % 12) {
    case 0:
      break;
    case 1:
      plan.retries = random.int(1, 2);
      break;
    case 2:
      plan.jumps = 1;
      plan.retries = random.int(0, 1);
      break;
    case 3:
      Object.assign(plan, { outcome: 'waiting', stopAt: 'select_pet_type', resumeAt: null });
      break;
    case 4:
      Object.assign(plan, { outcome: 'waiting', stopAt: 'get_user_direction', resumeAt: null });
      break;
    case 5:
      Object.assign(plan, {
        outcome: 'waiting',
        stopAt: 'select_scene',
        retries: 1,
        jumps: random.int(0, 1),
      });
      break;
    case 6:
      Object.assign(plan, {
        outcome: 'error',
        stopAt: random.pick(['generate_scenes', 'generate_image_prompts']),
      });
      break;
    case 7:
      Object.assign(plan, {
        outcome: 'processing',
        stopAt: random.pick(['generate_scenes', 'generate_image_prompts']),
      });
      break;
    case 8:
      Object.assign(plan, { outcome: 'created', resumeAt: null });
      break;
    case 9:
      Object.assign(plan, { resumeAt: 'select_pet_type', forceNewReset: true });
      break;
    case 10:
      if (multiUser) plan.recoverAtDirection = true;
      else plan.jumps = 2;
      if (random.chance(0.5)) Object.assign(plan, { outcome: 'waiting', stopAt: 'select_scene' });
      break;
    default:
      // Multi-user: waiting at a media question (awaiting input, but not a select/text question).
      // Single-user: waiting at the review select after a jump.
      Object.assign(
        plan,
        multiUser
          ? { outcome: 'waiting', stopAt: 'generate_and_select_videos', jumps: random.int(0, 1) }
          : { outcome: 'waiting', stopAt: 'review_image_prompts', jumps: 1 },
      );
      break;
  }
  return plan;
}
