/**
 * asl-validator's JS API (a CommonJS module without type declarations), with path and ARN
 * checks on, as its CLI runs by default.
 */
import { createRequire } from 'node:module';

interface AslValidation {
  readonly isValid: boolean;
  errorsText(separator?: string): string;
}
type AslValidator = (definition: unknown, options?: { checkPaths: boolean; checkArn: boolean }) => AslValidation;

const validator = createRequire(import.meta.url)('asl-validator') as AslValidator;

/** Validates a copy: the validator writes defaults (QueryLanguage) into what it reads. */
export function validateAsl(text: string): { readonly valid: boolean; readonly errors: string } {
  const result = validator(JSON.parse(text), { checkPaths: true, checkArn: true });
  return { valid: result.isValid, errors: result.errorsText('\n') };
}
