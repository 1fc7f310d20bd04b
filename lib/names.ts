// The one rule for names we also use as file names, socket names or nft/ip
// identifiers (CNI network names, container ids, plugin types, CSI ids): an
// alphanumeric first character, then alphanumerics, '_', '.' and '-'. No '/'
// can appear, so a name can never climb out of the directory it names a file in.
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function isSafeName(s: string, maxLength = Number.POSITIVE_INFINITY): boolean {
  return s.length <= maxLength && SAFE_NAME.test(s);
}
