/**
 * Announcement settings of a tenant (migration 050): the language of its prompts and whether its callers hear the
 * low-credit warning. SIP instances read them through their directory cache (within its TTL, 5 s).
 */
import { withTransaction } from '../db/tx.js';
import { recordAudit } from '../store/audit.js';
import { announcementSettings, updateAnnouncementSettings } from '../store/tenants.js';
import { LANGUAGES, type Language } from '../media/prompts.js';
import type { Actor, ServiceDeps } from './context.js';
import { tenantFor } from './common.js';
import { ForbiddenError, InputError } from './errors.js';

interface AnnouncementSettings {
  language: Language;
  lowCreditWarning: boolean;
}

interface SetAnnouncementsInput {
  /** tenant reference (code, id, #id) */
  tenant: string | bigint;
  language?: string;
  lowCreditWarning?: boolean;
}

interface SetAnnouncementsResult {
  tenantId: bigint;
  code: string;
  before: AnnouncementSettings;
  after: AnnouncementSettings;
}

/**
 * Change what is given (nothing given: read); audited in the same transaction when something changes. A tenant
 * actor reads and changes only its own (another tenant's looks missing: NotFoundError); a read-only operator only reads.
 */
export async function setTenantAnnouncements(deps: Pick<ServiceDeps, 'pool'>, actor: Actor, input: SetAnnouncementsInput): Promise<SetAnnouncementsResult> {
  if (input.language !== undefined && !(LANGUAGES as readonly string[]).includes(input.language)) {
    throw new InputError('language', `announcement language must be one of ${LANGUAGES.join(', ')}, got ${JSON.stringify(input.language)}`);
  }
  const writes = input.language !== undefined || input.lowCreditWarning !== undefined;
  if (writes && actor.readOnly) throw new ForbiddenError('changing announcement settings needs an operator-admin token; this one is read-only');
  return withTransaction(deps.pool, async (c) => {
    const who = await tenantFor(c, actor, input.tenant);
    const t = (await announcementSettings(c, who.id, writes))!;
    const before: AnnouncementSettings = { language: t.language, lowCreditWarning: t.lowCreditWarning };
    const after: AnnouncementSettings = {
      language: (input.language as Language | undefined) ?? before.language,
      lowCreditWarning: input.lowCreditWarning ?? before.lowCreditWarning,
    };
    if (after.language !== before.language || after.lowCreditWarning !== before.lowCreditWarning) {
      await updateAnnouncementSettings(c, t.id, after.language, after.lowCreditWarning);
      await recordAudit(c, { actor, action: 'tenant.announcements', targetType: 'tenant', targetId: t.id, tenantId: t.id, before, after });
    }
    return { tenantId: t.id, code: t.code, before, after };
  });
}
