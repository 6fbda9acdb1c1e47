/** resource_names (field 3, length-delimited) of a DiscoveryRequest, in its one-byte form. */
export const RESOURCE_NAMES_TAG = (3 << 3) | 2;

const MAX_LISTS = 32;

/**
 * The wire bytes of the SotW name lists the fleet's subscriptions were interned from
 * (Subscription.wireForm), most recently matched first. Every ACK of an Envoy repeats its
 * whole EDS list, 10,000 names and 400 KB; one that repeats a known list byte for byte is
 * matched with one memcmp instead of being walked name by name (at 100 streams a node
 * flap brings 100 such ACKs: 50-100 ms of the gateway's one thread).
 */
export class KnownNameLists {
  private lists: Buffer[] = [];

  remember(list: Buffer): void {
    if (list.byteLength === 0 || this.lists.includes(list)) return;
    this.lists.unshift(list);
    if (this.lists.length > MAX_LISTS) this.lists.pop();
  }

  /**
   * The known list that `buf` holds at `at`, as a whole run of names (the byte after it
   * starts no further name), or undefined.
   */
  match(buf: Uint8Array, at: number): Buffer | undefined {
    for (let i = 0; i < this.lists.length; i++) {
      const list = this.lists[i] as Buffer;
      const end = at + list.byteLength;
      if (end > buf.byteLength || buf[end] === RESOURCE_NAMES_TAG) continue;
      if (!list.equals(Buffer.from(buf.buffer, buf.byteOffset + at, list.byteLength))) continue;
      if (i > 0) {
        this.lists.splice(i, 1);
        this.lists.unshift(list);
      }
      return list;
    }
    return undefined;
  }
}
