/**
 * THE command registry. To add commands: write src/cli/commands/<group>.ts exporting a CommandSpec[] and add ONE
 * line below (imports are kept next to their line so parallel edits do not collide).
 */
import type { CommandSpec } from '../framework.js';
import { migrateCommands } from './migrate.js';
import { tenantCommands } from './tenant.js';
import { orderCommands } from './order.js';
import { numberCommands } from './number.js';
import { topUpCommands } from './topup.js';
import { balanceCommands } from './balance.js';
import { ratesCommands } from './rates.js';
import { cdrCommands } from './cdr.js';
import { billingCommands } from './billing.js';
import { demoCommands } from './demo.js';
import { networkCommands } from './network.js';
import { firewallCommands } from './firewall.js';
import { apiTokenCommands } from './api-token.js';
import { reconcileCommands } from './reconcile.js';
import { outboxCommands } from './outbox.js';
import { callsCommands } from './calls.js';
import { paymentCommands } from './payment.js';
import { calendarCommands } from './calendar.js';
import { billCommands } from './bill.js';
import { jobsCommands } from './jobs.js';
import { announcementCommands } from './announcements.js';
import { auditCommands } from './audit.js';
import { outageCommands } from './outage.js';
import { terminationCommands } from './termination.js';
import { noticeCommands } from './notice.js';

export const COMMANDS: CommandSpec[] = [
  ...migrateCommands,
  ...tenantCommands,
  ...orderCommands,
  ...numberCommands,
  ...topUpCommands,
  ...balanceCommands,
  ...ratesCommands,
  ...cdrCommands,
  ...billingCommands,
  ...demoCommands,
  ...networkCommands,
  ...firewallCommands,
  ...apiTokenCommands,
  ...reconcileCommands,
  ...outboxCommands,
  ...callsCommands,
  ...paymentCommands,
  ...calendarCommands,
  ...billCommands,
  ...jobsCommands,
  ...announcementCommands,
  ...auditCommands,
  ...outageCommands,
  ...terminationCommands,
  ...noticeCommands,
];
