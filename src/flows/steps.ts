import type Router from '@koa/router';
import type { Context } from 'koa';
import type { FlowDeps } from './engine.ts';
import type { Flow, Step } from './flow.ts';

/** One flow module: how it renders its steps and the POST routes that act on them. */
export interface FlowModule {
  views: Partial<Record<Step, (deps: FlowDeps, ctx: Context, flow: Flow) => Promise<void>>>;
  routes(router: Router, deps: FlowDeps): void;
}

/** Common data for every flow page. */
export function pageData(deps: FlowDeps, flow: Flow): Record<string, unknown> {
  return { flowId: flow.id, idleSeconds: deps.flows.idleMs / 1000, error: flow.error, fieldErrors: flow.fieldErrors ?? {} };
}
