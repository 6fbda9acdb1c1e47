import { EventsV1Api, type KubeConfig, V1MicroTime, type V1Service } from "@kubernetes/client-node";
import { apiStatusCode } from "@sharedlb/kube";
import type { DesiredEvent } from "../domain/desired-status.js";

export interface EventRegarding {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
}

export interface EventContent {
  type: "Normal" | "Warning";
  reason: string;
  note: string;
}

export const REPORTING_CONTROLLER = "sharedlb.io/status-reporter";

/** Records events.k8s.io/v1 Events on Services (shown by `kubectl describe service`). */
export class EventRecorder {
  private readonly events: EventsV1Api;

  constructor(
    kubeConfig: KubeConfig,
    private readonly instance: string,
  ) {
    this.events = kubeConfig.makeApiClient(EventsV1Api);
  }

  /** Resolves false when an Event of that name already exists (recorded before). */
  record(svc: V1Service, name: string, event: DesiredEvent): Promise<boolean> {
    const regarding = {
      apiVersion: "v1",
      kind: "Service",
      namespace: svc.metadata?.namespace ?? "",
      name: svc.metadata?.name ?? "",
      uid: svc.metadata?.uid ?? "",
      resourceVersion: svc.metadata?.resourceVersion ?? "",
    };
    return this.recordAbout(regarding, name, event, "Allocate");
  }

  /** An Event about any object (Gateway API kinds, Ingress); false when it already exists. */
  async recordAbout(regarding: EventRegarding, name: string, event: EventContent, action: string): Promise<boolean> {
    const namespace = regarding.namespace;
    try {
      await this.events.createNamespacedEvent({
        namespace,
        body: {
          metadata: { name, namespace },
          eventTime: new V1MicroTime(),
          reportingController: REPORTING_CONTROLLER,
          reportingInstance: this.instance.slice(0, 128),
          action,
          reason: event.reason,
          note: event.note,
          type: event.type,
          regarding,
        },
      });
      return true;
    } catch (err) {
      if (apiStatusCode(err) === 409) return false;
      throw err;
    }
  }
}
