import { CoreV1Api, EventsV1Api, type KubeConfig, V1MicroTime, type V1Service } from "@kubernetes/client-node";
import { apiStatusCode } from "@sharedlb/kube";
import type { DesiredEvent } from "../domain/desired-status.js";
import { l7EventName } from "../domain/event-name.js";
import type { NodeNotice } from "../domain/serving-notices.js";

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

/** Events about cluster-scoped objects live in `default`, as the kubelet's Node Events do. */
const CLUSTER_SCOPED_EVENTS_NAMESPACE = "default";

/** Records events.k8s.io/v1 Events on Services (shown by `kubectl describe service`), L7 objects and Nodes. */
export class EventRecorder {
  private readonly events: EventsV1Api;
  private readonly core: CoreV1Api;

  constructor(
    kubeConfig: KubeConfig,
    private readonly instance: string,
  ) {
    this.events = kubeConfig.makeApiClient(EventsV1Api);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  /**
   * A Warning Event on a Node, shown by `kubectl describe node` (which matches the Node's
   * uid, hence the read). Named after the Node's uid and the note: recorded once however
   * many Services report the same refusal, and again when the address changes.
   */
  async recordOnNode(node: string, notice: NodeNotice): Promise<"recorded" | "exists" | "gone"> {
    let uid: string;
    let resourceVersion: string;
    try {
      const n = await this.core.readNode({ name: node });
      uid = n.metadata?.uid ?? "";
      resourceVersion = n.metadata?.resourceVersion ?? "";
    } catch (err) {
      if (apiStatusCode(err) === 404) return "gone";
      throw err;
    }
    const regarding = { apiVersion: "v1", kind: "Node", namespace: "", name: node, uid, resourceVersion };
    const created = await this.recordAbout(
      regarding,
      l7EventName(node, uid, `${notice.reason}|${notice.note}`),
      { type: "Warning", reason: notice.reason, note: notice.note },
      "Serve",
      CLUSTER_SCOPED_EVENTS_NAMESPACE,
    );
    return created ? "recorded" : "exists";
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
  async recordAbout(
    regarding: EventRegarding,
    name: string,
    event: EventContent,
    action: string,
    namespace: string = regarding.namespace,
  ): Promise<boolean> {
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
