/**
 * The server's operator side: the operator path (`endpoint.ts`), bearer
 * tokens (`token_auth.ts`), the forward streams operators open
 * (`channel_handlers.ts`, `forward_params.ts`) and the `operators` config
 * keys (`config.ts`). Wire format in `docs/protocol.md` ("Operators").
 *
 * @module
 */

export { OperatorEndpoint, type OperatorEndpointDeps } from "./endpoint.ts";
export { OPERATOR_LIMITS, type OperatorLimits, parseOperatorLimits } from "./config.ts";
export {
  authenticateOperator,
  bearerToken,
  type OperatorAdmission,
  type OperatorAuthDeps,
  unauthorized,
} from "./token_auth.ts";
export {
  type OperatorChannelDeps,
  operatorHandlers,
  type OperatorPeer,
} from "./channel_handlers.ts";
export { type OperatorForward, parseOperatorForward } from "./forward_params.ts";
