// The one mapping from an extended-resource name (`hostplane.dev/fuse`) to
// the stem of the files we keep per resource (its socket, its CDI spec):
// '/' and anything else a file name should not hold become '_'.
export function resourceFileStem(resource: string): string {
  return `hostplane-${resource.replace(/[^A-Za-z0-9.-]/g, '_')}`;
}
