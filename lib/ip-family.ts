// The address family of an address or CIDR that has already been validated
// (only IPv6 text contains ':'): one place for the sniff the CNI, the agent
// and the routing code all need.
export type Family = 4 | 6;

export function familyOf(addressOrCidr: string): Family {
  return addressOrCidr.includes(':') ? 6 : 4;
}
