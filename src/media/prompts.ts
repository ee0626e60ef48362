/**
 * Prompt files: one per prompt and language, `<dir>/<language>/<prompt>.wav` (8 kHz mono 16-bit PCM, what
 * FreeSWITCH plays without resampling). `npm run prompts` (scripts/make-prompts.sh) generates the defaults into
 * the project's prompts/ folder; a carrier replaces them with recorded files in MEDIA_PROMPTS_DIR. The path is the
 * one the media server sees: FreeSWITCH opens the file, not this process.
 */
import type { PromptLabel } from '../observability/metrics.js';
import { projectPath } from '../util/paths.js';

export type PromptName = PromptLabel;
export const PROMPTS: readonly PromptName[] = ['no_balance', 'outside_hours', 'tenant_suspended', 'low_credit'];

export type Language = 'zh' | 'en';
export const LANGUAGES: readonly Language[] = ['zh', 'en'];
export const DEFAULT_LANGUAGE: Language = 'zh';

/** The default prompts folder (generated, not committed). */
function defaultPromptsDir(): string {
  return projectPath('prompts');
}

export function promptFile(dir: string, prompt: PromptName, language: Language): string {
  return `${dir || defaultPromptsDir()}/${language}/${prompt}.wav`;
}
