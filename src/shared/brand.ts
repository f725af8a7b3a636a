/**
 * Marks every error a class makes, whichever copy of its module made it: `instanceof` fails across
 * copies (a bundle, a second install), a registered symbol on the prototype does not, and costs an
 * error nothing to carry. Returns the brand, for `hasBrand`.
 */
export function brandErrors(errorClass: { prototype: Error }, name: string): symbol {
  const brand = Symbol.for(`greenlight.${name}`);
  Object.defineProperty(errorClass.prototype, brand, { value: true });
  return brand;
}

/** Whether a value is an error of the class `brand` was made for. */
export function hasBrand(value: unknown, brand: symbol): boolean {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}
