/** A Kubernetes Event sharedlb wants on an L7 object. */
export interface L7Event {
  type: "Normal" | "Warning";
  reason: string;
  note: string;
  /**
   * What makes this Event one of its own (with the object's uid and generation): the same
   * refusal seen again by a later pass, or after a restart, is not recorded twice.
   */
  id: string;
}

const NOTE_MAX = 1000;

export function warning(reason: string, note: string, id: string): L7Event {
  return { type: "Warning", reason, note: note.length > NOTE_MAX ? `${note.slice(0, NOTE_MAX - 1)}…` : note, id };
}
