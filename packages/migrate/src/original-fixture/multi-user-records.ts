import { join } from 'node:path';
import type { BulkWriter } from './bulk-writer.js';
import { mediaBytes } from './media-bytes.js';
import type { SeededRandom } from './random.js';
import type {
  SimulatedBranch,
  SimulatedLlmCall,
  SimulatedMediaGeneration,
} from './simulator-types.js';

/** Documents the multi-user generation derives from a simulated run's usage, files and media. */

/** Micro-dollar rates so costs are exact decimals. */
function cost(tokens: number, microDollarsPerToken: number): number {
  return Math.round(tokens * microDollarsPerToken) / 1_000_000;
}

/** One tokens record in the provider-node format with a dotted key (§6.1). */
export function llmTokenRecord(call: SimulatedLlmCall): Record<string, unknown> {
  const base = {
    workflow_run_id: call.run_id,
    timestamp: call.at,
    step_id: call.step_id,
    step_name: call.step_name,
    module_name: call.module_name,
    module_index: call.module_index,
  };
  if (call.provider === 'anthropic') {
    const input = cost(call.prompt_tokens, 3);
    const output = cost(call.completion_tokens, 15);
    const cacheRead = cost(call.cached_tokens, 0.3);
    return {
      ...base,
      'llm.anthropic': {
        model: call.model,
        input_tokens: call.prompt_tokens,
        input_token_cost: input,
        output_tokens: call.completion_tokens,
        output_token_cost: output,
        cache_read_tokens: call.cached_tokens,
        cache_read_token_cost: cacheRead,
        cache_creation_tokens: 0,
        cache_creation_token_cost: 0,
        total_tokens: call.total_tokens,
        total_cost: Math.round((input + output + cacheRead) * 1_000_000) / 1_000_000,
      },
    };
  }
  const prompt = cost(call.prompt_tokens, 1.25);
  const completion = cost(call.completion_tokens, 10);
  const cached = cost(call.cached_tokens, 0.125);
  return {
    ...base,
    'llm.openai': {
      model: call.model,
      prompt_tokens: call.prompt_tokens,
      prompt_token_cost: prompt,
      completion_tokens: call.completion_tokens,
      completion_token_cost: completion,
      cached_tokens: call.cached_tokens,
      cached_token_cost: cached,
      total_tokens: call.total_tokens,
      total_cost: Math.round((prompt + completion + cached) * 1_000_000) / 1_000_000,
    },
  };
}

export function mediaTokenRecord(generation: SimulatedMediaGeneration): Record<string, unknown> {
  const base = {
    workflow_run_id: generation.run_id,
    timestamp: generation.completed_at,
    step_id: generation.step_id,
    step_name: generation.step_name,
    module_name: generation.module_name,
    module_index: generation.module_index,
  };
  if (generation.provider === 'elevenlabs') {
    return {
      ...base,
      'media.elevenlabs': {
        model: 'music_v1',
        action_type: generation.operation,
        audio_type: 'music',
        total_cost: generation.total_cost,
        characters: generation.prompt.length,
      },
    };
  }
  const model = generation.provider === 'midjourney' ? 'midjourney-v7' : 'leonardo-motion-2';
  return {
    ...base,
    [`media.${generation.provider}`]: {
      model,
      action_type: generation.operation,
      credits: generation.credits,
      total_cost: generation.total_cost,
    },
  };
}

/** The api_calls files of one LLM call (§2.7: request, schema, metadata, response, extracted text). */
export function apiCallFiles(call: SimulatedLlmCall): Record<string, unknown>[] {
  const stamp = call.at.toISOString().replace(/[-:]/g, '').replace('T', '_').replace(/\..*/, '');
  const groupId = `${call.step_id}_${call.provider}_${stamp}_${String(call.at.getUTCMilliseconds() * 1000).padStart(6, '0')}`;
  const file = (
    filename: string,
    contentType: 'json' | 'text',
    content: unknown,
    role: string,
  ) => ({
    workflow_run_id: call.run_id,
    branch_id: call.branch_id,
    category: 'api_calls',
    group_id: groupId,
    filename,
    content_type: contentType,
    content,
    metadata: {
      step_id: call.step_id,
      provider: call.provider,
      model: call.model,
      file_role: role,
    },
    created_at: call.at,
  });
  return [
    file(
      'request.json',
      'json',
      { ...call.request, input: { $ref: 'input_0_content.txt', type: 'text' } },
      'request',
    ),
    file('input_0_content.txt', 'text', String(call.request['input'] ?? ''), 'input'),
    file('schema.json', 'json', { type: 'object' }, 'schema'),
    file(
      'metadata.json',
      'json',
      {
        step_id: call.step_id,
        provider: call.provider,
        model: call.model,
        timestamp: call.at.toISOString(),
      },
      'metadata',
    ),
    file(
      'response.json',
      'json',
      {
        ...call.response,
        _usage: {
          prompt_tokens: call.prompt_tokens,
          completion_tokens: call.completion_tokens,
          total_tokens: call.total_tokens,
        },
        _error: null,
      },
      'response',
    ),
  ];
}

