import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_MAX_INSPECTED_BODY_BYTES } from './bounded-body.js';
import {
  type DeploymentDescription,
  type DeploymentSelector,
  pinnedDeployment,
} from './deployment-selector.js';
import { writeGatewayError } from './gateway-errors.js';
import { type GatewayLimiter, type GatewayLimits, releaseOnClose } from './limits.js';
import { type OpenAiRoute, readAndResolveOpenAiModel } from './openai-model-resolver.js';
import type { ForwardResult, ReverseProxy } from './reverse-proxy.js';

/** A deployment as the gateway routes it: the selector's fields plus the model it serves. */
export interface GatewayDeployment extends DeploymentDescription {
  /** The model name clients use for this deployment on an OpenAI-compatible endpoint. */
  readonly model?: string;
}

/** An endpoint, resolved by the caller (the registry) before the gateway is asked to serve it. */
export interface GatewayEndpoint<D extends GatewayDeployment = GatewayDeployment> {
  /** The endpoint's resource name (ARN); the key of its limits and what audits name. */
  readonly resourceName: string;
  /**
   * `openai`: the endpoint declares an OpenAI-compatible API; the model each request names is
   * resolved (unknown routes refused) and selects among the deployments serving it.
   * `http`: any method and path is forwarded to a deployment chosen by weight or pin.
   */
  readonly api: 'openai' | 'http';
  readonly selector: DeploymentSelector<D>;
  /** Limits per (principal, endpoint); absent means unlimited. */
  readonly limits?: GatewayLimits;
  /** Most bytes buffered to read the model (OpenAI endpoints). Default 16 MiB. */
  readonly maxInspectedBodyBytes?: number;
}

/** What the gateway hands the authorization callback: everything the decision needs. */
export interface GatewayAuthorizationRequest<D extends GatewayDeployment = GatewayDeployment> {
  readonly endpoint: GatewayEndpoint<D>;
  readonly deployment: D;
  /** True when the caller pinned the deployment with `azureml-model-deployment`. */
  readonly pinned: boolean;
  /** The model the request names (OpenAI endpoints); undefined when it names none. */
  readonly model: string | undefined;
  /** The recognised route (OpenAI endpoints). */
  readonly route: OpenAiRoute | undefined;
  readonly requestId: string;
}

/** One call through the gateway. */
export interface GatewayCall<D extends GatewayDeployment = GatewayDeployment> {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Path and query below the endpoint's prefix, starting with `/`. */
  readonly path: string;
  /** The authenticated principal (its ARN); the other half of the limits key. */
  readonly principal: string;
  /**
   * Decides the call. Throw (NotAllowedError, 403) to refuse; the gateway writes the error.
   * Runs after the model and deployment are known and before anything reaches the upstream.
   */
  readonly authorize: (request: GatewayAuthorizationRequest<D>) => void | Promise<void>;
  /** Produces the `x-aiam-caller` JWT for the chosen deployment. */
  readonly callerStatement?: (request: GatewayAuthorizationRequest<D>) => string | Promise<string>;
  readonly requestId?: string;
}

/** How a call ended: forwarded (with the proxy's result) or refused before forwarding. */
export type GatewayOutcome =
  | {
      readonly kind: 'forwarded';
      readonly deployment: string;
      readonly model: string | undefined;
      readonly result: ForwardResult;
    }
  | { readonly kind: 'refused'; readonly requestId: string; readonly error: unknown };

/**
 * The gateway's forwarding core for one endpoint call, in the order that keeps it cheap and
 * closed: limits (429) → read and resolve the model (OpenAI endpoints: 400/404/413/415) →
 * choose the deployment (pin or weight, among those serving the model: 400/404/503) →
 * `authorize` (403) → forward (502/504 on upstream failure) → passive health. Authentication,
 * the registry and audit stay with the caller, which passes plain values in.
 *
 * @example
 * const gateway = new EndpointGateway(new ReverseProxy(), new GatewayLimiter());
 * await gateway.handle(endpoint, { req, res, path: '/v1/chat/completions', principal, authorize });
 */
export class EndpointGateway {
  readonly #proxy: ReverseProxy;
  readonly #limiter: GatewayLimiter;

  constructor(proxy: ReverseProxy, limiter: GatewayLimiter) {
    this.#proxy = proxy;
    this.#limiter = limiter;
  }

  /** Serves one call; never rejects (every refusal is written to the client and returned). */
  async handle<D extends GatewayDeployment>(
    endpoint: GatewayEndpoint<D>,
    call: GatewayCall<D>,
  ): Promise<GatewayOutcome> {
    const requestId = call.requestId ?? randomUUID();
    const { req, res } = call;
    const refuse = (error: unknown): GatewayOutcome => {
      // The rest of an unread body is not drained: close the connection after the answer.
      if (!req.complete) res.shouldKeepAlive = false;
      writeGatewayError(res, error, requestId);
      return { kind: 'refused', requestId, error };
    };
    try {
      if (endpoint.limits)
        releaseOnClose(this.#limiter.acquire(call.principal, endpoint.resourceName, endpoint.limits), res);
      let model: string | undefined;
      let route: OpenAiRoute | undefined;
      let body: Buffer | undefined;
      if (endpoint.api === 'openai') {
        const resolution = await readAndResolveOpenAiModel(
          req,
          call.path,
          endpoint.maxInspectedBodyBytes ?? DEFAULT_MAX_INSPECTED_BODY_BYTES,
        );
        ({ model, route, body } = resolution);
      }
      const pin = pinnedDeployment(req.headers);
      const deployment =
        model === undefined
          ? endpoint.selector.select(pin)
          : endpoint.selector.select(pin, (d) => d.model === model, `model '${model}'`);
      const decision: GatewayAuthorizationRequest<D> = {
        endpoint,
        deployment,
        pinned: pin !== undefined,
        model,
        route,
        requestId,
      };
      await call.authorize(decision);
      if (res.destroyed) return { kind: 'refused', requestId, error: new Error('client went away') };
      const statement = call.callerStatement;
      const result = await this.#proxy.forward({
        req,
        res,
        upstreamUrl: deployment.upstreamUrl,
        path: call.path,
        deploymentName: deployment.name,
        requestId,
        ...(body !== undefined ? { body } : {}),
        ...(statement ? { callerStatement: () => statement(decision) } : {}),
      });
      endpoint.selector.recordResult(deployment.name, result);
      return { kind: 'forwarded', deployment: deployment.name, model, result };
    } catch (error) {
      return refuse(error);
    }
  }
}
