/** Test access to the synthetic images the demo pack also uses. */
export * from '../../local/synthetic-images.ts';