export function branchDocument(
  runId: string,
  branch: SimulatedBranch,
  format: 'lineage' | 'converted' | 'old',
): Record<string, unknown> {
  if (format === 'old')
    return {
      branch_id: branch.branch_id,
      workflow_run_id: runId,
      parent_branch_id: branch.parent_branch_id,
      parent_event_id: branch.parent_event_id,
      created_at: branch.created_at,
    };
  const doc: Record<string, unknown> = {
    branch_id: branch.branch_id,
    workflow_run_id: runId,
    lineage: branch.lineage,
    created_at: branch.created_at,
  };
  // Branches converted by _migrate_branch_to_lineage keep their old parent pointers (§3.2).
  if (format === 'converted')
    Object.assign(doc, {
      parent_branch_id: branch.parent_branch_id,
      parent_event_id: branch.parent_event_id,
    });
  return doc;
}

/** task_queue task, content_generation_metadata, generated_content and the files on disk (§2.14, §6.2, §6.3). */
export async function writeGeneration(
  writer: BulkWriter,
  generation: SimulatedMediaGeneration,
  mediaDir: string,
  absolutePaths: boolean,
  random: SeededRandom,
): Promise<number> {
  const params = { prompt: generation.prompt, count: generation.contents.length };
  await writer.add(
    'task_queue',
    {
      task_id: generation.task_id,
      actor: 'media',
      status: 'completed',
      priority: 0,
      concurrency_identifier: generation.provider,
      concurrency_limit: 2,
      payload: {
        workflow_run_id: generation.run_id,
        interaction_id: generation.interaction_id,
        provider: generation.provider,
        action_type: generation.operation,
        prompt_id: generation.prompt_id,
        params,
        source_data: null,
      },
      result: {
        metadata_id: generation.metadata_id,
        content_ids: generation.contents.map((c) => c.content_id),
      },
      response: null,
      error: null,
      progress: {
        elapsed_ms: generation.completed_at.getTime() - generation.created_at.getTime(),
        message: 'completed',
        updated_at: generation.completed_at,
      },
      created_at: generation.created_at,
      started_at: generation.created_at,
      completed_at: generation.completed_at,
      worker_id: 'worker-1',
      heartbeat_at: generation.completed_at,
      retry_count: 0,
      max_retries: 3,
    },
    generation.created_at,
  );
  await writer.add(
    'content_generation_metadata',
    {
      content_generation_metadata_id: generation.metadata_id,
      workflow_run_id: generation.run_id,
      interaction_id: generation.interaction_id,
      provider: generation.provider,
      provider_task_id: random.hex(24),
      prompt_id: generation.prompt_id,
      operation: generation.operation,
      created_at: generation.created_at,
      completed_at: generation.completed_at,
      status: 'completed',
      request_params: params,
      source_data: null,
      response_data: { id: random.hex(16), status: 'COMPLETE' },
      error_message: null,
    },
    generation.created_at,
  );
  for (const content of generation.contents) {
    const filename = `${generation.metadata_id}_${content.content_id}_${content.index}.${content.extension}`;
    const relative = `${content.folder}/${filename}`;
    const doc: Record<string, unknown> = {
      generated_content_id: content.content_id,
      workflow_run_id: generation.run_id,
      content_generation_metadata_id: generation.metadata_id,
      index: content.index,
      provider_content_id: content.content_type === 'video.preview' ? '' : random.hex(20),
      content_type: content.content_type,
      provider_url:
        content.content_type === 'video.preview'
          ? ''
          : `https://cdn.${generation.provider}.example/${random.hex(16)}.${content.extension}`,
      extension: content.extension,
      // Relative after m_11; runs from before it keep the absolute path under the media base (§6.3).
      local_path: absolutePaths ? join(mediaDir, relative) : relative,
      downloaded_at: generation.completed_at,
      seed: content.seed,
    };
    if (content.preview_content_id) doc['preview_content_id'] = content.preview_content_id;
    await writer.add('generated_content', doc, generation.completed_at);
    await writer.writeFileBytes(
      join(mediaDir, relative),
      mediaBytes(content.content_id, content.extension),
    );
  }
  return generation.contents.length;
}
