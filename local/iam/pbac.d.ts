/** pbac (MIT) ships no types: the part of its API the evaluator uses. */
declare module 'pbac' {
  interface EvaluateOptions {
    readonly action: string;
    readonly resource: string;
    readonly context?: Record<string, unknown>;
  }
  class PBAC {
    constructor(policies: unknown, options?: { validateSchema?: boolean; validatePolicies?: boolean });
    evaluate(options: EvaluateOptions): boolean;
    filterPoliciesBy(options: EvaluateOptions & { effect: 'Allow' | 'Deny'; principal?: Record<string, unknown> }): unknown;
  }
  export default PBAC;
}
