import type { Aedes, Client, PublishPacket } from 'aedes';

/** The part of aedes' persistence (typed loosely by aedes) that finds offline subscribers. */
interface SubscriptionStore {
  subscriptionsByTopic(topic: string): Promise<unknown[]>;
  addSubscriptions(client: Client, subs: unknown[]): Promise<unknown>;
}

/** aedes' mqemitter: its Qlobber holds every online subscription. */
interface Emitter {
  _matcher?: { match(topic: string): unknown[] };
}

/** One client's last answer: `topic` had no subscriber at subscription generation `generation`. */
export interface RouteCheck {
  topic: string | undefined;
  generation: number;
  pending: boolean;
}

/** A fresh, empty check for a session. */
export function newRouteCheck(): RouteCheck {
  return { topic: undefined, generation: -1, pending: false };
}

/**
 * Lets a publish that no subscription could receive skip aedes' routing. For each QoS 1
 * publish aedes matches the topic twice (its offline queue and its emitter), runs four
 * steps of callbacks and two promises, and emits 'publish'; telemetry usually has no
 * subscriber at all, so that is work for nothing on the gateway's one thread.
 *
 * The answer is kept per client, for the last topic it asked about (a device publishes on
 * one topic), and holds until the next subscription anywhere: every subscription, online
 * (broker.subscribe) or stored for an offline session (persistence.addSubscriptions),
 * bumps a generation synchronously, before it can receive anything. A removed subscription
 * leaves a cached "has subscribers" stale, which costs only the routing it costs today.
 * The first publish after a change is routed as usual while the answer is looked up.
 * Retained publishes are always routed (aedes stores them for later subscribers).
 */
export class UnroutedPublishes {
  private generation = 0;
  private readonly matcher: Emitter['_matcher'];
  private readonly store: SubscriptionStore;

  constructor(broker: Aedes) {
    this.matcher = (broker as unknown as { mq: Emitter }).mq._matcher;
    this.store = (broker as unknown as { persistence: SubscriptionStore }).persistence;
    const subscribe = broker.subscribe.bind(broker);
    broker.subscribe = ((topic: string, ...rest: unknown[]) => {
      this.generation++;
      return (subscribe as (...a: unknown[]) => unknown)(topic, ...rest);
    }) as Aedes['subscribe'];
    const add = this.store.addSubscriptions.bind(this.store);
    this.store.addSubscriptions = (client, subs) => {
      this.generation++;
      return add(client, subs);
    };
  }

  /** True when `packet` may skip routing: nobody is subscribed to its topic, as last looked up for this client. */
  skippable(check: RouteCheck, packet: PublishPacket): boolean {
    if (packet.retain || this.matcher === undefined) return false;
    if (check.topic === packet.topic && check.generation === this.generation) return true;
    if (!check.pending) this.lookUp(check, packet.topic);
    return false;
  }

  private lookUp(check: RouteCheck, topic: string): void {
    const generation = this.generation;
    check.pending = true;
    this.store.subscriptionsByTopic(topic).then(
      (offline) => {
        check.pending = false;
        if (generation !== this.generation || offline.length > 0 || this.matcher!.match(topic).length > 0) return;
        check.topic = topic;
        check.generation = generation;
      },
      () => {
        check.pending = false;
      },
    );
  }
}
