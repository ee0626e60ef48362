/**
 * The API v1 route table, by area. Every route declares its role rule (config.access), its input schemas (validated:
 * a bad field is a 400 naming it) and its answers (the OpenAPI document). Handlers only parse, call one service
 * operation (src/services) and shape the answer.
 */
import type { FastifyInstance } from 'fastify';
import type { ServiceDeps } from '../../services/context.js';
import { registerTenantRoutes } from './tenants.js';
import { registerAccountRoutes } from './accounts.js';
import { registerNumberRoutes } from './numbers.js';
import { registerNetworkRoutes } from './network.js';
import { registerAdminRoutes } from './admin.js';
import { registerBillingRoutes } from './billing.js';
import { registerContractRoutes } from './contract.js';

export type ExtraRoutes = (app: FastifyInstance, services: ServiceDeps) => void;

export function registerApiRoutes(app: FastifyInstance, services: ServiceDeps, extra: ExtraRoutes[]): void {
  registerTenantRoutes(app, services);
  registerAccountRoutes(app, services);
  registerNumberRoutes(app, services);
  registerNetworkRoutes(app, services);
  registerAdminRoutes(app, services);
  registerBillingRoutes(app, services);
  registerContractRoutes(app, services);
  for (const add of extra) add(app, services);
}
